"""Kill audit: SIGKILL a tiny `hrm train` run at seeded random moments, resume each with
`--resume-from-checkpoint latest` until it finishes, and compare what it ends with to an uninterrupted run.

    python -m tests.audit_kills [--seed 0]

A kill lands at one of three kinds of moment: `time` (a random delay once training has begun), `write` (a few
milliseconds after a checkpoint's `.tmp-step-N` folder appears, so inside its write), or `hook` (deterministic: the
process kills itself inside the final rewrite of the last checkpoint, once the old folder is set aside, here on a run
that was itself resumed after an earlier kill). A run killed before its first checkpoint is complete has nothing to resume: it is started again with
`--overwrite-output-dir`. Prints one line per kill, then the kills survived and the largest difference, over every
value, between the interrupted and the uninterrupted run: model weights, the puzzle table, the Adam-atan2 state
(`optimizer.bin`), the trainer's objects (sparse SignSGD, schedules, sampler, EMA), the carry and the trainer state.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from hrm_hf.training.checkpoint import list_checkpoints
from tests.helpers import build_tiny_data, train_command, train_env


MAX_STEPS, CHECKPOINT_EVERY = 40, 5
RUN_FLAGS = ["--max-steps", str(MAX_STEPS), "--checkpoint-every", str(CHECKPOINT_EVERY)]
# Each chain is one output folder: its first runs are killed as listed, then it is resumed until it finishes.
CHAINS = [["time"], ["time"], ["write"], ["write"], ["time", "write"], ["write", "hook"], ["time", "hook"]]
POLL_S = 0.001


@dataclass
class Kill:
    """`kind`, and two seeded draws in [0, 1): `at` picks the moment (a `time` kill: the fraction of the training
    window; a `write` kill: which of the checkpoints still to come), `jitter` the milliseconds into a write."""

    kind: str
    at: float
    jitter: float


def launch(
    output_dir: Path, data: Path, *extra: str, kill_in_rewrite_of: int | None = None
) -> tuple[subprocess.Popen, Path]:
    log = output_dir.with_name(output_dir.name + f"-{time.monotonic_ns()}.log")
    with log.open("w") as handle:
        process = subprocess.Popen(
            train_command(data, output_dir, *RUN_FLAGS, *extra, kill_in_rewrite_of=kill_in_rewrite_of),
            env=train_env(),
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    return process, log


def wait_for(process: subprocess.Popen, ready: Callable[[], bool]) -> bool:
    """Poll until `ready()` (True) or the process ends (False)."""
    while not ready():
        if process.poll() is not None:
            return False
        time.sleep(POLL_S)
    return True


def latest_step(output_dir: Path) -> int:
    found = list_checkpoints(output_dir)
    return int(found[-1].name.removeprefix("step-")) if found else 0


def run_killed(output_dir: Path, data: Path, kill: Kill, window_s: float, *extra: str) -> str:
    """Start a run and SIGKILL it at the moment `kill` names; returns the moment and what happened, in words."""
    if kill.kind == "hook":
        process, _ = launch(output_dir, data, *extra, kill_in_rewrite_of=MAX_STEPS)
        process.wait()
        done = "killed" if process.returncode == -signal.SIGKILL else f"missed ({process.returncode})"
        return f"inside the final rewrite of step-{MAX_STEPS} (hook): {done}"
    if kill.kind == "time":
        # counted from the moment the run makes its output folder (already there for a resumed run: its start)
        delay_s, ready, moment = kill.at * window_s, output_dir.is_dir, f"{kill.at * window_s * 1000:.0f} ms"
    else:
        # one of the checkpoints this run still writes (the final rewrite of the last one when no other is left)
        to_come = [s for s in range(CHECKPOINT_EVERY, MAX_STEPS + 1, CHECKPOINT_EVERY) if s > latest_step(output_dir)]
        to_come = to_come or [MAX_STEPS]
        step = to_come[int(kill.at * len(to_come))]
        delay_s, ready = kill.jitter * 0.005, (output_dir / "checkpoints" / f".tmp-step-{step}").is_dir
        moment = f"{delay_s * 1000:.1f} ms into the write of step-{step}"
    process, _ = launch(output_dir, data, *extra)
    if not wait_for(process, ready):
        return f"{moment}: ended before the kill ({process.returncode})"
    time.sleep(delay_s)
    if process.poll() is not None:
        return f"{moment}: ended before the kill ({process.returncode})"
    process.send_signal(signal.SIGKILL)
    process.wait()
    return f"{moment}: killed"


def finish(output_dir: Path, data: Path) -> int:
    """Resume with `latest` until the run completes (a fresh start where no checkpoint survived); returns the runs."""
    for runs in range(1, 6):
        process, log = launch(output_dir, data, "--resume-from-checkpoint", "latest")
        process.wait()
        if process.returncode == 0:
            return runs
        if "no checkpoint under" not in log.read_text():
            raise RuntimeError(f"resuming {output_dir} failed:\n{log.read_text()[-3000:]}")
        process, log = launch(output_dir, data, "--overwrite-output-dir")
        process.wait()
        if process.returncode == 0:
            return runs + 1
    raise RuntimeError(f"{output_dir} did not finish in 5 resumptions:\n{log.read_text()[-3000:]}")


def on_disk(output_dir: Path) -> str:
    root = output_dir / "checkpoints"
    names = sorted(p.name for p in root.iterdir()) if root.is_dir() else []
    model = "model/" if (output_dir / "model").is_dir() else "no model/"
    return f"{', '.join(names) or 'no checkpoints'}; {model}"


def final_state(output_dir: Path) -> dict[str, Any]:
    """Everything the run ends with that must equal the uninterrupted run's."""
    last = output_dir / "checkpoints" / f"step-{MAX_STEPS}"
    weights = load_file(output_dir / "model" / "model.safetensors")
    return {
        "model weights": {k: v for k, v in weights.items() if k != "puzzle_emb.weight"},
        "puzzle table": weights["puzzle_emb.weight"],
        "checkpoint weights": load_file(last / "model.safetensors"),
        "Adam-atan2 state": torch.load(last / "optimizer.bin", weights_only=True),
        "trainer objects": torch.load(last / "trainer_objects.pt", weights_only=True),
        "carry": load_file(last / "carry_0.safetensors"),
        "trainer state": json.loads((last / "trainer_state.json").read_text()),
    }


