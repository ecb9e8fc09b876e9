"""`hrm bench <what>`: the developer benchmarks, one command.

    hrm bench step                                   # a training step: eager vs compile, float32 vs bfloat16
    hrm bench train --preset cpu-demo --seq-len 16 --vocab-size 6 --steps 50
    hrm bench segment --batch-size 64 --compile
    hrm bench data --work-dir /tmp/bench
    hrm bench sampler --preset sudoku-extreme-1k
    hrm bench cli
    hrm bench families --seconds 60                  # HRM and TRM on 4x4 Sudoku, the same budget each
    hrm bench demo --seconds 600                     # the recipes calibrated for `hrm demo`'s 9x9 Sudoku

`hrm bench <what> --help` lists the options of each. A benchmark's module is imported only once it is chosen.
"""

import importlib
import sys


# benchmark: (module under hrm_hf.scripts, one-line description)
BENCHMARKS = {
    "step": ("bench_step", "a training step at the reference shape: eager vs --compile, float32 vs bfloat16"),
    "train": ("bench_train", "training examples/s and peak memory for a preset"),
    "segment": ("bench_segment", "one training segment (forward + backward) of the model alone"),
    "data": ("bench_data", "dataset build times, peak memory and batch read rate"),
    "sampler": ("bench_sampler", "batches per data iteration and per-group visit counts for a preset"),
    "cli": ("bench_cli", "start-up time of `hrm` and of each sub-command"),
    "families": ("bench_families", "HRM vs TRM on the CPU: held-out accuracy against training time and parameters"),
    "demo": ("bench_demo", "the recipes of `hrm demo`'s 9x9 Sudoku: held-out accuracy against training time"),
}


def usage() -> str:
    width = max(map(len, BENCHMARKS))
    lines = [f"  {name:<{width}}  {description}" for name, (_, description) in BENCHMARKS.items()]
    return (
        "usage: hrm bench <what> [options]\n\n"
        + __doc__.split("\n\n", 1)[1]
        + "\nbenchmarks:\n"
        + "\n".join(lines)
        + "\n"
    )


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark named by the first argument with the rest of the arguments."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), end="")
        return
    name, rest = argv[0], argv[1:]
    if name not in BENCHMARKS:
        sys.stderr.write(usage() + f"\nerror: unknown benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}.\n")
        sys.exit(2)
    sys.argv = [f"hrm bench {name}", *rest]  # argparse takes its `prog` from here
    importlib.import_module(f"hrm_hf.scripts.{BENCHMARKS[name][0]}").main(rest)


if __name__ == "__main__":
    main()
