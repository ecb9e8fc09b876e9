"""`hrm train` of TRM against golden runs of the TRM authors' own `pretrain.py` (`tests/fixtures/trm/`, protocol in its
README): from the converted `step_0`, fed the recorded batches with the recorded seeds, the same loss, learning rates
and carry at every step, and after 30 steps the same weights, puzzle table and EMA of the weights (`trm_sudoku_fp32`:
attention and RoPE on 4x4 Sudoku; `trm_mlp_fp32`: the token MLP on ARC-like puzzles of several examples). And the
whole run (`trm_e2e_fp32`): `train` with `init_from` on the authors' data draws their batches, reaches their weights
and EMA, and evaluates the EMA weights after every data iteration to their `evaluate()` numbers."""

from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from hrm_hf.data.release import build_from_release
from hrm_hf.evaluation import evaluator
from hrm_hf.scripts import cli
from hrm_hf.scripts.convert_official_checkpoint import convert_state_dict
from hrm_hf.training import loop
from hrm_hf.training.config import TrainConfig
from hrm_hf.training.loop import Trainer
from tests.helpers import RecordedRun


FIXTURES = Path(__file__).parent / "fixtures" / "trm"
STEPS, RNG_BASE = 30, 10000
TASKS = {"trm_sudoku_fp32": "sudoku", "trm_mlp_fp32": "synthetic", "trm_e2e_fp32": "sudoku"}
# Per-row losses, weights, the puzzle table and the EMA: the README's float32 bound for the authors' operation order.
TOLERANCE = 1e-5
RUN_FIELDS = ("global_batch_size", "epochs", "eval_interval", "lr", "lr_min_ratio", "lr_warmup_steps", "beta1",
              "beta2", "weight_decay", "puzzle_emb_lr", "puzzle_emb_weight_decay", "seed", "ema", "ema_rate")  # fmt: skip


class Case(RecordedRun):
    """One fixture case: its imported dataset, its converted `step_0` model folder and what the authors recorded."""

    def __init__(self, name: str, folder: Path, saved: bool = False):
        super().__init__(FIXTURES / name, folder)
        self.name = name
        self.meta = yaml.safe_load((self.root / "meta.json").read_text())
        self.data_dir = folder / "data"
        self.data = build_from_release(self.root / "dataset", TASKS[name], output_dir=self.data_dir if saved else None)

    def train_config(self, output_dir: Path) -> TrainConfig:
        run, arch = self.release_values(RUN_FIELDS)
        return TrainConfig.from_dict(
            {**run, "data_path": str(self.data_dir), "output_dir": str(output_dir), "cpu": True, "num_threads": 1,
             "init_from": str(self.init_dir), "log_every": 1, "arch": {"name": "trm", **arch}}
        )  # fmt: skip

    def recorded(self, prefix: str) -> dict[str, torch.Tensor]:
        """The recorded tensors `prefix.*` under our names."""
        return convert_state_dict({k.removeprefix(f"{prefix}."): v for k, v in self.expected.items()
                                   if k.startswith(f"{prefix}.model.")})  # fmt: skip


def worst_difference(ours: dict[str, torch.Tensor], recorded: dict[str, torch.Tensor]) -> float:
    assert ours.keys() == recorded.keys()
    return max((ours[k].float() - v.float()).abs().max().item() for k, v in recorded.items())


def assert_final_weights_and_ema(case: Case, weights: dict[str, torch.Tensor], ema: dict[str, torch.Tensor]) -> None:
    """Every weight, the puzzle table and `H_init`/`L_init` after step 30, and the EMA of the dense parameters."""
    final, averaged = case.recorded("final"), case.recorded("ema")
    worst = worst_difference(weights, final)
    worst_ema = worst_difference(ema, averaged)
    print(f"{case.name}: max weight difference {worst:.3g}, EMA {worst_ema:.3g} after {STEPS} steps")
    assert worst <= TOLERANCE and worst_ema <= TOLERANCE


