"""Training throughput of a preset on this device: examples per second and peak memory.

    hrm bench-train --preset cpu-demo --seq-len 16 --vocab-size 6 --steps 50
    hrm bench-train --preset sudoku-extreme-1k --steps 20 --global-batch-size 768   # on a GPU

Runs the real training step (one ACT segment, both optimizers) on random puzzles of the given shape, so it needs no
dataset; any training-config option (`--preset`, `--hidden-size`, `--global-batch-size`, `--compile`, ...; see
`hrm train --help`) overrides the preset.
"""

import argparse
import resource
import sys
import time

import numpy as np
import torch
from datasets import Dataset, DatasetDict

from ..data.metadata import PuzzleDatasetMetadata
from ..training.config import parse_config
from ..training.loop import Trainer
from .cli import HelpFormatter


def synthetic_dataset(rows: int, seq_len: int, vocab_size: int, identifiers: int, seed: int = 0):
    """Random puzzles (one example per puzzle and group) in the layout `data/` writes."""
    rng = np.random.default_rng(seed)
    columns = {
        "input_ids": rng.integers(1, vocab_size, (rows, seq_len), dtype=np.int8).tolist(),
        "labels": rng.integers(1, vocab_size, (rows, seq_len), dtype=np.int8).tolist(),
        "puzzle_identifiers": rng.integers(1 if identifiers > 1 else 0, identifiers, rows).tolist(),
        "puzzle_index": list(range(rows)),
        "group_index": list(range(rows)),
    }
    split = Dataset.from_dict(columns)
    metadata = PuzzleDatasetMetadata(
        vocab_size=vocab_size, seq_len=seq_len, num_puzzle_identifiers=identifiers, total_groups=rows,
        mean_puzzle_examples=1.0, task="synthetic",
    )  # fmt: skip
    return DatasetDict(train=split, test=split.select(range(1))), {"train": metadata, "test": metadata}


def peak_memory_gib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="timed optimizer steps")
    parser.add_argument("--warmup-steps", type=int, default=3, help="untimed steps first (compilation, caches)")
    parser.add_argument("--seq-len", type=int, default=81, help="tokens per random puzzle (default: 81, Sudoku)")
    parser.add_argument("--vocab-size", type=int, default=11, help="token ids of the random puzzles (default: 11)")
    parser.add_argument(
        "--num-puzzle-identifiers", type=int, default=1, help="rows of the puzzle-embedding table (default: 1)"
    )
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    config = parse_config(
        [*rest, "--data-path", "synthetic", "--output-dir", "outputs/bench", "--eval-interval", "1000000"]
    )
    total = args.steps + args.warmup_steps
    rows = config.global_batch_size * (total + 1)
    dataset = synthetic_dataset(rows, args.seq_len, args.vocab_size, args.num_puzzle_identifiers, config.seed)
    trainer = Trainer(config, dataset=dataset)
    device = trainer.accelerator.device
    batches = iter(trainer.sampler)

    def run(steps: int) -> None:
        for _ in range(steps):
            trainer.train_step({k: v.to(device) for k, v in next(batches).items()})
        if device.type == "cuda":
            torch.cuda.synchronize()

    run(args.warmup_steps)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    run(args.steps)
    elapsed = time.perf_counter() - start
    examples = args.steps * config.global_batch_size
    if trainer.accelerator.is_main_process:
        name = (
            torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
        )
        print(
            f"{name} x{trainer.accelerator.num_processes}: {examples / elapsed:.1f} training examples/s "
            f"({args.steps / elapsed:.2f} steps/s, global batch {config.global_batch_size}, seq_len {args.seq_len}), "
            f"peak memory {peak_memory_gib(device):.2f} GiB ({'GPU allocated' if device.type == 'cuda' else 'process RSS'})"
        )


if __name__ == "__main__":
    main()
