"""Start-up time of the `hrm` command: `hrm --help` and each sub-command's `--help`, each in a fresh process.

    hrm bench cli [--repeats 5]

A sub-command's `--help` imports what the sub-command needs before it parses, so its time is the floor of every run
of it.
"""

import argparse
import statistics
import subprocess
import sys
import time

from .cli import SUB_COMMANDS, HelpFormatter


def startup_seconds(args: list[str], repeats: int) -> list[float]:
    """Wall seconds of `python -m hrm_hf.scripts ARGS`, `repeats` times."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "hrm_hf.scripts", *args], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="runs of each command; the median is printed")
    args = parser.parse_args(argv)
    print(f"{'command':<28}{'median s':>10}{'min s':>8}")
    for command in [["--help"], *([name, "--help"] for name in SUB_COMMANDS)]:
        times = startup_seconds(command, args.repeats)
        print(f"{'hrm ' + ' '.join(command):<28}{statistics.median(times):>10.2f}{min(times):>8.2f}")


if __name__ == "__main__":
    main()
