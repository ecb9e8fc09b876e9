"""Saving, pushing and loading a puzzle dataset together with its metadata and card.

A saved dataset is a `save_to_disk` folder plus `puzzle_metadata.json` (per-split metadata), `identifiers.json`
(ARC identifier names) and `README.md` (the card). On the Hub it is the parquet export of `push_to_hub` plus the
same three files, and a second config, `preview`: a few un-augmented test puzzles as text and pictures, so that the
Hub's viewer shows puzzles rather than int8 token lists. `load_puzzle_dataset` reads either and returns the same rows
and metadata (the token columns of the default config); which one a name means is decided once, by `hub.py`'s rule.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import overload

import numpy as np
from datasets import Dataset, DatasetDict, concatenate_datasets, load_dataset, load_from_disk
from huggingface_hub import DatasetCard, hf_hub_download

from ..folders import file_inside, write_file
from ..hub import Source, commit_files, resolve
from ..records import check_record
from .card import card_for_repo
from .metadata import IGNORE_LABEL_ID, PuzzleDatasetMetadata


METADATA_FILE = "puzzle_metadata.json"
IDENTIFIERS_FILE = "identifiers.json"
CARD_FILE = "README.md"
PREVIEW_CONFIG = "preview"
PREVIEW_ROWS = 32


class UnknownSplitError(ValueError):
    """The asked split is not among the dataset's."""


def write_metadata_files(folder: str | Path, metadata: dict[str, PuzzleDatasetMetadata], card: DatasetCard) -> None:
    """Write `puzzle_metadata.json`, `identifiers.json` (when there are names) and `README.md` into `folder`, each
    replaced at once and never through a link."""
    names = next(iter(metadata.values())).identifier_names
    content = {
        "identifiers_file": IDENTIFIERS_FILE if names is not None else None,
        "splits": {split: m.to_dict(with_identifier_names=False) for split, m in metadata.items()},
    }
    write_file(folder, METADATA_FILE, json.dumps(content, indent=2))
    if names is not None:
        write_file(folder, IDENTIFIERS_FILE, json.dumps(names))
    write_file(folder, CARD_FILE, str(card))


# Metadata fields left out of the fingerprint: the fingerprint itself, and how the dataset was built (the same rows
# built by another command line are the same dataset).
UNHASHED_FIELDS = ("fingerprint", "build_command")


def content_fingerprint(dataset: DatasetDict, metadata: dict[str, PuzzleDatasetMetadata]) -> str:
    """A SHA-256 hex digest of a dataset's rows and metadata: per split (in name order) its metadata fields but
    `UNHASHED_FIELDS`, then each column's name, type and values. The values are hashed as flat arrays, so the
    digest does not depend on how the rows are chunked in Arrow files: a saved and reloaded dataset keeps it."""
    import hashlib

    import pyarrow as pa
    import pyarrow.compute as pc

    digest = hashlib.sha256()
    for split in sorted(dataset):
        fields = {k: v for k, v in metadata[split].to_dict().items() if k not in UNHASHED_FIELDS}
        digest.update(json.dumps({"split": split, **fields}, sort_keys=True).encode())
        table = dataset[split].with_format(None).data.table
        if dataset[split]._indices is not None:  # rows picked by an indices mapping: hash the rows it picks
            table = dataset[split].flatten_indices().data.table
        for name in table.column_names:
            column = table[name]
            digest.update(f"{name}:{column.type}".encode())
            for chunk in column.chunks:
                while pa.types.is_list(chunk.type) or pa.types.is_fixed_size_list(chunk.type):
                    chunk = pc.list_flatten(chunk)
                digest.update(chunk.to_numpy(zero_copy_only=False).tobytes())
    return digest.hexdigest()


def resolve_puzzle_dataset(value: str | Path, option: str, revision: str | None = None) -> Source:
    """Where the puzzle dataset `value` is, by `hub.resolve`'s rule: a local folder, or a Hub dataset repo at the
    commit `revision` resolves to, of which only the metadata files are downloaded (the rows load split by split)."""
    return resolve(
        value, option, repo_type="dataset", revision=revision, allow_patterns=[METADATA_FILE, IDENTIFIERS_FILE],
        must_be_folder=True,
    )  # fmt: skip


