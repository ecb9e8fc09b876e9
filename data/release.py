"""Import a dataset folder written by the authors' builders: `identifiers.json` and, per split,
`dataset.json` plus `<set>__{inputs,labels,puzzle_identifiers,puzzle_indices,group_indices}.npy`.
All sets of a split are concatenated (their groups in set order). The release stores ignored labels as its
`ignore_label_id` (0, PAD); the import stores them as -100, like every dataset built here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from datasets import DatasetDict
from tqdm import tqdm

from .builder import PuzzleGroup, build_puzzle_dataset
from .metadata import Provenance, PuzzleDatasetMetadata


SPLITS = ("train", "test")


def read_release_metadata(folder: str | Path, split: str) -> PuzzleDatasetMetadata:
    """The `dataset.json` of one split folder (TRM's builders add `total_puzzles`, which the rows themselves give)."""
    path = Path(folder) / split / "dataset.json"
    try:
        values = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a release's dataset.json ({error}).") from None
    if isinstance(values, dict):
        values.pop("total_puzzles", None)
    return PuzzleDatasetMetadata.from_dict(values, str(path))


def release_groups(folder: str | Path, split: str) -> Iterator[tuple[str, PuzzleGroup]]:
    """`(split, group)` pairs of one split folder, arrays read memory-mapped."""
    metadata = read_release_metadata(folder, split)
    for set_name in metadata.sets:
        arrays = {
            name: np.load(Path(folder) / split / f"{set_name}__{name}.npy", mmap_mode="r")
            for name in ("inputs", "labels", "puzzle_identifiers", "puzzle_indices", "group_indices")
        }
        puzzle_indices, group_indices = arrays["puzzle_indices"], arrays["group_indices"]
        bounds = zip(group_indices[:-1], group_indices[1:], strict=True)
        for first, last in tqdm(bounds, total=len(group_indices) - 1, desc=f"Importing {split}/{set_name}"):
            start, end = puzzle_indices[first], puzzle_indices[last]
            yield (
                split,
                PuzzleGroup(
                    np.asarray(arrays["inputs"][start:end], dtype=np.uint8),
                    np.asarray(arrays["labels"][start:end]),
                    np.asarray(arrays["puzzle_identifiers"][first:last]),
                    np.diff(puzzle_indices[first : last + 1]),
                ),
            )


def build_from_release(
    folder: str | Path, task: str, *, output_dir: str | Path | None = None, build_command: str = ""
) -> tuple[DatasetDict, dict[str, PuzzleDatasetMetadata]]:
    """Convert a release folder of puzzle type `task` into the `DatasetDict` of this project (same rows, groups and
    identifiers)."""
    folder = Path(folder)
    first = read_release_metadata(folder, SPLITS[0])
    names = None
    if first.num_puzzle_identifiers > 1:
        names = json.loads((folder / "identifiers.json").read_text())
        if len(names) != first.num_puzzle_identifiers:
            raise ValueError(
                f"{folder}/identifiers.json has {len(names)} names, dataset.json says {first.num_puzzle_identifiers}"
            )

    def groups() -> Iterator[tuple[str, PuzzleGroup]]:
        for split in SPLITS:
            yield from release_groups(folder, split)

    return build_puzzle_dataset(
        groups(),
        task=task,
        vocab_size=first.vocab_size,
        seq_len=first.seq_len,
        identifier_names=names,
        output_dir=output_dir,
        provenance=Provenance(f"Imported from the release folder `{folder.name}`.", build_command=build_command),
        ignore_label_id=first.ignore_label_id,
    )
