"""From puzzle groups to a `datasets.DatasetDict`: the schema, the streaming writer, and the split statistics.

A split is written group by group; each row is one example. Rows are ordered by group, then puzzle, then example,
so the sampler recovers the release's `puzzle_indices` / `group_indices` from the `puzzle_index` and `group_index`
columns. With an output folder the rows stream straight into the `save_to_disk` layout (Arrow shards, `state.json`,
`dataset_info.json`) and are never all in memory; without one they stay in memory (small in-process datasets).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
from datasets import Dataset, DatasetDict, DatasetInfo, Features, List, Value
from datasets.arrow_writer import ArrowWriter

from ..folders import claim_folder, is_empty_folder
from ..tokenization_hrm import PAD_ID
from .card import dataset_card
from .metadata import IGNORE_LABEL_ID, IN_PROCESS, Provenance, PuzzleDatasetMetadata
from .storage import content_fingerprint, write_metadata_files


MAX_VOCAB_SIZE = 128  # tokens are stored as int8
SHARD_BYTES = 500 * 2**20
FLUSH_BYTES = 64 * 2**20  # rows are buffered up to this size, then written as one Arrow record batch


def puzzle_features(seq_len: int) -> Features:
    """The row schema: fixed-length int8 token lists (labels -100 where no loss is taken) and int32 indices; the
    columns are named like `HrmActModel.forward`'s arguments, so a torch-formatted batch is `model(**batch)`-ready."""
    tokens = List(Value("int8"), length=seq_len)
    return Features(
        {
            "input_ids": tokens,
            "labels": tokens,
            "puzzle_identifiers": Value("int32"),
            "puzzle_index": Value("int32"),
            "group_index": Value("int32"),
        }
    )


@dataclass
class PuzzleGroup:
    """A source puzzle and its augmentations: examples stacked puzzle after puzzle.

    Attributes:
        inputs: [examples, seq_len] input tokens (uint8).
        labels: [examples, seq_len] label tokens; the writer stores its `ignore_label_id` as -100.
        puzzle_identifiers: [puzzles] identifier of each puzzle.
        puzzle_sizes: [puzzles] examples of each puzzle, in order.
    """

    inputs: np.ndarray
    labels: np.ndarray
    puzzle_identifiers: np.ndarray
    puzzle_sizes: np.ndarray

    @classmethod
    def single_examples(cls, inputs: np.ndarray, labels: np.ndarray, identifier: int = 0) -> PuzzleGroup:
        """A group in which every example is a puzzle of its own, all with one identifier (Sudoku, Maze)."""
        count = len(inputs)
        return cls(inputs, labels, np.full(count, identifier, dtype=np.int32), np.ones(count, dtype=np.int64))


@dataclass
class SplitStats:
    """Counts of a written split."""

    groups: int = 0
    puzzles: int = 0
    examples: int = 0

    @property
    def mean_puzzle_examples(self) -> float:
        return self.examples / self.puzzles if self.puzzles else 0.0


