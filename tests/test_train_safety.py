"""Training never loses a user's work and never runs a stranger's code: checkpoints hold no code-running pickles and
are rewritten by moving the old folder aside, `latest` picks only complete ones, an output folder holding another run
is refused, a diverged model is never saved or pushed, a failed push is one line with its own exit code, and NaN
logits are never counted as correct."""

import math
import sys
from pathlib import Path

import pytest
import torch

from hrm_hf.training.checkpoint import (
    COMPLETE_MARKER,
    TRAINER_OBJECTS,
    carry_file,
    list_checkpoints,
    recover_checkpoints,
    resolve_checkpoint,
)
from hrm_hf.training.config import ConfigError
from hrm_hf.training.loop import NonFiniteModelError, PushFailedError, Trainer, train
from tests.helpers import RunsCode, assert_same_weights, tiny_run_config, weights


def make_checkpoint(folder: Path, complete: bool = True) -> Path:
    folder.mkdir(parents=True)
    (folder / "trainer_state.json").write_text("{}")
    if complete:
        (folder / COMPLETE_MARKER).write_text("done\n")
    return folder


def test_checkpoint_holds_the_carry_in_safetensors_and_no_accelerate_custom_pickles(tiny_data, tmp_path):
    train(tiny_run_config(tiny_data, tmp_path, max_steps=2, ema=True))
    (checkpoint,) = list_checkpoints(tmp_path)
    names = {p.name for p in checkpoint.iterdir()}
    assert carry_file(checkpoint, 0).name == "carry_0.safetensors" and "carry_0.safetensors" in names
    assert not [name for name in names if name.startswith("custom_checkpoint") or name.startswith("carry_0.pt")]
    states = torch.load(checkpoint / TRAINER_OBJECTS, weights_only=True)
    assert set(states) == {"dense_schedule", "sampler", "sparse", "sparse_schedule", "ema"}


@pytest.mark.parametrize("target", [TRAINER_OBJECTS, "carry_0.safetensors"])
def test_a_crafted_checkpoint_file_runs_no_code_on_resume(tiny_data, tmp_path, target):
    train(tiny_run_config(tiny_data, tmp_path, max_steps=2))
    (checkpoint,) = list_checkpoints(tmp_path)
    ran = tmp_path / "code-ran"
    torch.save(RunsCode(ran), checkpoint / target)
    with pytest.raises(ValueError, match=f"Checkpoint file .*{target}: cannot be read"):
        train(tiny_run_config(tiny_data, tmp_path, max_steps=2, resume_from_checkpoint="latest"))
    assert not ran.exists()


def test_a_truncated_checkpoint_is_a_one_line_error(tiny_data, tmp_path):
    train(tiny_run_config(tiny_data, tmp_path, max_steps=2))
    (checkpoint,) = list_checkpoints(tmp_path)
    model_file = checkpoint / "model.safetensors"
    model_file.write_bytes(model_file.read_bytes()[:100])
    with pytest.raises(ValueError, match=r"^Checkpoint .*step-2: cannot be read \([^\n]*\)\.$"):
        train(tiny_run_config(tiny_data, tmp_path, max_steps=2, resume_from_checkpoint="latest"))


def test_latest_picks_only_complete_checkpoints(tmp_path):
    root = tmp_path / "checkpoints"
    make_checkpoint(root / "step-5")
    make_checkpoint(root / "step-10", complete=False)  # killed while written (or by an older version)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-5"]
    assert resolve_checkpoint("latest", tmp_path).name == "step-5"
    with pytest.raises(FileNotFoundError, match="not a complete checkpoint"):
        resolve_checkpoint(str(root / "step-10"), tmp_path)


def test_recovery_finishes_an_interrupted_rewrite_and_drops_stale_folders(tmp_path):
    root = tmp_path / "checkpoints"
    make_checkpoint(root / "step-5")
    make_checkpoint(root / ".old-step-10")  # killed after moving the old one aside, before renaming the new one in
    make_checkpoint(root / ".tmp-step-10", complete=False)
    make_checkpoint(root / ".tmp-step-15")  # complete, killed before its rename
    make_checkpoint(root / "step-15", complete=False)
    make_checkpoint(root / ".tmp-step-20", complete=False)  # a kill while writing: stale
    recover_checkpoints(tmp_path)
    assert sorted(p.name for p in root.iterdir()) == ["step-10", "step-15", "step-5"]
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-5", "step-10", "step-15"]


def test_an_output_dir_holding_another_run_is_refused_unless_overwriting(tiny_data, tmp_path):
    train(tiny_run_config(tiny_data, tmp_path, max_steps=9, checkpoint_every=3, keep_last=0))
    before = weights(tmp_path / "model")
    with pytest.raises(ConfigError, match="`output_dir`: .* holds another run \\(model, checkpoints\\)"):
        train(tiny_run_config(tiny_data, tmp_path, max_steps=4, checkpoint_every=2))
    assert_same_weights(weights(tmp_path / "model"), before, atol=0)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-3", "step-6", "step-9"]
    # Overwriting drops the old run's checkpoints: rotation keeps the new run's, not the old run's higher steps.
    train(
        tiny_run_config(tiny_data, tmp_path, max_steps=4, checkpoint_every=2, keep_last=2, overwrite_output_dir=True)
    )
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-2", "step-4"]
    assert resolve_checkpoint("latest", tmp_path).name == "step-4"


def test_an_output_dir_that_is_a_file_is_refused(tiny_data, tmp_path):
    (tmp_path / "run").write_text("mine")
    with pytest.raises(ConfigError, match="`output_dir`: .* is a file, not a folder"):
        train(tiny_run_config(tiny_data, tmp_path / "run", max_steps=2))
    assert (tmp_path / "run").read_text() == "mine"


