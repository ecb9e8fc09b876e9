"""The authors' Hub CSV format for Sudoku and Maze: `source,question,answer,rating`, one puzzle per line."""

from __future__ import annotations

import csv
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tqdm import tqdm


HEADER = ["source", "question", "answer", "rating"]


class PuzzleFormatError(ValueError):
    """A malformed source row or task; the message names the file (or task), the line and the reason."""


class PuzzleRow(NamedTuple):
    """One puzzle as in the CSV; `question` and `answer` stay strings (an 81-digit answer overflows an int)."""

    source: str
    question: str
    answer: str
    rating: int


def take_distinct(
    stream: Iterable[PuzzleRow], n: int, what: str, progress: bool, max_duplicates_in_a_row: int = 1000
) -> list[PuzzleRow]:
    """The first `n` rows of `stream` with distinct questions.

    A generator can only make so many distinct puzzles of a kind (a 4x4 Sudoku with 15 clues has few), so after
    `max_duplicates_in_a_row` repeats without a new one this stops with a `ValueError` instead of looping forever.
    """
    if n < 1:
        raise ValueError(f"number of {what} must be at least 1, got {n}")
    rows, seen, repeats = [], set(), 0
    for row in tqdm(stream, total=n, disable=not progress, desc=f"Generating {what}"):
        if row.question in seen:
            repeats += 1
            if repeats == max_duplicates_in_a_row:
                raise ValueError(
                    f"only {len(rows)} distinct {what} of this kind found ({repeats} repeats in a row), "
                    f"{n} requested: ask for fewer or change the size or clue settings"
                )
            continue
        seen.add(row.question)
        rows.append(row)
        repeats = 0
        if len(rows) == n:
            break
    return rows


# Returns why a (question, answer) pair is malformed, or None when it is fine.
RowValidator = Callable[[str, str], "str | None"]


def read_puzzle_csv(path: str | Path, validate: RowValidator, skip_invalid: bool = False) -> list[PuzzleRow]:
    """Read and validate every row of `path`.

    A malformed row raises `PuzzleFormatError` naming file, line and reason; with `skip_invalid` such rows are
    dropped and counted in one warning instead.
    """
    rows, skipped, first_error = [], 0, ""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # a byte-order mark is not part of the header
            reader = csv.reader(f)
            header = next(reader, None)
            if header != HEADER:
                raise PuzzleFormatError(f"{path}:1: header must be {','.join(HEADER)}, got {header}")
            for record in tqdm(reader, desc=f"Reading {Path(path).name}", unit=" rows"):
                reason = _row_problem(record, validate)
                if reason is None:
                    source, question, answer, rating = record
                    rows.append(PuzzleRow(source, question, answer, int(rating or 0)))
                    continue
                message = f"{path}:{reader.line_num}: {reason}"
                if not skip_invalid:
                    raise PuzzleFormatError(message)
                skipped, first_error = skipped + 1, first_error or message
    except UnicodeDecodeError as error:
        raise PuzzleFormatError(f"{path}: not UTF-8 text ({error})") from None
    if not rows:
        raise PuzzleFormatError(
            f"{path}: no puzzle rows" + (f" ({skipped} invalid rows skipped, first: {first_error})" if skipped else "")
        )
    if skipped:
        warnings.warn(f"Skipped {skipped} invalid rows of {path} (first: {first_error})", stacklevel=2)
    return rows


def _row_problem(record: list[str], validate: RowValidator) -> str | None:
    if len(record) != len(HEADER):
        return f"expected {len(HEADER)} fields ({','.join(HEADER)}), got {len(record)}"
    _, question, answer, rating = record
    try:
        int(rating or 0)
    except ValueError:
        return f"field 'rating' must be an integer, got {rating!r}"
    return validate(question, answer)


def write_puzzle_csv(path: str | Path, rows: Iterable[PuzzleRow]) -> None:
    """Write rows in the authors' CSV format."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows)


def character_codes(texts: Sequence[str]) -> np.ndarray:
    """[len(texts), length] uint8 codes of equal-length ASCII strings."""
    if not texts:
        return np.zeros((0, 0), dtype=np.uint8)
    return np.frombuffer("".join(texts).encode(), dtype=np.uint8).reshape(len(texts), -1)
