"""Sudoku datasets: source rows checked and encoded, training rows augmented, by the Sudoku puzzle type.

Tokens, the rule check and the augmentation come from the Sudoku type of `tokenization_hrm` (digit + 1, blank =
token 1, vocab size + 2). The label is the solution. Augmentation (train only): a permutation of the digits, an
optional transpose, and shuffles of the bands, the rows inside each band, the stacks and the columns inside each stack.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from datasets import DatasetDict
from tqdm import tqdm

from ..tokenization_hrm import SUDOKU, SudokuShuffle, sudoku_tokens, sudoku_vocab_size, validate_sudoku_row
from .builder import PuzzleGroup, build_puzzle_dataset
from .metadata import IN_PROCESS, Provenance, PuzzleDatasetMetadata
from .puzzle_csv import PuzzleRow, character_codes


# The CSV reader's row check is the puzzle type's rule check.
validate_row = validate_sudoku_row


def encode_rows(rows: Sequence[PuzzleRow]) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, labels) token arrays of shape [len(rows), cells] (uint8)."""
    return sudoku_tokens(character_codes([r.question for r in rows])), sudoku_tokens(
        character_codes([r.answer for r in rows])
    )


def sudoku_groups(
    rows: Sequence[PuzzleRow], num_aug: int, rng: np.random.Generator, size: int = 9
) -> Iterator[PuzzleGroup]:
    """One group per row: the puzzle and `num_aug` augmented copies, each its own one-example puzzle (id 0)."""
    inputs, labels = encode_rows(rows)
    for puzzle_inputs, puzzle_labels in tqdm(
        zip(inputs, labels, strict=True), total=len(rows), desc="Encoding Sudoku"
    ):
        shuffles = SudokuShuffle.random(rng, num_aug, size)
        aug_inputs, aug_labels = shuffles.apply(puzzle_inputs), shuffles.apply(puzzle_labels)
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
    provenance: Provenance = IN_PROCESS,
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
        task=SUDOKU.name,
        vocab_size=sudoku_vocab_size(size),
        seq_len=size * size,
        output_dir=output_dir,
        provenance=provenance,
    )
