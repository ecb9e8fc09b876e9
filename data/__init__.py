"""Puzzle datasets (Sudoku, Maze, ARC) for HRM as Hugging Face `datasets`, and their batch samplers.

Modules: `puzzle_csv` (the authors' CSV format), `sudoku` / `sudoku_generator`, `maze` / `maze_generator`, `arc`
(parsing, encoding, augmentation and its inverse), `dihedral`, `builder` (rows to a `DatasetDict`), `storage`
(save, push, load with metadata), `card`, `release` (the authors' numpy folders), `sampler` (training
batches). Build from the command line with `hrm build-dataset`.
"""

from .metadata import PuzzleDatasetMetadata
from .storage import load_puzzle_dataset, push_puzzle_dataset, save_puzzle_dataset


__all__ = ["PuzzleDatasetMetadata", "load_puzzle_dataset", "push_puzzle_dataset", "save_puzzle_dataset"]
