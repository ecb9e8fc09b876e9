"""Fault injection: a training process SIGKILLed inside a checkpoint rewrite (old `step-N` moved aside, the new one
not yet renamed in) resumes with `--resume-from-checkpoint latest` to the weights of an uninterrupted run."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from hrm_hf.training.checkpoint import KILL_IN_REWRITE_ENV, list_checkpoints

from . import test_train_loop
from .test_train_loop import TINY, assert_same_weights, weights


tiny_data = test_train_loop.tiny_data  # the same 4x4 Sudoku fixture


def train_command(data: Path, output_dir: Path, *extra: str) -> list[str]:
    """`hrm train` of 10 steps on the tiny data, a checkpoint every 5 (only the newest kept), EMA on."""
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()]
    flags += ["--preset", "cpu-demo", "--data-path", str(data), "--puzzle-emb-ndim", "32", "--max-steps", "10",
              "--checkpoint-every", "5", "--keep-last", "1", "--ema", "--ema-rate", "0.9", "--halt-exploration-prob",
              "0.5", "--output-dir", str(output_dir), *extra]  # fmt: skip
    return [sys.executable, "-m", "hrm_hf.scripts", "train", *flags]


def train_env(kill_at: int | None = None) -> dict[str, str]:
    """One thread, and the checkpoint-rewrite kill hook set for step `kill_at` only."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop(KILL_IN_REWRITE_ENV, None)
    if kill_at is not None:
        env[KILL_IN_REWRITE_ENV] = str(kill_at)
    return env


def hrm_train(data: Path, output_dir: Path, *extra: str, kill_at: int | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        train_command(data, output_dir, *extra), env=train_env(kill_at), capture_output=True, text=True, timeout=300
    )


def test_sigkill_inside_a_checkpoint_rewrite_resumes_to_the_uninterrupted_weights(tiny_data, tmp_path):
    full = hrm_train(tiny_data, tmp_path / "full")
    assert full.returncode == 0, full.stderr[-3000:]

    # max_steps divides by checkpoint_every: the final evaluation rewrites the in-loop `step-10`; with keep_last 1
    # it is the only checkpoint, so an `rmtree`-then-`rename` rewrite killed halfway would leave none.
    killed = hrm_train(tiny_data, tmp_path / "killed", kill_at=10)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    root = tmp_path / "killed" / "checkpoints"
    assert sorted(p.name for p in root.iterdir()) == [".old-step-10", ".tmp-step-10"]
    assert not (tmp_path / "killed" / "model").exists()

    resumed = hrm_train(tiny_data, tmp_path / "killed", "--resume-from-checkpoint", "latest")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resumed from" in resumed.stdout and "at step 10." in resumed.stdout
    assert [p.name for p in list_checkpoints(tmp_path / "killed")] == ["step-10"]
    assert sorted(p.name for p in root.iterdir()) == ["step-10"]
    assert_same_weights(weights(tmp_path / "full" / "model"), weights(tmp_path / "killed" / "model"), atol=0)
