"""The trainer against golden trajectories of the authors' own `pretrain.py` (`tests/fixtures/training/`, protocol in
its README): the same batches from our sampler, and from the converted initial weights, fed the recorded batches
with the recorded seeds, the same loss, learning rates and carry at every step and the same weights after 30 steps
(float32 and bfloat16)."""

from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from hrm_hf.data.release import build_from_release
from hrm_hf.data.sampler import TrainBatchSampler
from hrm_hf.scripts.convert_official_checkpoint import convert_checkpoint, convert_state_dict
from hrm_hf.training.config import TrainConfig
from hrm_hf.training.loop import Trainer, train


FIXTURES = Path(__file__).parent / "fixtures" / "training"
STEPS, RNG_BASE = 30, 10000
TASKS = {"sudoku_fp32": "sudoku", "synth_bf16": "synthetic"}  # synth: multi-example puzzles, not ARC grids
RUN_FIELDS = ("global_batch_size", "epochs", "eval_interval", "lr", "lr_min_ratio", "lr_warmup_steps", "beta1",
              "beta2", "weight_decay", "puzzle_emb_lr", "puzzle_emb_weight_decay", "seed")  # fmt: skip


class Case:
    """One fixture case: its imported dataset, its converted `step_0` model folder and what the authors recorded."""

    def __init__(self, name: str, folder: Path):
        self.name, self.root = name, FIXTURES / name
        self.expected = load_file(self.root / "expected.safetensors")
        self.release_config = yaml.safe_load((self.root / "all_config.yaml").read_text())
        self.data = build_from_release(self.root / "dataset", TASKS[name])
        self.init_dir = folder / "init"
        convert_checkpoint(self.root / "step_0").save_pretrained(self.init_dir)

    def train_config(self, output_dir: Path, **overrides) -> TrainConfig:
        arch = dict(self.release_config["arch"])
        arch = {k: v for k, v in arch.items() if k not in ("name", "loss")} | {"loss_type": arch["loss"]["loss_type"]}
        run = {name: self.release_config[name] for name in RUN_FIELDS}
        return TrainConfig.from_dict(
            {**arch, **run, "data_path": str(self.root / "dataset"), "output_dir": str(output_dir), "cpu": True,
             "num_threads": 1, "init_from": str(self.init_dir), "log_every": 1, **overrides}
        )  # fmt: skip

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        e = self.expected
        return {
            "input_ids": e[f"batch.{step}.inputs"],
            "labels": e[f"batch.{step}.labels"].long(),
            "puzzle_identifiers": e[f"batch.{step}.puzzle_identifiers"],
        }


@pytest.fixture(scope="module", params=sorted(TASKS))
def case(request, tmp_path_factory):
    return Case(request.param, tmp_path_factory.mktemp(request.param))


def test_sampler_yields_the_release_batches_at_any_world_size(case):
    """Sudoku (one example per puzzle): every recorded batch, rows and ids, on every rank. The synthetic data's
    example order came from the release's global numpy RNG (not copied), but its puzzles, hence ids, match."""
    dataset, metadata = case.data
    config = case.release_config
    for world_size in (1, 2, 4):
        for rank in range(world_size):
            sampler = TrainBatchSampler(
                dataset["train"], metadata["train"], config["global_batch_size"], rank, world_size,
                seed=config["seed"], epochs_per_iter=config["eval_interval"],
            )  # fmt: skip
            stream = iter(())
            for step in range(1, STEPS + 1):
                ours = next(stream, None)
                if ours is None:
                    stream = iter(sampler)
                    ours = next(stream)
                local = slice(rank * len(ours["input_ids"]), (rank + 1) * len(ours["input_ids"]))
                recorded = {k: v[local] for k, v in case.batch(step).items()}
                compared = ("input_ids", "labels", "puzzle_identifiers") if case.name == "sudoku_fp32" else (
                    "puzzle_identifiers",)  # fmt: skip
                for key in compared:
                    assert torch.equal(ours[key].long(), recorded[key].long()), (world_size, rank, step, key)