class SplitWriter:
    """Appends groups to one split, in memory or as `save_to_disk` shards under `folder`.

    Labels equal to `ignore_label_id` (the groups' no-loss label, PAD for our encodings) are stored as -100.
    """

    def __init__(self, name: str, seq_len: int, folder: Path | None = None, ignore_label_id: int | None = PAD_ID):
        self.name, self.seq_len, self.folder, self.ignore_label_id = name, seq_len, folder, ignore_label_id
        self.features = puzzle_features(seq_len)
        self.stats = SplitStats()
        self._pending: list[dict[str, np.ndarray]] = []
        self._pending_bytes = 0
        self._tables: list[pa.Table] = []
        self._shards: list[Path] = []
        self._writer: ArrowWriter | None = None
        self._shard_bytes = 0
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

    def add(self, group: PuzzleGroup) -> None:
        """Append one group's examples."""
        sizes = np.asarray(group.puzzle_sizes)
        if group.inputs.shape != (sizes.sum(), self.seq_len) or group.labels.shape != group.inputs.shape:
            raise ValueError(
                f"Group arrays {group.inputs.shape}/{group.labels.shape} do not match sizes {sizes.sum()}x{self.seq_len}"
            )
        self._pending.append(
            {
                "input_ids": group.inputs,
                "labels": group.labels,
                "puzzle_identifiers": np.repeat(np.asarray(group.puzzle_identifiers, dtype=np.int32), sizes),
                "puzzle_index": np.repeat(
                    np.arange(self.stats.puzzles, self.stats.puzzles + len(sizes), dtype=np.int32), sizes
                ),
                "group_index": np.full(len(group.inputs), self.stats.groups, dtype=np.int32),
            }
        )
        self._pending_bytes += 2 * group.inputs.nbytes
        self.stats.groups += 1
        self.stats.puzzles += len(sizes)
        self.stats.examples += len(group.inputs)
        if self._pending_bytes >= FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        columns = {key: np.concatenate([p[key] for p in self._pending]) for key in self._pending[0]}
        self._pending, self._pending_bytes = [], 0
        columns["labels"] = self._stored_labels(columns["labels"])
        table = pa.table(
            {key: self._token_array(value) if value.ndim == 2 else pa.array(value) for key, value in columns.items()},
            schema=self.features.arrow_schema,
        )
        if self.folder is None:
            self._tables.append(table)
            return
        if self._writer is None or self._shard_bytes >= SHARD_BYTES:
            self._open_shard()
        self._writer.write_table(table)
        self._shard_bytes += table.nbytes

    def _open_shard(self) -> None:
        self._close_shard()
        self._shards.append(self.folder / f"shard-{len(self._shards):05d}.arrow")
        self._writer = ArrowWriter(features=self.features, path=str(self._shards[-1]), writer_batch_size=2**31 - 1)
        self._shard_bytes = 0

    def _stored_labels(self, labels: np.ndarray) -> np.ndarray:
        """Label tokens as stored: int8, -100 where no loss is taken."""
        stored = labels.astype(np.uint8).view(np.int8)
        if self.ignore_label_id is not None and self.ignore_label_id != IGNORE_LABEL_ID:
            stored = np.where(labels == self.ignore_label_id, np.int8(IGNORE_LABEL_ID), stored)
        return stored

    def _token_array(self, tokens: np.ndarray) -> pa.Array:
        flat = np.ascontiguousarray(tokens, dtype=np.uint8).reshape(-1).view(np.int8)
        return pa.FixedSizeListArray.from_arrays(pa.array(flat), self.seq_len)

    def _close_shard(self) -> None:
        if self._writer is not None:
            self._writer.finalize()
            self._writer = None

    def finish(self) -> Dataset:
        """Flush, close and return the split as a `Dataset` (memory-mapped when written to a folder)."""
        self._flush()
        if self.folder is None:
            table = pa.concat_tables(self._tables) if self._tables else self.features.arrow_schema.empty_table()
            return Dataset(table, info=DatasetInfo(features=self.features), split=self.name)
        if not self._shards:  # an empty split still needs one (empty) shard
            self._open_shard()
        self._close_shard()
        return self._finish_folder()

    def _finish_folder(self) -> Dataset:
        count = len(self._shards)
        names = [f"data-{i:05d}-of-{count:05d}.arrow" for i in range(count)]
        for shard, name in zip(self._shards, names, strict=True):
            shard.rename(self.folder / name)
        state = {
            "_data_files": [{"filename": name} for name in names],
            "_fingerprint": f"puzzle-{self.name}-{self.stats.examples}",
            "_format_columns": None,
            "_format_kwargs": {},
            "_format_type": None,
            "_output_all_columns": False,
            "_split": self.name,
        }
        (self.folder / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True))
        info = asdict(DatasetInfo(features=self.features))
        (self.folder / "dataset_info.json").write_text(json.dumps({k: info[k] for k in sorted(info)}, indent=2))
        return Dataset.load_from_disk(str(self.folder))


