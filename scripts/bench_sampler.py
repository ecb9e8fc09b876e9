"""Print the training data order's statistics for a preset: batches per data iteration and per-group visit counts
(examples drawn per group: visits, for one-example puzzles).

    hrm bench sampler --preset sudoku-extreme-1k --groups 1000 --puzzles-per-group 1001
    hrm bench sampler --preset arc-1 --data-path data/arc-1

The batches come from the same planning as training (`data.sampler.draw_iteration`), which for one-example puzzles
is the authors' `PuzzleDataset` stream, so the figures are theirs too. Without `--data-path` the split is synthetic:
`--groups` groups of `--puzzles-per-group` puzzles with `--examples-per-puzzle` examples each (only the sizes
matter). Examples drawn are counted over the steps the run trains (the schedule's estimate, or `--max-steps`).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ..data.sampler import TrainBatchSampler, draw_iteration
from ..training.config import load_preset
from .cli import HelpFormatter


def synthetic_layout(groups: int, puzzles_per_group: int, examples_per_puzzle: int) -> tuple[np.ndarray, np.ndarray]:
    """(group_starts, puzzle_starts) of a split of equal groups and puzzles."""
    group_starts = np.arange(groups + 1) * puzzles_per_group
    puzzle_starts = np.arange(groups * puzzles_per_group + 1) * examples_per_puzzle
    return group_starts, puzzle_starts


def dataset_layout(data_path: str) -> tuple[np.ndarray, np.ndarray]:
    """(group_starts, puzzle_starts) of the training split of a saved dataset."""
    from ..data.storage import load_puzzle_dataset

    dataset, metadata = load_puzzle_dataset(data_path)
    sampler = TrainBatchSampler(dataset["train"], metadata["train"], 1)
    return sampler.group_starts, sampler.puzzle_starts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    parser.add_argument("--preset", default="sudoku-extreme-1k", help="preset giving batch, epochs, eval_interval")
    parser.add_argument("--data-path", help="a saved dataset (default: a synthetic split of the sizes below)")
    parser.add_argument("--groups", type=int, default=1000, help="synthetic split: number of groups")
    parser.add_argument("--puzzles-per-group", type=int, default=1001, help="synthetic split: puzzles per group")
    parser.add_argument("--examples-per-puzzle", type=int, default=1, help="synthetic split: examples per puzzle")
    parser.add_argument("--global-batch-size", type=int, help="override the preset's global batch size")
    parser.add_argument("--max-steps", type=int, help="count visits over this many steps (default: the estimate)")
    parser.add_argument("--seed", type=int, help="override the preset's seed")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    preset = load_preset(args.preset)
    batch = args.global_batch_size or preset["global_batch_size"]
    epochs, per_iter = preset["epochs"], preset["eval_interval"]
    seed = preset.get("seed", 0) if args.seed is None else args.seed
    if args.data_path:
        group_starts, puzzle_starts = dataset_layout(args.data_path)
    else:
        group_starts, puzzle_starts = synthetic_layout(args.groups, args.puzzles_per_group, args.examples_per_puzzle)
    groups = len(group_starts) - 1
    group_of_row = np.repeat(np.arange(groups), np.diff(puzzle_starts[group_starts]))
    mean_examples = puzzle_starts[-1] / (len(puzzle_starts) - 1)
    estimate = int(epochs * groups * mean_examples / batch)  # the release's schedule length
    steps_left = args.max_steps or estimate
    print(f"preset {args.preset}: global batch {batch}, {epochs} epochs, {per_iter} per iteration, seed {seed}; "
          f"{groups} groups, {len(puzzle_starts) - 1} puzzles, {puzzle_starts[-1]} examples; step estimate {estimate}")  # fmt: skip
    visits = np.zeros(groups, dtype=np.int64)
    batches_per_iter, started = [], time.perf_counter()
    for iteration in range(epochs // per_iter):
        rng = np.random.Generator(np.random.Philox(seed=seed + iteration + 1))
        plan = draw_iteration(rng, group_starts, puzzle_starts, per_iter, batch)
        batches_per_iter.append(len(plan))
        trained = plan[:steps_left]
        steps_left -= len(trained)
        visits += np.bincount(group_of_row[trained.ravel()], minlength=groups)
        if not steps_left:
            break
    elapsed = time.perf_counter() - started
    print(f"batches per iteration: {batches_per_iter} (iterations planned: {len(batches_per_iter)}, "
          f"{elapsed / len(batches_per_iter):.2f} s each)")  # fmt: skip
    print(f"steps trained: {(args.max_steps or estimate) - steps_left} (the run ends with its iterations or at "
          f"{args.max_steps or estimate} steps)")  # fmt: skip
    print(f"per-group examples drawn: mean {visits.mean():.2f}, std {visits.std():.3f}, min {visits.min()}, max {visits.max()}, "
          f"never visited {int((visits == 0).sum())}")  # fmt: skip


if __name__ == "__main__":
    main()
