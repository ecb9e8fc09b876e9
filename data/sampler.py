"""Training batches, with the release's sampling semantics.

Training, per data iteration of several epochs: shuffle the groups once per epoch; for each group draw one of its
puzzles; take that puzzle's examples in random order (without replacement); fill the global batch, cutting the puzzle
that overflows it (its remaining examples are dropped); drop the iteration's last incomplete batch. The group order
and puzzle draws are the authors' random stream (`Philox(seed + iteration)`), so single-example puzzles (Sudoku,
Maze) give their exact batches.

One deliberate difference: every rank computes the same global batch from the seed and reads its own contiguous
slice, and a multi-example puzzle's examples are drawn from that same stream. The authors draw those examples with each
rank's global numpy RNG, so their ranks train on differently permuted copies of the "same" batch (duplicated and
skipped examples).

Batches are dicts of torch tensors: `input_ids` int32 [local_batch, seq_len], `labels` int64 (the ignore label id
becomes -100), `puzzle_identifiers` int32 [local_batch]. Rows are read from zero-copy numpy views of the Arrow
columns, not through a `datasets` format.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from datasets import Dataset

from .metadata import IGNORE_LABEL_ID, PuzzleDatasetMetadata


class _Rows:
    """Random access to the token columns of a split (memory-mapped or in memory) as numpy arrays."""

    def __init__(self, dataset: Dataset, seq_len: int):
        table = dataset.with_format("arrow")[:]  # zero-copy unless the dataset has an indices mapping
        self.seq_len = seq_len
        batches = [b for b in table.to_batches() if b.num_rows]
        self.starts = np.cumsum([0] + [b.num_rows for b in batches])
        self.inputs = [self._tokens(b, "input_ids", seq_len) for b in batches]
        self.labels = [self._tokens(b, "labels", seq_len) for b in batches]
        self.puzzle_identifier = self._column(table, "puzzle_identifiers")
        self.puzzle_index = self._column(table, "puzzle_index")
        self.group_index = self._column(table, "group_index")

    @staticmethod
    def _tokens(batch, name: str, seq_len: int) -> np.ndarray:
        return batch.column(name).flatten().to_numpy(zero_copy_only=True).reshape(-1, seq_len)

    @staticmethod
    def _column(table, name: str) -> np.ndarray:
        return table.column(name).to_numpy().astype(np.int64)

    def __len__(self) -> int:
        return int(self.starts[-1])

    def gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(inputs, labels) int8 arrays [len(rows), seq_len] of the given row numbers."""
        chunk = np.searchsorted(self.starts, rows, side="right") - 1
        order = np.argsort(chunk, kind="stable")
        runs = np.append(np.flatnonzero(np.diff(chunk[order], prepend=-1)), len(rows))  # one run per Arrow chunk
        inputs = np.empty((len(rows), self.seq_len), dtype=np.int8)
        labels = np.empty_like(inputs)
        for start, end in zip(runs[:-1], runs[1:], strict=True):
            where = order[start:end]
            c = chunk[where[0]]
            local = rows[where] - self.starts[c]
            inputs[where], labels[where] = self.inputs[c][local], self.labels[c][local]
        return inputs, labels


def _run_starts(values: np.ndarray, what: str) -> np.ndarray:
    """Start of each run of equal values, checking the runs are numbered 0, 1, 2, ... in order."""
    starts = np.flatnonzero(np.diff(values, prepend=-1))
    if not np.array_equal(values[starts], np.arange(len(starts))):
        raise ValueError(f"Rows must be ordered by {what} (numbered 0, 1, ... in order); was the split shuffled?")
    return starts


def _to_batch(inputs: np.ndarray, labels: np.ndarray, identifiers: np.ndarray, ignore_label_id: int | None) -> dict:
    wide_labels = np.empty(labels.shape, dtype=np.int64)
    np.copyto(wide_labels, labels)
    if ignore_label_id is not None:
        np.putmask(wide_labels, labels == ignore_label_id, IGNORE_LABEL_ID)
    return {
        "input_ids": torch.from_numpy(inputs.astype(np.int32)),
        "labels": torch.from_numpy(wide_labels),
        "puzzle_identifiers": torch.from_numpy(identifiers.astype(np.int32)),
    }


