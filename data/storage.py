"""Saving, pushing and loading a puzzle dataset together with its metadata and card.

A saved dataset is a `save_to_disk` folder plus `puzzle_metadata.json` (per-split metadata), `identifiers.json`
(ARC identifier names) and `README.md` (the card). On the Hub it is the parquet export of `push_to_hub` plus the
same three files. `load_puzzle_dataset` reads either and returns the same rows and metadata.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import overload

from datasets import Dataset, DatasetDict, load_dataset, load_from_disk
from huggingface_hub import CommitOperationAdd, DatasetCard, HfApi, hf_hub_download

from .card import card_for_repo
from .metadata import PuzzleDatasetMetadata


logger = logging.getLogger(__name__)
METADATA_FILE = "puzzle_metadata.json"
IDENTIFIERS_FILE = "identifiers.json"
CARD_FILE = "README.md"
# Datasets built before the columns were named like `forward`'s arguments call this column so.
OLD_IDENTIFIER_COLUMN = "puzzle_identifier"


class UnknownSplitError(ValueError):
    """The asked split is not among the dataset's."""


def write_metadata_files(folder: str | Path, metadata: dict[str, PuzzleDatasetMetadata], card: DatasetCard) -> None:
    """Write `puzzle_metadata.json`, `identifiers.json` (when there are names) and `README.md` into `folder`."""
    folder = Path(folder)
    names = next(iter(metadata.values())).identifier_names
    content = {
        "identifiers_file": IDENTIFIERS_FILE if names is not None else None,
        "splits": {split: m.to_dict(with_identifier_names=False) for split, m in metadata.items()},
    }
    (folder / METADATA_FILE).write_text(json.dumps(content, indent=2))
    if names is not None:
        (folder / IDENTIFIERS_FILE).write_text(json.dumps(names))
    card.save(folder / CARD_FILE)


def save_puzzle_dataset(
    dataset: DatasetDict, metadata: dict[str, PuzzleDatasetMetadata], output_dir: str | Path, card: DatasetCard
) -> None:
    """`save_to_disk` plus the metadata files and card."""
    dataset.save_to_disk(str(output_dir))
    write_metadata_files(output_dir, metadata, card)


def _read_metadata(read_file) -> dict[str, PuzzleDatasetMetadata]:
    """Metadata per split, given `read_file(name) -> Path`."""
    content = json.loads(Path(read_file(METADATA_FILE)).read_text())
    names = (
        json.loads(Path(read_file(content["identifiers_file"])).read_text()) if content["identifiers_file"] else None
    )
    return {
        split: PuzzleDatasetMetadata.from_dict({**fields, "identifier_names": names})
        for split, fields in content["splits"].items()
    }


@overload
def load_puzzle_dataset(
    path_or_repo_id: str | Path, split: None = None, revision: str | None = None
) -> tuple[DatasetDict, dict[str, PuzzleDatasetMetadata]]: ...
@overload
def load_puzzle_dataset(
    path_or_repo_id: str | Path, split: str, revision: str | None = None
) -> tuple[Dataset, PuzzleDatasetMetadata]: ...
def load_puzzle_dataset(path_or_repo_id, split=None, revision=None):
    """Load a puzzle dataset from a `save_to_disk` folder or a Hub dataset repo.

    Returns `(DatasetDict, {split: metadata})`, or `(Dataset, metadata)` of one split when `split` is given; the counts
    in each metadata (`total_groups`, `mean_puzzle_examples`) are those of its split. An unknown `split` raises
    `UnknownSplitError` naming the splits there are, before any rows are read or downloaded.
    """
    folder, repo_id = Path(path_or_repo_id), str(path_or_repo_id)
    local = folder.is_dir()
    if local:
        metadata = _read_metadata(lambda name: folder / name)
    else:
        metadata = _read_metadata(lambda name: hf_hub_download(repo_id, name, repo_type="dataset", revision=revision))
    if split is not None and split not in metadata:
        raise UnknownSplitError(
            f"Split {split!r} is not in the puzzle dataset {path_or_repo_id}, which has {sorted(metadata)}."
        )
    if local:
        dataset = load_from_disk(str(folder))
        dataset = dataset if split is None else dataset[split]
    else:
        dataset = load_dataset(repo_id, split=split, revision=revision)
    dataset = read_old_layout(dataset, metadata, path_or_repo_id)
    return (dataset, metadata) if split is None else (dataset, metadata[split])


def read_old_layout(
    dataset: Dataset | DatasetDict, metadata: dict[str, PuzzleDatasetMetadata], name: str | Path
) -> Dataset | DatasetDict:
    """A dataset built or pushed before the columns were named like `forward`'s arguments, in today's layout.

    The `puzzle_identifier` column is renamed `puzzle_identifiers`: a change of the Arrow schema, no row is copied.
    Such datasets also store ignored labels as 0 (their metadata's `ignore_label_id`). Those bytes stay as they are,
    since rewriting the labels would copy half of a multi-GB dataset on every load; the conversion happens at batch
    time instead: the metadata keeps saying `ignore_label_id: 0`, and the batches of `data.sampler` (which training
    and evaluation read) carry -100 there. Rebuilding the dataset stores -100 in the rows themselves.
    """
    if OLD_IDENTIFIER_COLUMN not in _column_names(dataset):
        return dataset
    ignore_ids = sorted({m.ignore_label_id for m in metadata.values() if m.ignore_label_id is not None})
    logger.info(
        f"Puzzle dataset {name} has the old layout: column {OLD_IDENTIFIER_COLUMN!r} renamed 'puzzle_identifiers' on "
        f"load; its labels store no-loss positions as {ignore_ids or 'nothing'}, which batches turn into -100."
    )
    return dataset.rename_column(OLD_IDENTIFIER_COLUMN, "puzzle_identifiers")


def _column_names(dataset: Dataset | DatasetDict) -> set[str]:
    if isinstance(dataset, DatasetDict):
        return {name for columns in dataset.column_names.values() for name in columns}
    return set(dataset.column_names)


def push_puzzle_dataset(folder: str | Path, repo_id: str, private: bool = False, token: str | None = None) -> str:
    """Push a saved puzzle dataset to the Hub: parquet shards via `push_to_hub`, then card and metadata files.

    The card keeps the `dataset_info` and `configs` YAML written by `push_to_hub`. Returns the commit URL.
    """
    folder = Path(folder)
    dataset, _ = load_puzzle_dataset(folder)
    dataset.push_to_hub(repo_id, private=private, token=token)
    pushed = DatasetCard.load(repo_id, repo_type="dataset", token=token)
    card = DatasetCard.load(folder / CARD_FILE)
    for key in ("dataset_info", "configs"):
        if key in pushed.data:
            card.data[key] = pushed.data[key]
    files = [name for name in (METADATA_FILE, IDENTIFIERS_FILE) if (folder / name).exists()]
    operations = [CommitOperationAdd(CARD_FILE, str(card_for_repo(card, repo_id)).encode())]
    operations += [CommitOperationAdd(name, str(folder / name)) for name in files]
    commit = HfApi(token=token).create_commit(
        repo_id, operations, commit_message="Add puzzle metadata and dataset card", repo_type="dataset"
    )
    return commit.commit_url