@pytest.mark.parametrize("name", ["trm_sudoku_fp32", "trm_mlp_fp32"])
def test_trainer_follows_the_authors_trm_trajectory(name, tmp_path):
    """Loss, both learning rates and the carry at every step of 30; then weights, puzzle table and EMA."""
    case = Case(name, tmp_path)
    e = case.expected
    trainer = Trainer(case.train_config(tmp_path / "run"), dataset=case.data)
    assert trainer.max_steps == case.meta["total_steps"]
    worst_loss = 0.0
    for step in range(1, STEPS + 1):
        puzzle_emb_lr = trainer.sparse_schedule.get_last_lr()[0]
        torch.manual_seed(RNG_BASE + step)
        loss = trainer.train_step(case.batch(step))["loss"].item()
        assert abs(trainer.lr - e[f"lr.{step}"].item()) <= 1e-12, step
        assert abs(puzzle_emb_lr - e[f"puzzle_emb_lr.{step}"].item()) <= 1e-12, step
        worst_loss = max(worst_loss, abs(loss - e[f"loss.{step}"].item() / 16))
        assert worst_loss <= TOLERANCE, step
        assert torch.equal(trainer.carry.halted.cpu(), e[f"carry.{step}.halted"]), step
        assert torch.equal(trainer.carry.steps.cpu().long(), e[f"carry.{step}.steps"].long()), step
    print(f"{name}: max per-row loss difference over {STEPS} steps {worst_loss:.3g}")
    assert_final_weights_and_ema(case, trainer.unwrapped.state_dict(), trainer.ema.state_dict())


def test_whole_run_reaches_the_authors_weights_and_ema_evaluations(tmp_path, monkeypatch):
    """`hrm train --config FILE --init-from FOLDER` on the authors' data, seeded only by the config as their
    `launch()` is: the recorded batches at the recorded rates, their weights and EMA at step 30, and at steps 10, 20
    and 30 the evaluation of the EMA weights gives their predictions, Q-halt logits and metrics on the 8 test puzzles
    (their padding rows aside)."""
    case = Case("trm_e2e_fp32", tmp_path, saved=True)
    config = case.train_config(tmp_path / "run")
    config.init_from = None  # given on the command line
    config.save(tmp_path / "trm.yaml")
    e = case.expected
    fed, evaluations, at_step_30, at_end = [], {}, {}, {}
    step, evaluate_split = Trainer.train_step, evaluator.evaluate_split

    def recording_step(self, batch):
        out = step(self, batch)
        fed.append((batch, self.lr))
        weights = {k: v.detach().clone() for k, v in self.unwrapped.state_dict().items()}
        ema = {k: v.clone() for k, v in self.ema.state_dict().items()}
        if len(fed) == STEPS:
            at_step_30.update(weights=weights, ema=ema)
        at_end.update(weights=weights, ema=ema)
        return out

    def recording_evaluation(model, *args, **kwargs):
        result = evaluate_split(model, *args, **kwargs)
        evaluations[len(fed)] = result
        return result

    monkeypatch.setattr(Trainer, "train_step", recording_step)
    monkeypatch.setattr(loop, "evaluate_split", recording_evaluation)
    cli.main(["train", "--config", str(tmp_path / "trm.yaml"), "--init-from", str(case.init_dir)])
    assert len(fed) == case.meta["total_steps"] and sorted(evaluations) == [10, 20, 30, 40]
    for s, (batch, lr) in enumerate(fed[:STEPS], start=1):
        assert abs(lr - e[f"lr.{s}"].item()) <= 1e-12, s
        for key in ("input_ids", "labels", "puzzle_identifiers"):
            assert torch.equal(batch[key].long().cpu(), case.batch(s)[key].long()), (s, key)
    assert_final_weights_and_ema(case, at_step_30["weights"], at_step_30["ema"])
    # The saved model is the authors' `ema_copy`: the averaged weights beside the live buffers (puzzle table, inits).
    saved = load_file(tmp_path / "run" / "model" / "model.safetensors")
    assert saved.keys() == at_end["weights"].keys()
    for name, value in saved.items():
        assert torch.equal(value, at_end["ema"].get(name, at_end["weights"][name])), name
    for s in (10, 20, 30):
        ours, puzzles = evaluations[s], 8
        assert len(ours.solved) == puzzles, s
        preds = torch.stack([row.predictions.long() for row in ours.solved])
        assert torch.equal(preds, e[f"eval.{s}.preds"][:puzzles]), s
        q_halt = torch.tensor([float(row.q_halt_logit) for row in ours.solved])
        q_halt_difference = (q_halt - e[f"eval.{s}.q_halt_logits"][:puzzles]).abs().max().item()
        print(
            f"trm_e2e_fp32 evaluation at step {s}: predictions equal, max Q-halt logit difference {q_halt_difference:.3g}"
        )
        assert q_halt_difference <= TOLERANCE, s
        metrics = {"exact_accuracy": "exact_accuracy", "token_accuracy": "accuracy", "mean_steps": "steps",
                   "q_halt_accuracy": "q_halt_accuracy"}  # fmt: skip
        for name, theirs in metrics.items():
            assert abs(ours.metrics[name] - e[f"eval.{s}.all.{theirs}"].item()) <= TOLERANCE, (s, name)