def write_splits(
    groups: Iterable[tuple[str, PuzzleGroup]],
    seq_len: int,
    split_names: tuple[str, ...] = ("train", "test"),
    output_dir: Path | None = None,
    ignore_label_id: int | None = PAD_ID,
) -> tuple[DatasetDict, dict[str, SplitStats]]:
    """Write `(split name, group)` pairs into a `DatasetDict` (streamed into `output_dir` when given)."""
    if output_dir is not None:
        _prepare_output_dir(output_dir)
    writers = {
        name: SplitWriter(name, seq_len, output_dir / name if output_dir else None, ignore_label_id)
        for name in split_names
    }
    for split, group in groups:
        writers[split].add(group)
    dataset = DatasetDict({name: writer.finish() for name, writer in writers.items()})
    if output_dir is not None:
        (output_dir / "dataset_dict.json").write_text(json.dumps({"splits": list(split_names)}))
    return dataset, {name: writer.stats for name, writer in writers.items()}


def _prepare_output_dir(output_dir: Path) -> None:
    if not is_empty_folder(output_dir):
        raise FileExistsError(f"Output folder {output_dir} is not empty; remove it or choose another")
    output_dir.mkdir(parents=True, exist_ok=True)


def split_metadata(
    stats: dict[str, SplitStats],
    *,
    task: str,
    vocab_size: int,
    seq_len: int,
    num_puzzle_identifiers: int = 1,
    identifier_names: list[str] | None = None,
    build_command: str = "",
) -> dict[str, PuzzleDatasetMetadata]:
    """One `PuzzleDatasetMetadata` per split, sharing everything but the split's counts."""
    return {
        name: PuzzleDatasetMetadata(
            vocab_size=vocab_size,
            seq_len=seq_len,
            num_puzzle_identifiers=num_puzzle_identifiers,
            total_groups=split.groups,
            mean_puzzle_examples=split.mean_puzzle_examples,
            identifier_names=identifier_names,
            task=task,
            split=name,
            build_command=build_command,
        )
        for name, split in stats.items()
    }


def build_puzzle_dataset(
    groups: Iterable[tuple[str, PuzzleGroup]],
    *,
    task: str,
    vocab_size: int,
    seq_len: int,
    identifier_names: list[str] | None = None,
    output_dir: str | Path | None = None,
    provenance: Provenance = IN_PROCESS,
    ignore_label_id: int | None = PAD_ID,
) -> tuple[DatasetDict, dict[str, PuzzleDatasetMetadata]]:
    """Write `(split, group)` pairs into a `DatasetDict` and describe it.

    `identifier_names` (ARC) may be filled while `groups` is consumed; without names the dataset has the one
    identifier 0. Group labels equal to `ignore_label_id` (PAD in our encodings and the release's) carry no loss and
    are stored as -100. The metadata records the rows' `content_fingerprint`. With `output_dir` the rows stream there and the metadata files and card (which tells the
    `provenance`) are written beside them; the folder (absent or empty) is claimed for the build, so a second writer
    is refused, and a failed build removes what it wrote (and the folder, if it made it), nothing else.
    """
    if not 0 < vocab_size <= MAX_VOCAB_SIZE:
        raise ValueError(f"vocab_size {vocab_size} does not fit the int8 token columns (1..{MAX_VOCAB_SIZE})")
    output_dir = Path(output_dir) if output_dir is not None else None
    claim = nullcontext() if output_dir is None else claim_folder(
        output_dir, "output_dir", provenance.build_command or None, undo_on_error=True
    )  # fmt: skip
    with claim:
        dataset, stats = write_splits(groups, seq_len, output_dir=output_dir, ignore_label_id=ignore_label_id)
        metadata = split_metadata(
            stats,
            task=task,
            vocab_size=vocab_size,
            seq_len=seq_len,
            num_puzzle_identifiers=len(identifier_names) if identifier_names else 1,
            identifier_names=identifier_names,
            build_command=provenance.build_command,
        )
        fingerprint = content_fingerprint(dataset, metadata)
        metadata = {split: replace(m, fingerprint=fingerprint) for split, m in metadata.items()}
        if output_dir is not None:
            examples = {name: split.examples for name, split in stats.items()}
            card = dataset_card(metadata, examples, provenance)
            write_metadata_files(output_dir, metadata, card)
    return dataset, metadata
