"""Benchmarks of the data pipeline; prints figures (not a test).

Builds, each in a child process through `hrm build-dataset`, with wall time and peak memory:
ARC-1 (training + evaluation + concept, `--arc-aug` augmentations), Sudoku-Extreme style (generated puzzles written
as CSV, then `--sudoku-aug` augmentations each) and Maze (generated as CSV, then 8 dihedral copies each); the
generation is timed separately. Then the read speed
of training batches (`--batch-size` rows) from the largest 900-token dataset built, warm, against reading the same
rows through the `datasets` torch and arrow formats.

Example:
    hrm bench data --work-dir /tmp/bench --arc-kaggle-dir data/raw/arc --workers 2
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path

import numpy as np

from ..data.maze_generator import generate_mazes
from ..data.puzzle_csv import write_puzzle_csv
from ..data.sampler import TrainBatchSampler
from ..data.storage import load_puzzle_dataset
from ..data.sudoku_generator import generate_puzzles
from .cli import HelpFormatter


def _tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) * 1024
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue
    return total


# The kernel's peak RSS of a child counts the memory of the process that spawned it (the address space it replaced
# at exec), and this one holds torch: builds are spawned from this small interpreter, which prints the peak RSS (KiB)
# of the build's largest process (its reaped workers included).
_MEASURE_PEAK_RSS = (
    "import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL); "
    "_, status, usage = os.wait4(p.pid, 0); print(usage.ru_maxrss); sys.exit(os.waitstatus_to_exitcode(status))"
)


def timed_build(args: list[str]) -> dict[str, float]:
    """Run the build CLI; wall seconds, peak RSS of the largest single process, peak RSS summed over the tree."""
    start = time.perf_counter()
    command = [sys.executable, "-c", _MEASURE_PEAK_RSS, sys.executable, "-m", "hrm_hf.scripts", "build-dataset", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    peak_tree, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak_tree
        while not done.is_set():
            peak_tree = max(peak_tree, _tree_rss_bytes(process.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    peak_kib, _ = process.communicate()
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"build failed ({process.returncode}): {args}")
    return {
        "seconds": time.perf_counter() - start,
        "peak_rss_gb": int(peak_kib) / 2**20,
        "peak_tree_rss_gb": peak_tree / 2**30,
    }


def _report(name: str, figures: dict[str, float], folder: Path) -> None:
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**30
    print(
        f"{name}: {figures['seconds']:.1f} s, peak RSS {figures['peak_rss_gb']:.2f} GB (largest process), "
        f"{figures['peak_tree_rss_gb']:.2f} GB (all processes, sampled), {size:.2f} GB on disk",
        flush=True,
    )


def _generate_csv(folder: Path, name: str, generate, count: int) -> list[str]:
    """Generate `count` training and `count` test puzzles as CSV (timed); the build CLI's source options."""
    start = time.perf_counter()
    rows = generate(2 * count, seed=0)
    write_puzzle_csv(folder / "train.csv", rows[:count])
    write_puzzle_csv(folder / "test.csv", rows[count:])
    print(f"{name} generation of {2 * count} puzzles: {time.perf_counter() - start:.1f} s", flush=True)
    return ["--csv", str(folder / "train.csv"), "--test-csv", str(folder / "test.csv")]


def bench_batches(folder: Path, batch_size: int, batches: int) -> None:
    """Rows/s of training batches, warm, and of the same rows read through `datasets` formats."""
    dataset, metadata = load_puzzle_dataset(folder, split="train")
    sampler = TrainBatchSampler(dataset, metadata, batch_size, seed=0)

    def run(count: int) -> float:
        start, done = time.perf_counter(), 0
        while done < count:
            for _ in sampler:
                done += 1
                if done == count:
                    break
        return count * batch_size / (time.perf_counter() - start)

    run(batches)  # warm the page cache and the epoch plans
    print(
        f"training batches of {batch_size} x {metadata.seq_len} from {folder.name} ({dataset.num_rows} rows): "
        f"{run(batches):,.0f} rows/s",
        flush=True,
    )
    rng = np.random.default_rng(0)
    for fmt in ("arrow", "torch"):
        formatted = dataset.with_format(fmt)
        start = time.perf_counter()
        for _ in range(20):
            formatted[rng.integers(0, dataset.num_rows, batch_size).tolist()]
        print(
            f"  same reads through datasets' {fmt} format: {20 * batch_size / (time.perf_counter() - start):,.0f} rows/s"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--work-dir", type=Path, required=True, help="scratch folder for sources and built datasets")
    parser.add_argument("--arc-kaggle-dir", type=Path, help="ARC Kaggle JSON folder; without it ARC is skipped")
    parser.add_argument("--arc-aug", type=int, default=1000, help="ARC augmentations per task (default: 1000)")
    parser.add_argument("--sudoku", type=int, default=1000, help="Sudoku training puzzles (default: 1000; 0 skips)")
    parser.add_argument("--sudoku-aug", type=int, default=1000, help="augmentations per Sudoku (default: 1000)")
    parser.add_argument("--maze", type=int, default=1000, help="training mazes, x8 dihedral (default: 1000; 0 skips)")
    parser.add_argument("--workers", type=int, default=2, help="ARC encoding processes (default: 2)")
    parser.add_argument("--batch-size", type=int, default=768, help="rows per training batch (default: 768)")
    parser.add_argument("--batches", type=int, default=300, help="batches timed (default: 300)")
    args = parser.parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    read_from = None
    if args.sudoku:
        source = _generate_csv(
            args.work_dir / "sudoku-src", "Sudoku", partial(generate_puzzles, progress=False), args.sudoku
        )
        out = args.work_dir / f"sudoku-{args.sudoku}-aug-{args.sudoku_aug}"
        figures = timed_build(["sudoku", *source, "--num-aug", str(args.sudoku_aug), "--output-dir", str(out)])
        _report(f"Sudoku {args.sudoku} x {args.sudoku_aug} augmentations (from CSV)", figures, out)
    if args.maze:
        source = _generate_csv(args.work_dir / "maze-src", "Maze", partial(generate_mazes, progress=False), args.maze)
        out = args.work_dir / f"maze-{args.maze}-aug-8"
        figures = timed_build(["maze", *source, "--dihedral-aug", "--output-dir", str(out)])
        _report(f"Maze {args.maze} x 8 (from CSV)", figures, out)
        read_from = out
    if args.arc_kaggle_dir:
        out = args.work_dir / f"arc-1-aug-{args.arc_aug}"
        figures = timed_build(
            [
                "arc",
                "--kaggle-dir",
                str(args.arc_kaggle_dir),
                "--num-aug",
                str(args.arc_aug),
                "--workers",
                str(args.workers),
                "--output-dir",
                str(out),
            ]
        )
        _report(f"ARC-1 x {args.arc_aug} augmentations ({args.workers} workers)", figures, out)
        read_from = out
    if read_from is not None:
        bench_batches(read_from, args.batch_size, args.batches)


if __name__ == "__main__":
    main()
