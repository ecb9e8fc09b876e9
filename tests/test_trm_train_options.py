"""What the TRM authors' trainer adds over HRM's, as `hrm train` options: the EMA of the dense weights, training only
the puzzle embeddings (`freeze_weights`), `init_from` a model with a puzzle table of another size, several training
datasets and separate test datasets, and `min_eval_interval`."""

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hrm_hf.data.sampler import TrainBatchSampler
from hrm_hf.data.storage import check_shared_fields, concatenate_puzzle_datasets, load_puzzle_dataset
from hrm_hf.modeling_hrm import HrmActModel
from hrm_hf.training.config import ConfigError
from hrm_hf.training.ema import EMA
from hrm_hf.training.loop import Trainer, build_model, train
from tests.helpers import TINY_RUN, assert_same_weights, tiny_config, tiny_run_config, train_env, weights


def build_sudoku4(folder, seed: int, train_rows: int = 48, test_rows: int = 16):
    from hrm_hf.data.sudoku import build_sudoku_dataset
    from hrm_hf.data.sudoku_generator import generate_puzzles

    rows = generate_puzzles(train_rows + test_rows, seed=seed, size=4, clues=(10, 10), progress=False)
    build_sudoku_dataset(rows[:train_rows], rows[train_rows:], size=4, output_dir=folder)
    return folder


class AuthorsEMAHelper:
    """The TRM authors' `models/ema.py` `EMAHelper` (register, update, ema_copy), the reference."""

    def __init__(self, module, mu):
        self.mu = mu
        self.shadow = {n: p.data.clone() for n, p in module.named_parameters() if p.requires_grad}

    def update(self, module):
        for name, param in module.named_parameters():
            if param.requires_grad:
                self.shadow[name].data = (1.0 - self.mu) * param.data + self.mu * self.shadow[name].data


def test_ema_is_the_authors_average_of_the_trained_parameters_only():
    torch.manual_seed(0)
    model = HrmActModel(tiny_config())
    model.lm_head.weight.requires_grad_(False)  # a frozen parameter is not averaged, as the authors' helper skips it
    ours, theirs = EMA(model, 0.9), AuthorsEMAHelper(model, 0.9)
    assert "lm_head.weight" not in ours.shadow and not any(name.startswith("puzzle_emb") for name in ours.shadow)
    for _ in range(5):
        with torch.no_grad():
            for param in model.parameters():
                param.add_(torch.randn_like(param))
        ours.update()
        theirs.update(model)
    assert ours.shadow.keys() == theirs.shadow.keys()
    assert all(torch.equal(ours.shadow[name], theirs.shadow[name]) for name in ours.shadow)  # bit for bit
    live = {name: value.clone() for name, value in model.state_dict().items()}
    with ours.applied():
        for name, value in model.state_dict().items():
            assert torch.equal(value, ours.shadow.get(name, live[name]))  # buffers and frozen weights stay live
    assert all(torch.equal(value, live[name]) for name, value in model.state_dict().items())


def test_freeze_weights_trains_only_the_puzzle_table(tiny_data, tmp_path):
    config = tiny_run_config(tiny_data, tmp_path, max_steps=4, freeze_weights=True, ema=True)
    trainer = Trainer(config)
    before = {name: value.clone() for name, value in trainer.unwrapped.state_dict().items()}
    assert trainer.dense is None and trainer.lr == trainer.sparse_schedule.get_last_lr()[0]
    batches = iter(trainer.sampler)
    for _ in range(4):
        trainer.train_step(next(batches))
    after = trainer.unwrapped.state_dict()
    changed = {name for name, value in after.items() if not torch.equal(value, before[name])}
    assert changed == {"puzzle_emb.weight"}
    assert trainer.ema.shadow == {}  # nothing dense is trained, so nothing is averaged
    result = train(tiny_run_config(tiny_data, tmp_path / "run", max_steps=4, freeze_weights=True))
    assert result.step == 4


