"""A training step at the reference shape, eager and compiled, in float32 and bfloat16: what `--compile` and
`--forward-dtype` buy on this device.

    hrm bench step                      # hidden 256, 4+4 layers, 2x2 cycles, seq_len 81, batch 32, puzzle table
    hrm bench step --steps 5 --global-batch-size 64

Each of the four runs is `hrm bench train`'s real training step (one ACT segment, both optimizers) on random puzzles,
in a process of its own; compilation happens in the untimed warm-up steps. Any training-config option overrides the
reference shape. One process per run: under `accelerate launch`, use `hrm bench train` instead.
"""

import argparse
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor

from .bench_train import add_data_options, measure_training
from .cli import HelpFormatter


# The reference shape: the paper's Sudoku model at half width, one Sudoku batch of 32 rows, a puzzle table.
REFERENCE = [
    "--preset", "sudoku-extreme-1k", "--hidden-size", "256", "--num-heads", "4", "--H-layers", "4", "--L-layers", "4",
    "--H-cycles", "2", "--L-cycles", "2", "--global-batch-size", "32",
]  # fmt: skip
RUNS = [("float32", False), ("float32", True), ("bfloat16", False), ("bfloat16", True)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--steps", type=int, default=10, help="timed optimizer steps per run")
    parser.add_argument("--warmup-steps", type=int, default=3, help="untimed steps first (compilation happens here)")
    add_data_options(parser)
    parser.set_defaults(num_puzzle_identifiers=1000)
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if args.steps < 1 or args.warmup_steps < 1:
        raise ValueError(
            f"--steps and --warmup-steps must be at least 1 (compilation needs a warm-up), got {args.steps}, "
            f"{args.warmup_steps}."
        )
    results = []
    for dtype, compiled in RUNS:
        config_args = [*REFERENCE, "--forward-dtype", dtype, *(["--compile"] if compiled else []), *rest]
        measure = (
            config_args,
            args.steps,
            args.warmup_steps,
            args.seq_len,
            args.vocab_size,
            args.num_puzzle_identifiers,
        )
        # Each run in a fresh process: Accelerate's state and torch.compile's caches live per process, and a second
        # Accelerator in one process keeps the first one's compile setting.
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            result, _ = pool.submit(measure_training, *measure).result()
        results.append((dtype, compiled, result))
        print(f"{dtype:<9} {'compile' if compiled else 'eager':<8} {result.ms_per_step:8.1f} ms/step", flush=True)
    baseline = results[0][2].ms_per_step
    print(f"\n{results[0][2].device}, seq_len {args.seq_len}, global batch {results[0][2].global_batch_size}:")
    print(f"{'forward':<9} {'mode':<8} {'ms/step':>8} {'examples/s':>11} {'speed-up':>9}")
    for dtype, compiled, result in results:
        print(
            f"{dtype:<9} {'compile' if compiled else 'eager':<8} {result.ms_per_step:8.1f} "
            f"{result.examples_per_second:11.1f} {baseline / result.ms_per_step:8.2f}x"
        )


if __name__ == "__main__":
    main()