def _local_batch_size(global_batch_size: int, rank: int, world_size: int) -> int:
    if global_batch_size <= 0 or global_batch_size % world_size:
        raise ValueError(
            f"global_batch_size {global_batch_size} must be a positive multiple of world_size {world_size}"
        )
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} must be in 0..{world_size - 1}")
    return global_batch_size // world_size


class TrainBatchSampler:
    """Training batches of one split for one rank, in the release's order, one data iteration at a time, resumable.

    An *iteration* is `epochs_per_iter` epochs (the release uses `eval_interval`), drawn from
    `Philox(seed + iteration)` with iterations numbered from 1: the group order is that many permutations of the
    groups concatenated, then one puzzle is drawn from each group in that order. Batches are filled across epoch
    boundaries, a puzzle that overflows a batch is cut (its other examples are dropped), and only the iteration's
    last incomplete batch is dropped. For datasets of one-example puzzles (Sudoku, Maze) this is exactly the
    release's stream of batches at any world size. The release draws the examples of a multi-example puzzle with the
    global numpy RNG, seeded per rank, so its ranks disagree; here their order is drawn from the same Philox stream
    after the puzzles, so every rank plans the same global batch and reads its own contiguous slice.

    A split made of several datasets (`set_groups`: the group count of each, in order, as `concatenate_puzzle_datasets`
    lays them out) is drawn as the TRM authors draw their several `data_paths`: within an iteration, set after set,
    each shuffled and batched on its own (its own last incomplete batch dropped) from `Philox(seed + n)`, where `n`
    counts the sets drawn so far in the run from 1.

    `iter(sampler)` yields the rest of the current iteration and then moves to the next one; `state_dict()` taken
    after a batch was consumed makes a fresh sampler (same data, seed and sizes) continue with the next batch.
    `len(sampler)` is the number of batches of the current iteration.
    """

    def __init__(
        self,
        dataset: Dataset,
        metadata: PuzzleDatasetMetadata,
        global_batch_size: int,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        epochs_per_iter: int = 1,
        set_groups: Sequence[int] = (),
    ):
        self.local_batch_size = _local_batch_size(global_batch_size, rank, world_size)
        if epochs_per_iter <= 0:
            raise ValueError(f"epochs_per_iter must be positive, got {epochs_per_iter}")
        self.global_batch_size, self.rank, self.world_size, self.seed = global_batch_size, rank, world_size, seed
        self.epochs_per_iter = epochs_per_iter
        self.ignore_label_id = metadata.ignore_label_id
        self.rows = _Rows(dataset, metadata.seq_len)
        puzzle_starts = _run_starts(self.rows.puzzle_index, "puzzle_index")
        self.puzzle_starts = np.append(puzzle_starts, len(self.rows))
        self.group_starts = np.append(
            _run_starts(self.rows.group_index[puzzle_starts], "group_index"), len(puzzle_starts)
        )
        groups = len(self.group_starts) - 1
        self.set_groups = list(set_groups) or [groups]
        if sum(self.set_groups) != groups or min(self.set_groups) <= 0:
            raise ValueError(
                f"set_groups {self.set_groups} must be positive and add up to the split's {groups} groups"
            )
        self.set_bounds = np.cumsum([0, *self.set_groups])  # the first group of each set, then the group count
        self.iteration, self.batches_done = 0, 0  # iterations finished, batches of the current one consumed
        self._plan_cache: tuple[int, np.ndarray] | None = None

    def _plan(self, iteration: int) -> np.ndarray:
        """Row numbers of every global batch of `iteration` (counted from 0), as `[batches, global_batch_size]`."""
        if self._plan_cache is None or self._plan_cache[0] != iteration:
            sets = len(self.set_groups)
            plans = [
                draw_iteration(
                    np.random.Generator(np.random.Philox(seed=self.seed + iteration * sets + i + 1)),
                    self.group_starts[first : last + 1],
                    self.puzzle_starts,
                    self.epochs_per_iter,
                    self.global_batch_size,
                )
                for i, (first, last) in enumerate(zip(self.set_bounds[:-1], self.set_bounds[1:], strict=True))
            ]
            self._plan_cache = (iteration, np.concatenate(plans))
        return self._plan_cache[1]

    def __len__(self) -> int:
        return len(self._plan(self.iteration))

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        iteration, plan = self.iteration, self._plan(self.iteration)
        if not len(plan):
            raise ValueError(
                f"epochs_per_iter={self.epochs_per_iter} epochs of this split do not fill one global batch of "
                f"{self.global_batch_size} examples; raise eval_interval or lower global_batch_size"
            )
        if self.batches_done >= len(plan):
            raise ValueError(
                f"Iteration {iteration} has {len(plan)} batches, {self.batches_done} done: the state is not of this "
                "data"
            )
        for k in range(self.batches_done, len(plan)):
            self.iteration, self.batches_done = (iteration + 1, 0) if k + 1 == len(plan) else (iteration, k + 1)
            yield self._batch(plan[k])

    def _batch(self, global_rows: np.ndarray) -> dict[str, torch.Tensor]:
        rows = global_rows[self.rank * self.local_batch_size : (self.rank + 1) * self.local_batch_size]
        return _to_batch(*self.rows.gather(rows), self.rows.puzzle_identifier[rows], self.ignore_label_id)

    def state_dict(self) -> dict[str, Any]:
        """Position in the stream of batches (and the settings it depends on)."""
        return {
            "iteration": self.iteration,
            "batches_done": self.batches_done,
            "seed": self.seed,
            "global_batch_size": self.global_batch_size,
            "epochs_per_iter": self.epochs_per_iter,
            "set_groups": self.set_groups,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from `state_dict()` of a sampler with the same seed, global batch size and iteration length."""
        for key in ("seed", "global_batch_size", "epochs_per_iter", "set_groups"):
            if state.get(key) != getattr(self, key):
                raise ValueError(f"Cannot resume: state has {key}={state.get(key)}, this sampler {getattr(self, key)}")
        self.iteration, self.batches_done = state["iteration"], state["batches_done"]


def draw_iteration(
    rng: np.random.Generator,
    group_starts: np.ndarray,
    puzzle_starts: np.ndarray,
    epochs_per_iter: int,
    global_batch_size: int,
) -> np.ndarray:
    """The global batches of one data iteration drawn from `rng`, as `[batches, global_batch_size]` row numbers.

    `group_starts` (first puzzle of each group, then the puzzle count) and `puzzle_starts` (first row of each
    puzzle, then the row count) describe the split.
    """
    order = np.concatenate([rng.permutation(len(group_starts) - 1) for _ in range(epochs_per_iter)])
    # One vectorised draw gives the same puzzles as the release's one `integers` call per group.
    puzzles = rng.integers(group_starts[order], group_starts[order + 1])
    sizes = puzzle_starts[puzzles + 1] - puzzle_starts[puzzles]
    taken = _sizes_in_full_batches(sizes, global_batch_size)
    puzzles, sizes = puzzles[: len(taken)], sizes[: len(taken)]
    owner = np.repeat(np.arange(len(puzzles)), sizes)  # the puzzle of each example slot
    first = np.repeat(np.cumsum(sizes) - sizes, sizes)  # that puzzle's first slot
    position = np.arange(len(owner)) - first
    if sizes.max(initial=1) > 1:  # a random order inside each puzzle; one-example puzzles draw nothing
        position = np.lexsort((rng.random(len(owner)), owner)) - first
    rows = puzzle_starts[puzzles][owner] + position
    return rows[np.arange(len(owner)) - first < taken[owner]].reshape(-1, global_batch_size)


def _sizes_in_full_batches(sizes: np.ndarray, global_batch_size: int) -> np.ndarray:
    """How many examples of each puzzle, in order, go into full batches: the puzzle that overflows a batch is cut
    there (the next batch starts with the next puzzle); the puzzles of the last, incomplete batch are left out."""
    ends, taken = np.cumsum(sizes), sizes.copy()
    start = 0  # the batch's first puzzle
    while start < len(sizes):
        before = ends[start] - sizes[start]
        last = int(np.searchsorted(ends, before + global_batch_size))  # the puzzle that fills the batch
        if last == len(sizes):
            return taken[:start]
        taken[last] = before + global_batch_size - (ends[last] - sizes[last])
        start = last + 1
    return taken