def test_trainer_follows_the_release_trajectory(case, tmp_path):
    """From the converted `step_0`, on the recorded batches with the README's seeds: loss, lrs and carry at every
    step, then every weight and the puzzle table after 30 steps (float32 within 1e-6; bfloat16 too, since the cast
    orders are the release's)."""
    e = case.expected
    trainer = Trainer(case.train_config(tmp_path), dataset=case.data)
    assert trainer.max_steps == yaml.safe_load((case.root / "meta.json").read_text())["total_steps"]
    for step in range(1, STEPS + 1):
        puzzle_emb_lr = trainer.sparse_schedule.get_last_lr()[0]
        torch.manual_seed(RNG_BASE + step)
        out = trainer.train_step(case.batch(step))
        assert abs(out["loss"].item() - e[f"loss.{step}"].item() / 16) <= 1e-6, step
        assert abs(trainer.lr - e[f"lr.{step}"].item()) <= 1e-12, step
        assert abs(puzzle_emb_lr - e[f"puzzle_emb_lr.{step}"].item()) <= 1e-12, step
        assert torch.equal(trainer.carry.halted.cpu(), e[f"carry.{step}.halted"]), step
        assert torch.equal(trainer.carry.steps.cpu().long(), e[f"carry.{step}.steps"].long()), step
    final = convert_state_dict({k.removeprefix("final."): v for k, v in e.items() if k.startswith("final.model.")})
    ours = trainer.unwrapped.state_dict()
    worst = max((ours[k].float() - v.float()).abs().max().item() for k, v in final.items())
    print(f"{case.name}: max weight/table difference after {STEPS} steps {worst:.3g}")
    assert worst <= 1e-6


def test_whole_run_stops_evaluates_and_schedules_like_the_release(case, tmp_path, monkeypatch):
    """`train` with `init_from` on the imported data: it consumes the recorded batches in order (Sudoku), at the
    recorded learning rates, evaluates after every iteration and ends where the release's loop ends; and (Sudoku)
    its weights after 30 steps are those of the recorded batches replayed through the step that matches the release.
    Without halting exploration the torch RNG protocol plays no part, so the whole run is the release's run."""
    fed, evaluations, at_step_30 = [], [], {}
    step = Trainer.train_step
    evaluate = Trainer.evaluate

    def recording_step(self, batch):
        out = step(self, batch)
        fed.append((batch, self.lr))
        if len(fed) == STEPS:
            at_step_30.update({k: v.detach().clone() for k, v in self.unwrapped.state_dict().items()})
        return out

    def recording_evaluate(self):
        evaluations.append(self.step)
        return evaluate(self)

    monkeypatch.setattr(Trainer, "train_step", recording_step)
    monkeypatch.setattr(Trainer, "evaluate", recording_evaluate)
    meta = yaml.safe_load((case.root / "meta.json").read_text())
    config = case.train_config(tmp_path, halt_exploration_prob=0.0)
    result = train(config, dataset=case.data)
    iterations = config.epochs // config.eval_interval
    # The release's loop ends with its iterations, even before its step estimate (the synthetic case: 40 of 43).
    counter = TrainBatchSampler(case.data[0]["train"], case.data[1]["train"], config.global_batch_size,
                                seed=config.seed, epochs_per_iter=config.eval_interval)  # fmt: skip
    batches = []
    for _ in range(iterations):
        batches.append(len(counter))
        counter.iteration += 1
    recorded_iterations = [row["data_iteration"] for row in meta["per_step"]]
    assert recorded_iterations == [i + 1 for i, n in enumerate(batches) for _ in range(n)][:STEPS]
    assert result.step == min(meta["total_steps"], sum(batches)) and len(evaluations) == iterations
    for s, (batch, lr) in enumerate(fed[:STEPS], start=1):
        assert abs(lr - case.expected[f"lr.{s}"].item()) <= 1e-12
        keys = ("input_ids", "labels", "puzzle_identifiers") if case.name == "sudoku_fp32" else ("puzzle_identifiers",)
        for key in keys:
            assert torch.equal(batch[key].long().cpu(), case.batch(s)[key].long()), (s, key)
    if case.name == "sudoku_fp32":
        monkeypatch.setattr(Trainer, "train_step", step)
        replay = Trainer(case.train_config(tmp_path / "replay", halt_exploration_prob=0.0), dataset=case.data)
        for s in range(1, STEPS + 1):
            replay.train_step(case.batch(s))
        replayed = replay.unwrapped.state_dict()
        worst = max((at_step_30[k].float() - v.float()).abs().max().item() for k, v in replayed.items())
        print(f"{case.name}: whole run vs recorded batches, max difference after {STEPS} steps {worst:.3g}")
        assert worst == 0.0
