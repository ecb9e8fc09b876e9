"""The trainer against golden trajectories of the authors' own `pretrain.py` (`tests/fixtures/training/`, protocol in
its README): the same batches from our sampler, and from the converted initial weights, fed the recorded batches
with the recorded seeds, the same loss, learning rates and carry at every step and the same weights after 30 steps
(float32 and bfloat16).

bfloat16 matmuls on the CPU run different kernels on different processors (oneDNN picks AMX, AVX512-BF16 or another
path), so the authors' own bf16 trajectory differs between kinds of CPU: `synth_bf16` and `synth_bf16_amx` are one case
recorded on two kinds. A bf16 recording is compared exactly where this machine reproduces its step-1 loss; elsewhere
only step 1 is checked, at bf16 tolerance, and the rest is skipped with the reason. float32 is the same everywhere."""

from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from hrm_hf.data.release import build_from_release
from hrm_hf.data.sampler import TrainBatchSampler
from hrm_hf.scripts.convert_official_checkpoint import convert_state_dict
from hrm_hf.training.config import TrainConfig
from hrm_hf.training.loop import Trainer, train
from tests.helpers import RecordedRun


FIXTURES = Path(__file__).parent / "fixtures" / "training"
STEPS, RNG_BASE = 30, 10000
TASKS = {"sudoku_fp32": "sudoku", "synth_bf16": "synthetic"}  # synth: multi-example puzzles, not ARC grids
# Each case's recordings: the same run of the authors' trainer, recorded on each kind of CPU whose bf16 kernels differ.
RECORDINGS = {"sudoku_fp32": ["sudoku_fp32"], "synth_bf16": ["synth_bf16", "synth_bf16_amx"]}
EXACT, BF16_RELATIVE = 1e-6, 1e-4
RUN_FIELDS = ("global_batch_size", "epochs", "eval_interval", "lr", "lr_min_ratio", "lr_warmup_steps", "beta1",
              "beta2", "weight_decay", "puzzle_emb_lr", "puzzle_emb_weight_decay", "seed")  # fmt: skip


class Case(RecordedRun):
    """One fixture case: its imported dataset, its converted `step_0` model folder and what the authors recorded."""

    def __init__(self, name: str, folder: Path, recording: str | None = None):
        super().__init__(FIXTURES / (recording or name), folder)
        self.name = name
        self.data = build_from_release(self.root / "dataset", TASKS[name])

    def train_config(self, output_dir: Path, **overrides) -> TrainConfig:
        run, arch = self.release_values(RUN_FIELDS)
        arch |= {name: overrides.pop(name) for name in list(overrides) if name in arch}
        return TrainConfig.from_dict(
            {**run, "data_path": str(self.root / "dataset"), "output_dir": str(output_dir), "cpu": True,
             "num_threads": 1, "init_from": str(self.init_dir), "log_every": 1, **overrides, "arch": arch}
        )  # fmt: skip


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


def recorded_losses(recording: str) -> list[float]:
    """The authors' mean loss at steps 1..30 (the recording stores each batch's sum over its 16 rows)."""
    expected = load_file(FIXTURES / recording / "expected.safetensors")
    return [expected[f"loss.{step}"].item() / 16 for step in range(1, STEPS + 1)]


def first_departure(ours: list[float], recorded: list[float]) -> int | None:
    """The first step whose loss is not the recording's within 1e-6, or None where the whole trajectory is."""
    return next((step for step, (a, b) in enumerate(zip(ours, recorded, strict=True), 1) if abs(a - b) > EXACT), None)


def skip_where_recorded_on_another_cpu(name: str, recording: str, losses: list[float]) -> None:
    """A recording of a case recorded on several kinds of CPU is compared exactly only where this CPU reproduces it;
    any other still agrees at step 1 within bf16 tolerance, then skips and says why. A recording matches by its whole
    loss trajectory, not step 1 alone: with oneDNN capped at AVX2 on an AMX CPU, step 1 equals the AMX recording
    within 1e-7 and step 3 departs by 2e-4."""
    if len(RECORDINGS[name]) == 1:
        return
    recorded = {other: recorded_losses(other) for other in RECORDINGS[name]}
    departs = first_departure(losses, recorded[recording])
    if departs is None:
        return
    assert abs(losses[0] - recorded[recording][0]) <= BF16_RELATIVE * abs(recorded[recording][0]), (
        losses[0],
        recorded,
    )
    matching = [other for other, trajectory in recorded.items() if first_departure(losses, trajectory) is None]
    where = f"{matching[0]} is this CPU's" if matching else "no recording matches this CPU's bf16 kernels"
    step_1 = ", ".join(f"{other} {trajectory[0]:.9g}" for other, trajectory in recorded.items())
    pytest.skip(f"{recording} was recorded on another kind of CPU ({where}): its losses part from ours at step "
                f"{departs}; step-1 loss here {losses[0]:.9g}, recorded {step_1}, within bf16 tolerance "
                f"({BF16_RELATIVE:g} relative)")  # fmt: skip


@pytest.mark.parametrize("name, recording", [(name, r) for name in sorted(RECORDINGS) for r in RECORDINGS[name]])
def test_trainer_follows_the_release_trajectory(name, recording, tmp_path):
    """From the converted `step_0`, on the recorded batches with the README's seeds: loss, lrs and carry at every
    step, then every weight and the puzzle table after 30 steps (float32 within 1e-6; bfloat16 too, against the
    recording made on this kind of CPU, since the cast orders are the release's)."""
    case = Case(name, tmp_path, recording)
    e = case.expected
    trainer = Trainer(case.train_config(tmp_path / "run"), dataset=case.data)
    assert trainer.max_steps == yaml.safe_load((case.root / "meta.json").read_text())["total_steps"]
    losses, carries = [], []
    for step in range(1, STEPS + 1):
        puzzle_emb_lr = trainer.sparse_schedule.get_last_lr()[0]
        torch.manual_seed(RNG_BASE + step)
        losses.append(trainer.train_step(case.batch(step))["loss"].item())
        carries.append((trainer.carry.halted.cpu(), trainer.carry.steps.cpu().long()))
        assert abs(trainer.lr - e[f"lr.{step}"].item()) <= 1e-12, step
        assert abs(puzzle_emb_lr - e[f"puzzle_emb_lr.{step}"].item()) <= 1e-12, step
    skip_where_recorded_on_another_cpu(name, recording, losses)
    for step, (loss, (halted, steps)) in enumerate(zip(losses, carries, strict=True), start=1):
        assert abs(loss - e[f"loss.{step}"].item() / 16) <= EXACT, step
        assert torch.equal(halted, e[f"carry.{step}.halted"]), step
        assert torch.equal(steps, e[f"carry.{step}.steps"].long()), step
    final = convert_state_dict({k.removeprefix("final."): v for k, v in e.items() if k.startswith("final.model.")})
    ours = trainer.unwrapped.state_dict()
    worst = max((ours[k].float() - v.float()).abs().max().item() for k, v in final.items())
    print(f"{recording}: max weight/table difference after {STEPS} steps {worst:.3g}")
    assert worst <= EXACT


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
