"""Sudoku: validation of source rows, encoding and the release's augmentation.

Tokens come from the Sudoku codec of `tokenization_hrm` (digit + 1, blank = token 1, vocab size + 2).
The label is the solution. Augmentation (train only): a permutation of the digits, an optional transpose, and
shuffles of the bands, the rows inside each band, the stacks and the columns inside each stack.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from functools import cache
from math import isqrt
from operator import itemgetter
from pathlib import Path

import numpy as np
from datasets import DatasetDict
from tqdm import tqdm

from ..tokenization_hrm import sudoku_tokens, sudoku_vocab_size
from .builder import PuzzleGroup, build_puzzle_dataset
from .metadata import PuzzleDatasetMetadata
from .puzzle_csv import PuzzleRow, character_codes, problem_in_charset


@cache
def _units(size: int) -> tuple[tuple[str, int, itemgetter], ...]:
    """(kind, number, getter of its cells) of every row, column and box; boxes numbered row-major."""
    box = isqrt(size)
    rows = [range(i * size, (i + 1) * size) for i in range(size)]
    columns = [range(i, size * size, size) for i in range(size)]
    boxes = [
        [(b // box * box + r) * size + b % box * box + c for r in range(box) for c in range(box)] for b in range(size)
    ]
    return tuple(
        (kind, i, itemgetter(*cells))
        for kind, units in (("row", rows), ("column", columns), ("box", boxes))
        for i, cells in enumerate(units)
    )


def validate_row(question: str, answer: str, size: int = 9) -> str | None:
    """Why a question/answer pair is not a Sudoku with its solution, or None."""
    cells = size * size
    digits = "123456789"[:size]
    problem = problem_in_charset("question", question, cells, "." + digits) or problem_in_charset(
        "answer", answer, cells, digits
    )
    if problem:
        return problem
    # No per-cell Python loop: the authors' training CSV has millions of rows.
    for kind, index, unit in _units(size):
        if len(set(unit(answer))) != size:
            return f"field 'answer' is not a valid solution: {kind} {index + 1} repeats a digit"
    clues, solution = (np.frombuffer(text.encode(), dtype=np.uint8) for text in (question, answer))
    wrong = np.flatnonzero((clues != ord(".")) & (clues != solution))
    if len(wrong):
        cell = int(wrong[0])
        return f"field 'answer' disagrees with clue {question[cell]} at cell {cell} (row {cell // size + 1})"
    return None


def encode_rows(rows: Sequence[PuzzleRow]) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, labels) token arrays of shape [len(rows), cells] (uint8)."""
    return sudoku_tokens(character_codes([r.question for r in rows])), sudoku_tokens(
        character_codes([r.answer for r in rows])
    )


def random_cell_maps(rng: np.random.Generator, count: int, size: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """`count` random augmentations as (source cell of each cell [count, cells], token map [count, size + 2]).

    Augmented tokens are `token_map[tokens[source]]`; the map fixes PAD and blank.
    """
    box = isqrt(size)

    def line_perm() -> np.ndarray:  # [count, size]: bands (stacks) shuffled, then lines inside each
        blocks = rng.permuted(np.tile(np.arange(box), (count, 1)), axis=1)
        inner = rng.permuted(np.tile(np.arange(box), (count, box, 1)), axis=2)
        return (blocks[:, :, None] * box + inner).reshape(count, size)

    rows, cols = line_perm(), line_perm()
    source = rows[:, :, None] * size + cols[:, None, :]
    transpose = rng.random(count) < 0.5
    source = np.where(transpose[:, None, None], source.swapaxes(1, 2), source).reshape(count, size * size)
    digit_perm = rng.permuted(np.tile(np.arange(2, size + 2), (count, 1)), axis=1)
    token_map = np.concatenate([np.tile([0, 1], (count, 1)), digit_perm], axis=1).astype(np.uint8)
    return source, token_map


def augment(
    inputs: np.ndarray, labels: np.ndarray, source: np.ndarray, token_map: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Apply augmentations (from `random_cell_maps`) to one puzzle's token vectors: [count, cells] each."""
    rows = np.arange(len(source))[:, None]
    return token_map[rows, inputs[source]], token_map[rows, labels[source]]


def sudoku_groups(
    rows: Sequence[PuzzleRow], num_aug: int, rng: np.random.Generator, size: int = 9
) -> Iterator[PuzzleGroup]:
    """One group per row: the puzzle and `num_aug` augmented copies, each its own one-example puzzle (id 0)."""
    inputs, labels = encode_rows(rows)
    for puzzle_inputs, puzzle_labels in tqdm(
        zip(inputs, labels, strict=True), total=len(rows), desc="Encoding Sudoku"
    ):
        aug_inputs, aug_labels = augment(puzzle_inputs, puzzle_labels, *random_cell_maps(rng, num_aug, size))
        yield PuzzleGroup.single_examples(
            np.concatenate([puzzle_inputs[None], aug_inputs]), np.concatenate([puzzle_labels[None], aug_labels])
        )


def build_sudoku_dataset(
    train_rows: Sequence[PuzzleRow],
    test_rows: Sequence[PuzzleRow],
    *,
    num_aug: int = 0,
    seed: int = 0,
    size: int = 9,
    output_dir: str | Path | None = None,
    source: str = "",
    license: str | None = None,
    build_command: str = "",
    source_datasets: list[str] | None = None,
) -> tuple[DatasetDict, dict[str, PuzzleDatasetMetadata]]:
    """Encode rows (e.g. from `generate_puzzles` or `read_puzzle_csv`) into the Sudoku `DatasetDict`.

    Training rows get `num_aug` augmented copies each; test rows none. In memory unless `output_dir` is given.
    """
    rng = np.random.default_rng(seed)
    groups = itertools.chain(
        (("train", g) for g in sudoku_groups(train_rows, num_aug, rng, size)),
        (("test", g) for g in sudoku_groups(test_rows, 0, rng, size)),
    )
    return build_puzzle_dataset(
        groups,
        task="sudoku",
        vocab_size=sudoku_vocab_size(size),
        seq_len=size * size,
        output_dir=output_dir,
        source=source,
        license=license,
        build_command=build_command,
        source_datasets=source_datasets,
    )