def test_test_time_adaptation_trains_a_new_puzzle_table_from_the_mean_row(tiny_data, two_datasets, tmp_path):
    """The authors' fine-tuning on new puzzles: `init_from` a trained model whose table has another size and
    `freeze_weights`; the new table starts at the old one's mean row, the weights stay, and the run resumes exactly."""
    source = build_model(tiny_run_config(tiny_data, tmp_path / "a"), load_puzzle_dataset(tiny_data)[1]["train"])
    with torch.no_grad():
        source.puzzle_emb.weight.normal_()
    source.save_pretrained(tmp_path / "source")
    a, b = two_datasets  # two tables of one row each: 2 rows, the source has 1
    common = dict(init_from=str(tmp_path / "source"), extra_data_paths=[str(b)], freeze_weights=True, max_steps=6,
                  checkpoint_every=3, keep_last=0, halt_exploration_prob=0.5)  # fmt: skip
    full = train(tiny_run_config(a, tmp_path / "full", **common))
    model = HrmActModel.from_pretrained(full.model_dir)
    assert model.puzzle_emb.weight.shape == (2, 32) and torch.equal(model.lm_head.weight, source.lm_head.weight)
    assert not torch.equal(model.puzzle_emb.weight, source.puzzle_emb.weight.mean(0, keepdim=True).expand(2, -1))
    checkpoints = tmp_path / "resumed" / "checkpoints"
    checkpoints.mkdir(parents=True)
    shutil.copytree(tmp_path / "full" / "checkpoints" / "step-3", checkpoints / "step-3")
    train(tiny_run_config(a, tmp_path / "resumed", resume_from_checkpoint="latest", **common))
    resumed = HrmActModel.from_pretrained(tmp_path / "resumed" / "model")
    assert torch.equal(resumed.puzzle_emb.weight, model.puzzle_emb.weight)


