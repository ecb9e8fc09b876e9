"""The training loop on a tiny 4x4 Sudoku dataset: the loss falls, resumption is exact, two CPU ranks equal one,
and misuse fails with clear errors."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hrm_hf.training.checkpoint import list_checkpoints
from hrm_hf.training.loop import train
from tests.helpers import TINY_RUN, assert_same_weights, tiny_run_config, weights


REPO = Path(__file__).resolve().parent.parent


def test_tiny_run_loss_falls_and_saves_a_loadable_model(tiny_data, tmp_path):
    from transformers import AutoModel

    config = tiny_run_config(tiny_data, tmp_path, max_steps=60, lr=3e-3, halt_exploration_prob=0.0)
    from hrm_hf.training.loop import Trainer

    trainer = Trainer(config)
    batch = next(iter(trainer.sampler))
    losses = []
    for _ in range(60):
        trainer.carry = None  # every step on the same fresh batch: the loss must fall
        trainer.train_step(batch)
        with torch.no_grad():
            losses.append(trainer.model(**batch).loss.item())
    assert losses[-1] < 0.7 * losses[0]

    result = train(tiny_run_config(tiny_data, tmp_path / "run", max_steps=8))
    assert result.step == 8 and 0.0 <= result.metrics["exact_accuracy"] <= 1.0 and result.metrics["count"] == 16
    assert (result.model_dir / "README.md").is_file() and (result.model_dir / "train_config.yaml").is_file()
    model = AutoModel.from_pretrained(result.model_dir, trust_remote_code=True)
    assert model.config.hidden_size == 32


def test_resume_ends_with_the_same_weights(tiny_data, tmp_path, capsys):
    common = dict(max_steps=12, checkpoint_every=5, keep_last=0, ema=True, ema_rate=0.9, halt_exploration_prob=0.5)
    full = train(tiny_run_config(tiny_data, tmp_path / "full", **common))
    checkpoints = list_checkpoints(tmp_path / "full")
    assert [p.name for p in checkpoints] == ["step-5", "step-10", "step-12"]
    # A run "killed" after step 5: its output folder holds only that checkpoint (and a half-written one).
    (tmp_path / "resumed" / "checkpoints").mkdir(parents=True)
    shutil.copytree(checkpoints[0], tmp_path / "resumed" / "checkpoints" / "step-5")
    (tmp_path / "resumed" / "checkpoints" / ".tmp-step-10").mkdir()
    resumed = train(tiny_run_config(tiny_data, tmp_path / "resumed", resume_from_checkpoint="latest", **common))
    assert resumed.step == 12
    assert "at step 5." in capsys.readouterr().out
    assert_same_weights(weights(full.model_dir), weights(resumed.model_dir), atol=0)


def test_keep_last_rotation(tiny_data, tmp_path):
    train(tiny_run_config(tiny_data, tmp_path, max_steps=9, checkpoint_every=2, keep_last=2))
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-8", "step-9"]


def run_script(args: list[str], cwd: Path = REPO) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_two_cpu_ranks_equal_one(tiny_data, tmp_path):
    """Two gloo ranks through exactly README's line (`accelerate launch --cpu --num_processes 2 -m hrm_hf.scripts
    train ...`) train to the single-process weights."""
    bin_dir = Path(sys.executable).parent
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in TINY_RUN.items()]
    flags += ["--preset", "cpu-demo", "--data-path", str(tiny_data), "--max-steps", "4", "--halt-exploration-prob", "0",
              "--puzzle-emb-ndim", "32"]  # fmt: skip
    run_script([str(bin_dir / "hrm"), "train", *flags, "--output-dir", str(tmp_path / "one")])
    run_script([str(bin_dir / "accelerate"), "launch", "--cpu", "--num_processes", "2", "-m", "hrm_hf.scripts", "train",
                *flags, "--output-dir", str(tmp_path / "two")])  # fmt: skip
    one, two = weights(tmp_path / "one" / "model"), weights(tmp_path / "two" / "model")
    assert "puzzle_emb.weight" in one and one["puzzle_emb.weight"].abs().sum() > 0
    assert_same_weights(one, two, atol=1e-6)


def test_missing_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="`data_path`: no such file or folder"):
        train(tiny_run_config(tmp_path / "nowhere", tmp_path))


def test_checkpoint_from_another_config_is_refused(tiny_data, tmp_path):
    train(tiny_run_config(tiny_data, tmp_path, max_steps=2))
    with pytest.raises(ValueError, match="hidden_size: 32 -> 64"):
        train(tiny_run_config(tiny_data, tmp_path, max_steps=2, hidden_size=64, resume_from_checkpoint="latest"))


def test_resume_without_checkpoint_is_a_clear_error(tiny_data, tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint under"):
        train(tiny_run_config(tiny_data, tmp_path, max_steps=2, resume_from_checkpoint="latest"))


def test_nonfinite_losses_skip_steps_then_stop(tiny_data, tmp_path):
    from hrm_hf.training.loop import Trainer

    trainer = Trainer(tiny_run_config(tiny_data, tmp_path, max_steps=4, max_nonfinite_steps=2))
    before = {k: v.clone() for k, v in trainer.unwrapped.state_dict().items()}
    with torch.no_grad():
        trainer.unwrapped.lm_head.weight.fill_(float("nan"))
    before["lm_head.weight"] = trainer.unwrapped.lm_head.weight.clone()
    batch = next(iter(trainer.sampler))
    sums = trainer.train_step(batch)
    trainer.note_nonfinite_steps()  # the loop reads the skipped steps back when it logs
    assert not any(value.any() for value in sums.values())  # a skipped step adds nothing to the logged sums
    assert trainer.nonfinite_total == 1
    for key, value in trainer.unwrapped.state_dict().items():
        torch.testing.assert_close(value, before[key], equal_nan=True)
    with pytest.raises(RuntimeError, match="2 non-finite losses in a row"):
        trainer.train_step(batch)
        trainer.note_nonfinite_steps()


def test_init_from_starts_at_the_folders_weights_and_refuses_another_architecture(tiny_data, tmp_path):
    from hrm_hf.training.loop import Trainer

    first = train(tiny_run_config(tiny_data, tmp_path / "first", max_steps=3))
    trainer = Trainer(tiny_run_config(tiny_data, tmp_path / "second", max_steps=3, init_from=str(first.model_dir)))
    assert_same_weights(
        {k: v.contiguous() for k, v in trainer.unwrapped.state_dict().items() if k in weights(first.model_dir)},
        weights(first.model_dir),
        atol=0,
    )
    with pytest.raises(ValueError, match=r"`init_from`: the model at .* has hidden_size=32, this run 64\."):
        Trainer(tiny_run_config(tiny_data, tmp_path / "third", hidden_size=64, init_from=str(first.model_dir)))
    with pytest.raises(FileNotFoundError, match="`init_from`: no model folder"):
        Trainer(tiny_run_config(tiny_data, tmp_path / "fourth", init_from=str(tmp_path / "nowhere")))


def test_logged_losses_are_per_global_batch_row_and_lr_is_the_steps(tiny_data, tmp_path):
    from hrm_hf.training.loop import Trainer

    trainer = Trainer(tiny_run_config(tiny_data, tmp_path, max_steps=10))
    batch = next(iter(trainer.sampler))
    rates = []
    for _ in range(2):
        rates.append(trainer.dense.param_groups[0]["lr"])
        sums = trainer.train_step(batch)
    logs = trainer.log_train(sums, logged_steps=1)
    assert logs["train/lr"] == rates[-1] != trainer.dense.param_groups[0]["lr"]
    assert logs["train/lm_loss"] == pytest.approx(sums["lm_loss"].item() / 16)
    assert logs["train/mean_steps"] == pytest.approx(sums["steps"].item() / max(sums["count"].item(), 1))


def test_early_stopping_keeps_the_best_model_and_says_why(tiny_data, tmp_path, monkeypatch):
    from hrm_hf.training.loop import Trainer

    scores = iter([0.5, 0.7, 0.6, 0.65, 0.9])
    monkeypatch.setattr(Trainer, "evaluate", lambda self: {"exact_accuracy": next(scores), "count": 16})
    config = tiny_run_config(tiny_data, tmp_path, epochs=40, eval_interval=4, early_stopping_metric="exact_accuracy",
                         early_stopping_patience=2)  # fmt: skip
    result = train(config)
    card = (result.model_dir / "README.md").read_text()
    # 16 steps per iteration; evaluations after iterations 1-4: best 0.7 at the second, no improvement twice, stop
    # (the stopping evaluation is the final one: not repeated).
    assert result.step == 64 and result.metrics["exact_accuracy"] == 0.65
    assert "Saved at step 32, the best `eval/exact_accuracy` (0.7)" in card
    assert "stopped early at step 64: `eval/exact_accuracy` did not improve for 2 evaluations" in card
    assert "0.65" not in card.split("Saved at step")[1]


def test_stop_when_a_training_metric_crosses_its_threshold(tiny_data, tmp_path):
    result = train(tiny_run_config(tiny_data, tmp_path, max_steps=50, log_every=2, stop_when="train/lr>=0"))
    assert result.step == 2
    assert "train/lr = " in (result.model_dir / "README.md").read_text()


def test_trainer_evaluation_is_hrm_evaluate(tiny_data, tmp_path):
    """The periodic evaluation and `hrm evaluate --halting fixed` on the saved model report the same metrics."""
    from hrm_hf.scripts import evaluate_model

    result = train(tiny_run_config(tiny_data, tmp_path / "run", max_steps=4))
    assert {"exact_accuracy", "token_accuracy", "q_halt_accuracy", "mean_steps", "count"} <= result.metrics.keys()
    report = evaluate_model.main(["--model", str(result.model_dir), "--dataset", str(tiny_data), "--halting", "fixed",
                                  "--batch-size", "16", "--output-dir", str(tmp_path / "eval")])  # fmt: skip
    cli = report["results"]["fixed"]
    assert cli.pop("steps_histogram") == {str(TINY_RUN["halt_max_steps"]): 16}
    assert cli == pytest.approx(result.metrics)


def test_arc_training_evaluates_pass_at_k(tmp_path):
    from hrm_hf.data.arc import build_arc_dataset, load_tasks

    tasks = load_tasks(REPO / "tests" / "fixtures" / "data" / "arc", ["training", "evaluation", "concept"])
    build_arc_dataset(tasks, "evaluation", num_aug=1, output_dir=tmp_path / "arc")
    result = train(
        tiny_run_config(tmp_path / "arc", tmp_path / "run", max_steps=1, global_batch_size=4, halt_max_steps=1)
    )
    assert {"pass@1", "pass@2", "puzzles", "test_inputs"} <= result.metrics.keys()
    assert result.metrics["puzzles"] == 2 and 0.0 <= result.metrics["pass@2"] <= 1.0