def _read_metadata(folder: Path) -> dict[str, PuzzleDatasetMetadata]:
    """Metadata per split from the files in `folder`, every field checked before use: a damaged file or a field of
    the wrong type is a `ValueError` naming the file and the field, an `identifiers_file` outside the folder a
    `LinkRefusedError`."""
    path = file_inside(folder, METADATA_FILE, f"dataset: {METADATA_FILE}")
    try:
        content = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a puzzle dataset's metadata ({error}); rebuild the dataset.") from None
    check_record(content, {"identifiers_file": ("str", None), "splits": "dict"}, str(path))
    if not content["splits"]:
        raise ValueError(f"{path}: field `splits` names no split; rebuild the dataset.")
    names_file = content["identifiers_file"]
    names = None
    if names_file:
        names_path = file_inside(folder, names_file, f"{path}: field `identifiers_file`")
        try:
            names = json.loads(names_path.read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{names_path}: not a list of identifier names ({error}).") from None
        if not isinstance(names, list):
            raise ValueError(f"{names_path}: holds {type(names).__name__}, not a list of identifier names.")
    metadata = {}
    for split, fields in content["splits"].items():
        where = f"{path}: split {split!r}"
        check_record(fields, {}, where)
        metadata[split] = PuzzleDatasetMetadata.from_dict({**fields, "identifier_names": names}, where)
    return metadata


@overload
def load_puzzle_dataset(
    source: Source | str | Path, split: None = None, revision: str | None = None
) -> tuple[DatasetDict, dict[str, PuzzleDatasetMetadata]]: ...
@overload
def load_puzzle_dataset(
    source: Source | str | Path, split: str, revision: str | None = None
) -> tuple[Dataset, PuzzleDatasetMetadata]: ...
def load_puzzle_dataset(source, split=None, revision=None):
    """Load a puzzle dataset from a `save_to_disk` folder or a Hub dataset repo.

    `source` is a resolved [`Source`] (`resolve_puzzle_dataset`), or a folder or Hub repo id `owner/name` (at
    `revision`), resolved here by the same rule: a missing path that cannot be `owner/name` raises
    `FileNotFoundError`, and a Hub repo is announced with the commit it resolved, which is then the one read.
    Returns `(DatasetDict, {split: metadata})`, or `(Dataset, metadata)` of one split when `split` is given; the counts
    in each metadata (`total_groups`, `mean_puzzle_examples`) are those of its split. An unknown `split` raises
    `UnknownSplitError` naming the splits there are, before any rows are read or downloaded.
    """
    if not isinstance(source, Source):
        source = resolve_puzzle_dataset(source, "dataset", revision)
    if not (source.path / METADATA_FILE).is_file():
        raise FileNotFoundError(f"dataset: {source.name!r} holds no puzzle dataset (no {METADATA_FILE}).")
    metadata = _read_metadata(source.path)
    if split is not None and split not in metadata:
        raise UnknownSplitError(
            f"Split {split!r} is not in the puzzle dataset {source.name}, which has {sorted(metadata)}."
        )
    if source.repo_id is not None:
        dataset = load_dataset(source.repo_id, split=split, revision=source.commit)
    else:
        import pyarrow as pa

        try:
            dataset = load_from_disk(str(source.path))
        except pa.ArrowException as error:  # a truncated or corrupt Arrow file
            raise ValueError(f"dataset: {str(source.path)!r} cannot be read ({error}).") from None
        dataset = dataset if split is None else dataset[split]
    return (dataset, metadata) if split is None else (dataset, metadata[split])


def check_ids_fit(dataset: Dataset, metadata: PuzzleDatasetMetadata, name: str | Path) -> None:
    """A `ValueError` naming the split and column when a token or puzzle identifier of `dataset` lies outside its
    metadata's tables, so that a dataset rebuilt or edited behind its metadata fails at load, not mid-training.

    One Arrow scan per column (minimum and maximum), no rows copied into Python."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = dataset.data.table
    for column, limit in (
        ("input_ids", "vocab_size"),
        ("labels", "vocab_size"),
        ("puzzle_identifiers", "num_puzzle_identifiers"),
    ):
        if column not in table.column_names or table.num_rows == 0:
            continue
        values = table[column]
        while (
            pa.types.is_list(values.type)
            or pa.types.is_large_list(values.type)
            or pa.types.is_fixed_size_list(values.type)
        ):
            values = pc.list_flatten(values)
        if column == "labels":  # positions without loss hold -100
            values = pc.filter(values, pc.not_equal(values, IGNORE_LABEL_ID))
        bounds = pc.min_max(values).as_py()
        size = getattr(metadata, limit)
        if bounds["min"] is not None and not (0 <= bounds["min"] and bounds["max"] < size):
            raise ValueError(
                f"Puzzle dataset {name}, split {metadata.split!r}: column {column!r} holds ids "
                f"{bounds['min']}..{bounds['max']}, but its metadata has {limit}={size}; rebuild the dataset."
            )


# Metadata fields that several datasets trained together must share (the authors' `PuzzleDataset` asserts them).
SHARED_FIELDS = ("seq_len", "vocab_size", "pad_id", "ignore_label_id", "blank_identifier_id")
# Columns renumbered when datasets are concatenated: each dataset's values follow those of the datasets before it.
RENUMBERED = ("puzzle_identifiers", "puzzle_index", "group_index")


def check_shared_fields(first: PuzzleDatasetMetadata, other: PuzzleDatasetMetadata, names: tuple[str, str]) -> None:
    """A `ValueError` naming the field and both values when two datasets to be used together disagree on one of
    `SHARED_FIELDS`."""
    for key in SHARED_FIELDS:
        if getattr(first, key) != getattr(other, key):
            raise ValueError(
                f"Puzzle datasets {names[0]} and {names[1]} cannot be used together: {key} is "
                f"{getattr(first, key)!r} in one and {getattr(other, key)!r} in the other."
            )


def _renumbered(dataset: Dataset, offsets: dict[str, int]) -> Dataset:
    """`dataset` with `offsets[column]` added to each column of `RENUMBERED` (the other columns are not copied)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = dataset.data.table
    for column, offset in offsets.items():
        values = pc.add(table[column], pa.scalar(offset, table[column].type))
        table = table.set_column(table.schema.get_field_index(column), column, values)
    return Dataset(table, info=dataset.info, split=dataset.split)


def concatenate_puzzle_datasets(
    parts: Sequence[tuple[DatasetDict, dict[str, PuzzleDatasetMetadata]]], names: Sequence[str]
) -> tuple[DatasetDict, dict[str, PuzzleDatasetMetadata]]:
    """Several puzzle datasets as one, for training on several datasets as the TRM authors' `data_paths` do.

    Their puzzle identifiers, puzzles and groups are numbered on from the datasets before them, so that every
    dataset's puzzles keep rows of their own in the puzzle table, whose size is the sum of theirs (the authors' table
    has that size, but their ids overlap). Per split, counts are merged as the authors merge them: groups summed, the
    mean examples per puzzle weighted by puzzles. Every dataset must share `SHARED_FIELDS` and have the first's splits.
    """
    first_meta = parts[0][1]
    for (_, meta), name in zip(parts[1:], names[1:], strict=True):
        check_shared_fields(next(iter(first_meta.values())), next(iter(meta.values())), (names[0], name))
        if sorted(meta) != sorted(first_meta):
            raise ValueError(
                f"Puzzle datasets {names[0]} and {name} cannot be used together: their splits are "
                f"{sorted(first_meta)} and {sorted(meta)}."
            )
    merged_data, merged_meta = {}, {}
    for split, meta in first_meta.items():
        splits, puzzles, metadata = [], [], []
        offsets = dict.fromkeys(RENUMBERED, 0)
        for data, part_meta in parts:
            split_data, split_meta = data[split], part_meta[split]
            if split_data._indices is not None:  # rows picked by an indices mapping: their table first
                split_data = split_data.flatten_indices()
            splits.append(_renumbered(split_data, offsets))
            table = split_data.data.table
            count = {column: (_column_max(table[column]) + 1) for column in ("puzzle_index", "group_index")}
            offsets = {
                "puzzle_identifiers": offsets["puzzle_identifiers"] + split_meta.num_puzzle_identifiers,
                "puzzle_index": offsets["puzzle_index"] + count["puzzle_index"],
                "group_index": offsets["group_index"] + count["group_index"],
            }
            puzzles.append(count["puzzle_index"])
            metadata.append(split_meta)
        names_per_part = [m.identifier_names for m in metadata]
        merged_meta[split] = dataclasses.replace(
            meta,
            num_puzzle_identifiers=sum(m.num_puzzle_identifiers for m in metadata),
            total_groups=sum(m.total_groups for m in metadata),
            mean_puzzle_examples=sum(m.mean_puzzle_examples * n for m, n in zip(metadata, puzzles, strict=True))
            / max(sum(puzzles), 1),
            identifier_names=None if None in names_per_part else [n for part in names_per_part for n in part],
        )
        merged_data[split] = concatenate_datasets(splits)
    return DatasetDict(merged_data), merged_meta


def _column_max(column) -> int:
    """The largest value of an Arrow column, -1 when it is empty."""
    import pyarrow.compute as pc

    value = pc.max(column).as_py()
    return -1 if value is None else int(value)


def original_rows(dataset: Dataset) -> np.ndarray:
    """Indices of the rows of each group's first puzzle, the source puzzle its augmentations were made from (rows are
    ordered by group, then puzzle)."""
    table = dataset.data.table
    groups, puzzles = (table[name].to_numpy() for name in ("group_index", "puzzle_index"))
    starts = np.r_[True, groups[1:] != groups[:-1]] if len(groups) else np.zeros(0, dtype=bool)
    first_puzzle = puzzles[starts][np.cumsum(starts) - 1]
    return np.flatnonzero(puzzles == first_puzzle)


def preview_dataset(dataset: Dataset, metadata: PuzzleDatasetMetadata, rows: int = PREVIEW_ROWS) -> Dataset:
    """The first `rows` un-augmented rows of a split, readable: the puzzle and its solution as text (Sudoku digits,
    maze lines, ARC colour digits) and as one picture, with the row's index, group and puzzle identifier name."""
    from datasets import Features, Image, Value

    from ..tokenization_hrm import grid_text
    from .render import Panel, decode_grid, draw_panels

    kind = metadata.puzzle_type
    if kind is None:
        raise ValueError(
            f"dataset: no known puzzle type has seq_len={metadata.seq_len}, vocab_size={metadata.vocab_size}."
        )
    indices = original_rows(dataset)[:rows]
    data = dataset.select(indices).with_format("numpy")[:]
    names = metadata.identifier_names
    columns = {key: [] for key in ("row", "group_index", "puzzle", "puzzle_text", "solution_text", "picture")}
    for i, row in enumerate(indices.tolist()):
        puzzle = decode_grid(kind, data["input_ids"][i])
        solution = decode_grid(kind, data["labels"][i].clip(0))  # positions without loss (-100) decode as padding
        givens = kind.givens(puzzle)
        columns["row"].append(row)
        columns["group_index"].append(int(data["group_index"][i]))
        columns["puzzle"].append(
            names[data["puzzle_identifiers"][i]] if names else f"puzzle {data['puzzle_index'][i]}"
        )
        columns["puzzle_text"].append(grid_text(puzzle))
        columns["solution_text"].append(grid_text(solution))
        columns["picture"].append(
            draw_panels(kind, [Panel("puzzle", puzzle, givens), Panel("solution", solution, givens)])
        )
    features = Features(
        {
            "row": Value("int64"),
            "group_index": Value("int32"),
            "puzzle": Value("string"),
            "puzzle_text": Value("string"),
            "solution_text": Value("string"),
            "picture": Image(),
        }
    )
    return Dataset.from_dict(columns, features=features)


def push_puzzle_dataset(
    folder: str | Path, repo_id: str, private: bool = False, token: str | None = None, revision: str | None = None
) -> str:
    """Push a saved puzzle dataset to the Hub (on branch `revision`, created if needed): parquet shards via
    `push_to_hub`, the readable `preview` config (`preview_dataset` of the test split, else the first split), then
    card and metadata files.

    The card keeps the `dataset_info` and `configs` YAML written by `push_to_hub`. Returns the commit URL.
    """
    folder = Path(folder)
    dataset, metadata = load_puzzle_dataset(Source(folder))  # a folder this machine wrote: nothing to decide
    dataset.push_to_hub(repo_id, private=private, token=token, revision=revision)
    split = "test" if "test" in dataset else next(iter(dataset))
    preview_dataset(dataset[split], metadata[split]).push_to_hub(
        repo_id, config_name=PREVIEW_CONFIG, split=split, private=private, token=token, revision=revision
    )
    pushed = DatasetCard.load(hf_hub_download(repo_id, CARD_FILE, repo_type="dataset", revision=revision, token=token))
    card = DatasetCard.load(folder / CARD_FILE)
    for key in ("dataset_info", "configs"):
        if key in pushed.data:
            card.data[key] = pushed.data[key]
    files = {CARD_FILE: str(card_for_repo(card, repo_id)).encode()}
    files |= {name: folder / name for name in (METADATA_FILE, IDENTIFIERS_FILE) if (folder / name).exists()}
    return commit_files(
        repo_id, files, "Add puzzle metadata and dataset card", repo_type="dataset", revision=revision, token=token
    )