def test_a_diverged_model_is_never_saved_or_pushed(tiny_data, tmp_path, monkeypatch):
    pushed = []
    monkeypatch.setattr("hrm_hf.hub.prepare_repo", lambda *args: None)  # no Hub here
    monkeypatch.setattr("hrm_hf.training.loop.push_folder", lambda *args: pushed.append(args))
    config = tiny_run_config(tiny_data, tmp_path, max_steps=2, max_nonfinite_steps=100, push_to_hub="me/model")
    trainer = Trainer(config)
    with torch.no_grad():
        trainer.unwrapped.lm_head.weight.fill_(float("nan"))
    with pytest.raises(NonFiniteModelError, match=r"NaN or inf at step 2 in 1 of \d+ tensors \(lm_head.weight\)"):
        trainer.fit()
    assert not (tmp_path / "model").exists() and not pushed
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-2"]


def test_a_failed_push_says_where_the_model_is_and_exits_with_3(tiny_data, tmp_path, monkeypatch, capsys):
    from hrm_hf.scripts import cli

    def refuse(folder, repo_id, **options):
        raise RuntimeError("401 Client Error: Unauthorized\nfor url https://huggingface.co/api/repos/create")

    monkeypatch.setattr("hrm_hf.hub.prepare_repo", lambda *args: None)  # the repo is created at start
    monkeypatch.setattr("hrm_hf.training.loop.push_folder", refuse)
    config = tiny_run_config(tiny_data, tmp_path / "run", max_steps=2, push_to_hub="me/model")
    with pytest.raises(PushFailedError) as caught:
        train(config)
    model_dir = tmp_path / "run" / "model"
    assert caught.value.exit_code == 3 and (model_dir / "model.safetensors").is_file()
    assert f"hf upload me/model {model_dir} ." in str(caught.value) and "401 Client Error" in str(caught.value)

    monkeypatch.setattr(sys, "argv", sys.argv)  # `hrm` sets it for argparse
    args = [f"--{k.replace('_', '-')}={v}" for k, v in config.to_dict().items() if k in ("data_path", "hidden_size")]
    args += ["--preset", "cpu-demo", "--max-steps", "2", "--global-batch-size", "16", "--num-threads", "1",
             "--push-to-hub", "me/model", "--output-dir", str(tmp_path / "cli")]  # fmt: skip
    with pytest.raises(SystemExit) as exited:
        cli.main(["train", *args])
    assert exited.value.code == 3
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: training finished but the push to me/model failed (401 Client Error")
    assert error.endswith(f"hf upload me/model {tmp_path / 'cli' / 'model'} .")


def test_resume_runs_the_evaluation_a_kill_after_the_checkpoint_prevented(tiny_data, tmp_path, monkeypatch):
    evaluated: list[int] = []

    def record(self):
        evaluated.append(self.step)
        return {"exact_accuracy": 0.0, "count": 16}

    common = dict(epochs=2, eval_interval=1, checkpoint_every=4, keep_last=0)  # 4 steps per iteration, 8 in all
    monkeypatch.setattr(Trainer, "evaluate", record)
    full = train(tiny_run_config(tiny_data, tmp_path / "full", **common))
    assert evaluated == [4, 8]

    def killed(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "evaluate", killed)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_run_config(tiny_data, tmp_path / "resumed", **common))
    monkeypatch.setattr(Trainer, "evaluate", record)
    evaluated.clear()
    resumed = train(tiny_run_config(tiny_data, tmp_path / "resumed", resume_from_checkpoint="latest", **common))
    assert evaluated == [4, 8]
    assert_same_weights(weights(full.model_dir), weights(resumed.model_dir), atol=0)


def test_nan_logits_are_never_counted_correct():
    from hrm_hf.configuration_hrm import HrmActConfig
    from hrm_hf.modeling_hrm import HrmActCarry, HrmActModel

    config = HrmActConfig(vocab_size=4, seq_len=3, num_puzzle_identifiers=1, hidden_size=16, num_heads=2,
                          H_layers=1, L_layers=1, forward_dtype="float32")  # fmt: skip
    model = HrmActModel(config)
    labels = torch.tensor([[0, 0, 0], [1, 2, 3]])
    logits = torch.full((2, 3, 4), float("nan"))  # row 0: argmax of all-NaN logits is 0, its labels
    logits[1] = torch.nn.functional.one_hot(labels[1], 4).float()  # row 1 right and finite
    q_halt = torch.tensor([float("nan"), 1.0])
    carry = HrmActCarry(None, None, torch.tensor([1, 1]), torch.tensor([True, True]), {"labels": labels})
    _, metrics = model.loss_and_metrics(logits, q_halt, torch.zeros(2), None, carry)
    assert metrics["count"].item() == 2
    assert metrics["exact_accuracy"].item() == 1 and metrics["accuracy"].item() == pytest.approx(1.0)
    assert metrics["q_halt_accuracy"].item() == 1


def test_the_puzzle_metric_never_counts_a_nan_q_halt_logit_as_agreeing():
    from hrm_hf.evaluation.scoring import load_metric

    results = load_metric("hrm_puzzle").compute(
        predictions=[[1, 2], [1, 3]], references=[[1, 2], [1, 2]], q_halt_logits=[math.nan, math.nan]
    )
    assert results["q_halt_accuracy"] == 0.0


def test_a_fresh_run_removes_stale_temporary_checkpoints_and_is_not_refused_for_them(tiny_data, tmp_path):
    make_checkpoint(tmp_path / "checkpoints" / ".tmp-step-5", complete=False)  # a first run killed while writing
    train(tiny_run_config(tiny_data, tmp_path, max_steps=2))
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step-2"]