def test_freeze_weights_on_two_cpu_ranks_equals_one(tiny_data, tmp_path):
    """With nothing dense to train there is no DDP wrapper: every rank applies the gathered table update itself."""
    bin_dir = Path(sys.executable).parent
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in TINY_RUN.items()]
    flags += ["--preset", "cpu-demo", "--data-path", str(tiny_data), "--max-steps", "3", "--halt-exploration-prob", "0",
              "--puzzle-emb-ndim", "32", "--freeze-weights"]  # fmt: skip
    for command, folder in (
        ([str(bin_dir / "hrm"), "train"], "one"),
        (
            [str(bin_dir / "accelerate"), "launch", "--cpu", "--num_processes", "2", "-m", "hrm_hf.scripts", "train"],
            "two",
        ),
    ):
        done = subprocess.run([*command, *flags, "--output-dir", str(tmp_path / folder)], env=train_env(),
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
    one, two = weights(tmp_path / "one" / "model"), weights(tmp_path / "two" / "model")
    assert one["puzzle_emb.weight"].abs().sum() > 0
    assert_same_weights(one, two, atol=1e-6)


def test_freeze_weights_without_puzzle_embeddings_is_refused(tiny_data, tmp_path):
    with pytest.raises(ConfigError, match="freeze_weights.*puzzle_emb_ndim=0"):
        Trainer(tiny_run_config(tiny_data, tmp_path, max_steps=2, freeze_weights=True, puzzle_emb_ndim=0))


def test_init_from_a_table_of_another_size_starts_every_row_at_its_mean(tiny_data, tmp_path):
    config = tiny_run_config(tiny_data, tmp_path / "a", max_steps=1)
    _, metadata = load_puzzle_dataset(tiny_data)
    source = build_model(config, dataclasses.replace(metadata["train"], num_puzzle_identifiers=5))
    with torch.no_grad():
        source.puzzle_emb.weight.normal_()
    source.save_pretrained(tmp_path / "source")
    started = build_model(
        tiny_run_config(tiny_data, tmp_path / "b", init_from=str(tmp_path / "source")),
        dataclasses.replace(metadata["train"], num_puzzle_identifiers=3),
    )
    mean = source.puzzle_emb.weight.mean(dim=0, keepdim=True)
    assert torch.equal(started.puzzle_emb.weight, mean.expand(3, -1))
    assert torch.equal(started.lm_head.weight, source.lm_head.weight)


def test_min_eval_interval_skips_the_first_evaluations(tiny_data, tmp_path, monkeypatch):
    """Four data iterations of one epoch (4 batches each): the authors evaluate iterations 2 and 3 (from 0) when
    `min_eval_interval` is 2; the final evaluation always runs."""
    evaluated = []
    evaluate = Trainer.evaluate

    def recording(self):
        evaluated.append(self.step)
        return evaluate(self)

    monkeypatch.setattr(Trainer, "evaluate", recording)
    common = dict(epochs=4, eval_interval=1, max_steps=None, lr_warmup_steps=1)
    train(tiny_run_config(tiny_data, tmp_path / "all", **common))
    assert evaluated == [4, 8, 12, 16]
    evaluated.clear()
    train(tiny_run_config(tiny_data, tmp_path / "late", min_eval_interval=2, **common))
    assert evaluated == [12, 16]


@pytest.fixture(scope="module")
def two_datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("sets")
    return build_sudoku4(root / "a", seed=2), build_sudoku4(root / "b", seed=3, train_rows=32)


def test_several_datasets_are_drawn_set_after_set_as_the_authors_do(two_datasets):
    """Within every data iteration, each dataset is shuffled and batched on its own from the next Philox seed; the
    second dataset's puzzles, groups and puzzle ids follow the first's."""
    parts = [load_puzzle_dataset(path) for path in two_datasets]
    merged, metadata = concatenate_puzzle_datasets(parts, [str(path) for path in two_datasets])
    first, second = (meta["train"] for _, meta in parts)
    assert metadata["train"].num_puzzle_identifiers == first.num_puzzle_identifiers + second.num_puzzle_identifiers
    assert metadata["train"].total_groups == first.total_groups + second.total_groups
    assert len(merged["train"]) == len(parts[0][0]["train"]) + len(parts[1][0]["train"])
    sampler = TrainBatchSampler(
        merged["train"], metadata["train"], 16, epochs_per_iter=1, set_groups=[first.total_groups, second.total_groups]
    )
    drawn = 0
    for iteration in range(2):
        ours = list(sampler)
        alone = [
            list(TrainBatchSampler(data["train"], meta["train"], 16, seed=2 * iteration + i, epochs_per_iter=1))
            for i, (data, meta) in enumerate(parts)
        ]
        assert len(ours) == len(alone[0]) + len(alone[1])
        for batch, expected in zip(ours, alone[0] + alone[1], strict=True):
            assert torch.equal(batch["input_ids"], expected["input_ids"])
        for batch in ours[len(alone[0]) :]:  # the second set's ids follow the first's table
            assert (batch["puzzle_identifiers"] >= first.num_puzzle_identifiers).all()
        drawn += len(ours)
    assert sampler.iteration == 2 and drawn == 2 * (48 // 16 + 32 // 16)


def test_extra_and_test_data_paths_in_a_run(two_datasets, tiny_data, tmp_path):
    a, b = two_datasets
    trainer = Trainer(
        tiny_run_config(a, tmp_path, max_steps=2, extra_data_paths=[str(b)], test_data_paths=[str(tiny_data)])
    )
    assert trainer.set_groups == [48, 32] and trainer.sampler.set_groups == [48, 32]
    assert len(trainer.dataset["train"]) == 80 and len(trainer.dataset["test"]) == 16
    test, _ = load_puzzle_dataset(tiny_data, split="test")
    assert trainer.dataset["test"]["input_ids"] == test["input_ids"]
    assert trainer.unwrapped.config.num_puzzle_identifiers == 2


def test_datasets_of_other_shapes_are_not_trained_together(two_datasets):
    _, metadata = load_puzzle_dataset(two_datasets[0])
    other = dataclasses.replace(metadata["train"], vocab_size=12)
    with pytest.raises(ValueError, match="a and b cannot be used together: vocab_size is 6 in one and 12"):
        check_shared_fields(metadata["train"], other, ("a", "b"))
