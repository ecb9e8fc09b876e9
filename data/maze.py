"""Maze: validation of source rows, encoding and the optional 8 dihedral augmentations.

Tokens come from the maze codec of `tokenization_hrm` (`# SGo`: wall, open, start, goal, path -> 1..5, vocab 6);
the question has no path, the answer marks the shortest path from S to G with `o`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from math import isqrt
from pathlib import Path

import numpy as np
from datasets import DatasetDict
from tqdm import tqdm

from ..tokenization_hrm import MAZE_CHARS, MAZE_VOCAB_SIZE, maze_tokens
from .builder import PuzzleGroup, build_puzzle_dataset
from .dihedral import NUM_DIHEDRAL, dihedral_transform
from .maze_generator import shortest_paths
from .metadata import PuzzleDatasetMetadata
from .puzzle_csv import PuzzleRow, character_codes, problem_in_charset


def validate_row(question: str, answer: str, side: int = 30) -> str | None:
    """Why a question/answer pair is not a `side` x `side` maze with its marked path, or None."""
    cells = side * side
    problem = problem_in_charset("question", question, cells, MAZE_CHARS[:4]) or problem_in_charset(
        "answer", answer, cells, MAZE_CHARS
    )
    if problem:
        return problem
    for mark in "SG":
        if question.count(mark) != 1:
            return f"field 'question' must have exactly one {mark}, got {question.count(mark)}"
    for cell, (q, a) in enumerate(zip(question, answer, strict=True)):
        if q != a and not (q == " " and a == "o"):
            return f"field 'answer' has {a!r} where the question has {q!r} (row {cell // side + 1}, column {cell % side + 1})"
    return path_problem(question, answer, side)


def path_problem(question: str, answer: str, side: int) -> str | None:
    """Why the `o` cells of `answer` are not a shortest path from S to G through the open cells of `question`, or
    None. Its length is checked first: a path of exactly the shortest length that connects S to G is a shortest one."""
    start, goal = question.index("S"), question.index("G")
    shortest = shortest_paths([char != "#" for char in question], side, start)[0][goal]
    if shortest < 0:
        return "field 'question' has no path from S to G"
    marked = answer.count("o")
    if marked != shortest - 1:
        return f"field 'answer' marks {marked} path cells, but the shortest path from S to G has {shortest - 1}"
    along_path = shortest_paths([char in "SGo" for char in answer], side, start)[0][goal]
    if along_path != shortest:
        return "field 'answer' does not mark a connected path from S to G"
    return None


def encode_rows(rows: Sequence[PuzzleRow]) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, labels) token arrays of shape [len(rows), cells] (uint8)."""
    return maze_tokens(character_codes([r.question for r in rows])), maze_tokens(
        character_codes([r.answer for r in rows])
    )


def maze_groups(rows: Sequence[PuzzleRow], dihedral_aug: bool) -> Iterator[PuzzleGroup]:
    """One group per row: the maze, plus its 7 other dihedral transforms when `dihedral_aug`."""
    inputs, labels = encode_rows(rows)
    side = isqrt(inputs.shape[1])
    transforms = range(NUM_DIHEDRAL if dihedral_aug else 1)
    pairs = zip(inputs.reshape(len(rows), side, side), labels.reshape(len(rows), side, side), strict=True)
    for grids in tqdm(pairs, total=len(rows), desc="Encoding mazes"):
        aug_inputs, aug_labels = (np.stack([dihedral_transform(g, t).reshape(-1) for t in transforms]) for g in grids)
        yield PuzzleGroup.single_examples(aug_inputs, aug_labels)


def build_maze_dataset(
    train_rows: Sequence[PuzzleRow],
    test_rows: Sequence[PuzzleRow],
    *,
    dihedral_aug: bool = False,
    output_dir: str | Path | None = None,
    source: str = "",
    license: str | None = None,
    build_command: str = "",
    source_datasets: list[str] | None = None,
) -> tuple[DatasetDict, dict[str, PuzzleDatasetMetadata]]:
    """Encode rows (e.g. from `generate_mazes` or `read_puzzle_csv`) into the Maze `DatasetDict`.

    Training mazes get the 8 dihedral transforms when `dihedral_aug`; test mazes none.
    """
    groups = itertools.chain(
        (("train", g) for g in maze_groups(train_rows, dihedral_aug)),
        (("test", g) for g in maze_groups(test_rows, False)),
    )
    seq_len = len(train_rows[0].question) if train_rows else len(test_rows[0].question)
    return build_puzzle_dataset(
        groups,
        task="maze",
        vocab_size=MAZE_VOCAB_SIZE,
        seq_len=seq_len,
        output_dir=output_dir,
        source=source,
        license=license,
        build_command=build_command,
        source_datasets=source_datasets,
    )