def max_difference(a: Any, b: Any) -> float:
    """Largest absolute difference between two nested structures of tensors; inf where they differ otherwise."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.shape != b.shape or a.dtype != b.dtype:
            return float("inf")
        if not a.is_floating_point():
            return 0.0 if torch.equal(a, b) else float("inf")
        return (a.double() - b.double()).abs().max().item() if a.numel() else 0.0
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return float("inf")
        return max((max_difference(a[k], b[k]) for k in a), default=0.0)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        if len(a) != len(b):
            return float("inf")
        return max((max_difference(x, y) for x, y in zip(a, b, strict=True)), default=0.0)
    return 0.0 if a == b else float("inf")


def plan(rng: random.Random) -> list[list[Kill]]:
    return [[Kill(kind, rng.random(), rng.random()) for kind in kinds] for kinds in CHAINS]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments (default: 0)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hrm-kills-") as tmp:
        root = Path(tmp)
        data = build_tiny_data(root / "data")
        reference = root / "uninterrupted"
        process, log = launch(reference, data)
        if not wait_for(process, reference.is_dir):
            raise RuntimeError(f"the uninterrupted run failed:\n{log.read_text()[-3000:]}")
        started = time.perf_counter()
        wait_for(process, (reference / "model").is_dir)
        window_s = time.perf_counter() - started  # training: from making the output folder to writing the model
        if process.wait() != 0:
            raise RuntimeError(f"the uninterrupted run failed:\n{log.read_text()[-3000:]}")
        print(f"uninterrupted run: {MAX_STEPS} steps, {window_s:.2f} s from making its output folder to its model")
        expected = final_state(reference)

        kills = survived = 0
        worst: dict[str, float] = dict.fromkeys(expected, 0.0)
        for number, chain in enumerate(plan(random.Random(args.seed))):
            output_dir = root / f"chain-{number}"
            landed = 0
            for kill in chain:
                extra = ["--resume-from-checkpoint", "latest"] if (output_dir / "checkpoints").is_dir() else []
                what = run_killed(output_dir, data, kill, window_s, *extra)
                landed += what.endswith("killed")
                print(f"chain {number}: {kill.kind} kill {what}; left {on_disk(output_dir)}", flush=True)
            runs = finish(output_dir, data)
            differences = {
                name: max_difference(value, expected[name]) for name, value in final_state(output_dir).items()
            }
            worst = {name: max(worst[name], differences[name]) for name in worst}
            kills += landed
            survived += landed if all(d == 0.0 for d in differences.values()) else 0
            print(
                f"chain {number}: finished after {runs} more run(s); max |difference| {max(differences.values()):.3g}"
            )
        print(f"\nkills: {sum(map(len, CHAINS))} planned, {kills} landed, {survived} survived (the final state "
              "equals the uninterrupted run's)")  # fmt: skip
        for name, value in worst.items():
            print(f"  max |difference| {name}: {value:.3g}")


if __name__ == "__main__":
    main()
