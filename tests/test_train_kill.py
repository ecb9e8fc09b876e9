"""Fault injection: a training process SIGKILLed inside a checkpoint rewrite (old `step-N` moved aside, the new one
not yet renamed in) resumes with `--resume-from-checkpoint latest` to the weights of an uninterrupted run."""

import signal
import subprocess
from pathlib import Path

from hrm_hf.training.checkpoint import list_checkpoints
from tests.helpers import assert_same_weights, train_command, train_env, weights


def hrm_train(
    data: Path, output_dir: Path, *extra: str, kill_in_rewrite_of: int | None = None
) -> subprocess.CompletedProcess:
    command = train_command(data, output_dir, *extra, kill_in_rewrite_of=kill_in_rewrite_of)
    return subprocess.run(command, env=train_env(), capture_output=True, text=True, timeout=300)


def test_sigkill_inside_a_checkpoint_rewrite_resumes_to_the_uninterrupted_weights(tiny_data, tmp_path):
    full = hrm_train(tiny_data, tmp_path / "full")
    assert full.returncode == 0, full.stderr[-3000:]

    # max_steps divides by checkpoint_every: the final evaluation rewrites the in-loop `step-10`; with keep_last 1
    # it is the only checkpoint, so an `rmtree`-then-`rename` rewrite killed halfway would leave none.
    killed = hrm_train(tiny_data, tmp_path / "killed", kill_in_rewrite_of=10)
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
