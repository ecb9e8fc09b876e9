"""Puzzle datasets (Sudoku, Maze, ARC) for HRM as Hugging Face `datasets`, and their batch samplers.

Modules: `puzzle_csv` (the authors' CSV format), `sudoku` / `sudoku_generator`, `maze` / `maze_generator`, `arc`
(parsing the Kaggle JSON and building its augmented rows), `builder` (rows to a `DatasetDict`), `storage` (metadata
files, push, load), `card`, `release` (the authors' numpy folders), `sampler` (training batches). The puzzle types
themselves (codec, rules, augmentations) are `tokenization_hrm`'s. Build from the command line with
`hrm build-dataset`.
"""

from .metadata import PuzzleDatasetMetadata
from .storage import load_puzzle_dataset, push_puzzle_dataset


__all__ = ["PuzzleDatasetMetadata", "load_puzzle_dataset", "push_puzzle_dataset"]
