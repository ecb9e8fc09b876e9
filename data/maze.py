"""Maze datasets: source rows checked and encoded, with the optional 8 dihedral augmentations, by the maze type.

Tokens, the rule check and the augmentations come from the maze type of `tokenization_hrm` (`# SGo`: wall, open,
start, goal, path -> 1..5, vocab 6); the question has no path, the answer marks the shortest path from S to G with `o`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from datasets import DatasetDict
from tqdm import tqdm

from ..tokenization_hrm import MAZE, MAZE_VOCAB_SIZE, NUM_DIHEDRAL, maze_tokens, validate_maze_row
from .builder import PuzzleGroup, build_puzzle_dataset
from .metadata import IN_PROCESS, Provenance, PuzzleDatasetMetadata
from .puzzle_csv import PuzzleRow, character_codes


# The CSV reader's row check is the puzzle type's rule check.
validate_row = validate_maze_row


def encode_rows(rows: Sequence[PuzzleRow]) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, labels) token arrays of shape [len(rows), cells] (uint8)."""
    return maze_tokens(character_codes([r.question for r in rows])), maze_tokens(
        character_codes([r.answer for r in rows])
    )


def maze_groups(rows: Sequence[PuzzleRow], dihedral_aug: bool) -> Iterator[PuzzleGroup]:
    """One group per row: the maze, plus its 7 other dihedral transforms when `dihedral_aug`."""
    inputs, labels = encode_rows(rows)
    transforms = range(NUM_DIHEDRAL if dihedral_aug else 1)
    for pair in tqdm(zip(inputs, labels, strict=True), total=len(rows), desc="Encoding mazes"):
        aug_inputs, aug_labels = (np.stack([MAZE.augment(tokens, t) for t in transforms]) for tokens in pair)
        yield PuzzleGroup.single_examples(aug_inputs, aug_labels)


def build_maze_dataset(
    train_rows: Sequence[PuzzleRow],
    test_rows: Sequence[PuzzleRow],
    *,
    dihedral_aug: bool = False,
    output_dir: str | Path | None = None,
    provenance: Provenance = IN_PROCESS,
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
        task=MAZE.name,
        vocab_size=MAZE_VOCAB_SIZE,
        seq_len=seq_len,
        output_dir=output_dir,
        provenance=provenance,
    )
