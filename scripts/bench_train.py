"""Training throughput of a preset on this device: examples per second and peak memory.

    hrm bench train --preset cpu-demo --seq-len 16 --vocab-size 6 --steps 50
    hrm bench train --preset sudoku-extreme-1k --steps 20 --global-batch-size 768   # on a GPU

Runs the real training step (one ACT segment, both optimizers) on random puzzles of the given shape, so it needs no
dataset; any training-config option (`--preset`, `--hidden-size`, `--global-batch-size`, `--compile`, ...; see
`hrm train --help`) overrides the preset. The preset's epochs and evaluation interval do not apply: the random data
holds exactly the batches the benchmark takes.
"""

import argparse
import resource
import sys
import tempfile
import time
from dataclasses import dataclass

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


@dataclass
class Throughput:
    """Timed training steps: where they ran, how fast, and the peak memory."""

    device: str
    processes: int
    steps: int
    seconds: float
    global_batch_size: int
    peak_memory_gib: float
    memory_kind: str

    @property
    def ms_per_step(self) -> float:
        return 1000 * self.seconds / self.steps

    @property
    def examples_per_second(self) -> float:
        return self.steps * self.global_batch_size / self.seconds


def measure_training(
    config_args: list[str], steps: int, warmup_steps: int, seq_len: int, vocab_size: int, identifiers: int
) -> tuple[Throughput, bool]:
    """Time `steps` training steps after `warmup_steps` untimed ones, with the training config of `config_args`;
    also whether this process is the main one (the one that prints)."""
    with tempfile.TemporaryDirectory() as output_dir:
        # One epoch per iteration: the random split holds one batch per step, so the sampler plans no more than that.
        config = parse_config(
            [*config_args, "--data-path", "synthetic", "--output-dir", output_dir, "--epochs", "1",
             "--eval-interval", "1"]
        )  # fmt: skip
        rows = config.global_batch_size * (steps + warmup_steps + 1)
        trainer = Trainer(config, dataset=synthetic_dataset(rows, seq_len, vocab_size, identifiers, config.seed))
        device = trainer.accelerator.device
        batches = iter(trainer.sampler)

        def run(count: int) -> None:
            for _ in range(count):
                trainer.train_step({k: v.to(device) for k, v in next(batches).items()})
            trainer.note_nonfinite_steps()  # waits for the device, as a log does
            if device.type == "cuda":
                torch.cuda.synchronize()

        run(warmup_steps)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        start = time.perf_counter()
        run(steps)
        elapsed = time.perf_counter() - start
        name = (
            torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
        )
        throughput = Throughput(
            name, trainer.accelerator.num_processes, steps, elapsed, config.global_batch_size,
            peak_memory_gib(device), "GPU allocated" if device.type == "cuda" else "process RSS",
        )  # fmt: skip
        return throughput, trainer.accelerator.is_main_process


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """The random puzzles' shape, the options besides the training config's."""
    parser.add_argument("--seq-len", type=int, default=81, help="tokens per random puzzle (default: 81, Sudoku)")
    parser.add_argument("--vocab-size", type=int, default=11, help="token ids of the random puzzles (default: 11)")
    parser.add_argument(
        "--num-puzzle-identifiers", type=int, default=1, help="rows of the puzzle-embedding table (default: 1)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="timed optimizer steps")
    parser.add_argument("--warmup-steps", type=int, default=3, help="untimed steps first (compilation, caches)")
    add_data_options(parser)
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if args.steps < 1 or args.warmup_steps < 0:
        raise ValueError(
            f"--steps must be at least 1 and --warmup-steps at least 0, got {args.steps}, {args.warmup_steps}."
        )
    result, is_main = measure_training(
        rest, args.steps, args.warmup_steps, args.seq_len, args.vocab_size, args.num_puzzle_identifiers
    )
    if is_main:
        print(
            f"{result.device} x{result.processes}: {result.examples_per_second:.1f} training examples/s "
            f"({1000 / result.ms_per_step:.2f} steps/s, global batch {result.global_batch_size}, seq_len "
            f"{args.seq_len}), peak memory {result.peak_memory_gib:.2f} GiB ({result.memory_kind})"
        )


if __name__ == "__main__":
    main()
