"""What several test files share: puzzles as a user types them, tiny models and configs, the small datasets they
train and evaluate on, the `hrm train` command line of the kill tests, and a pickle payload.

Test files import these from here and never from each other; pytest fixtures built on them live in conftest.py.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
import yaml
from safetensors.torch import load_file

from hrm_hf.configuration_hrm import HrmActConfig
from hrm_hf.modeling_hrm import HrmActModel


FIXTURES = Path(__file__).parent / "fixtures"
ARC_FIXTURES = FIXTURES / "data" / "arc"

# A 9x9 Sudoku and its solution, as CSV rows hold them.
SUDOKU_QUESTION = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
SUDOKU_SOLUTION = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"
# A 9x9 Sudoku and a 30x30 maze as `hrm solve` reads them (the maze with a path marked).
SUDOKU = "..3.2.6..9..3.5..1..18.64....81.29..7.......8..67.82....26.95..8..2.3..9..5.1.3.."
MAZE = "\n".join(
    ["#" * 30] + ["#S" + " " * 26 + "o#"] + ["#" + " " * 28 + "#"] * 26 + ["#" + "o" * 27 + "G#", "#" * 30]
)


def corridor_maze(start: tuple[int, int] = (1, 1), goal: tuple[int, int] = (1, 3)) -> tuple[str, str]:
    """A walled 30x30 maze whose row 1 is open, with S at `start` and G at `goal`, and its answer (`o` at row 1,
    column 2), as the 900-character question and answer of a CSV row."""
    grid = [["#"] * 30 for _ in range(30)]
    for c in range(1, 29):
        grid[1][c] = " "
    question = [row[:] for row in grid]
    question[start[0]][start[1]] = "S"
    question[goal[0]][goal[1]] = "G"
    answer = [row[:] for row in question]
    answer[1][2] = "o"
    return "".join(map("".join, question)), "".join(map("".join, answer))


def write_task_folders(folder: Path, subsets: list[str]) -> None:
    """The fixture tasks in the ARC-AGI GitHub layout: `folder/<subset>/<task>.json`, test outputs included."""
    for subset in subsets:
        challenges = json.loads((ARC_FIXTURES / f"arc-agi_{subset}_challenges.json").read_text())
        solutions = json.loads((ARC_FIXTURES / f"arc-agi_{subset}_solutions.json").read_text())
        (folder / subset).mkdir(parents=True)
        for name, task in challenges.items():
            task["test"] = [
                {"input": t["input"], "output": o} for t, o in zip(task["test"], solutions[name], strict=True)
            ]
            (folder / subset / f"{name}.json").write_text(json.dumps(task))


def build_arc_fixture(folder: Path) -> None:
    """The fixture's ARC tasks (training, with evaluation as the test set) as a saved dataset, 3 augmentations each."""
    from hrm_hf.data import arc
    from hrm_hf.data.metadata import Provenance

    tasks = arc.load_tasks(ARC_FIXTURES, ["training", "evaluation"])
    arc.build_arc_dataset(
        tasks, "evaluation", num_aug=3, output_dir=folder, provenance=Provenance("fixture tasks", build_command="cmd")
    )


def release_json(metadata) -> dict:
    """The authors' `dataset.json` of a split: exactly the release's keys of its metadata, in their order."""
    from hrm_hf.data.metadata import RELEASE_KEYS

    return {key: getattr(metadata, key) for key in RELEASE_KEYS}


def build_tiny_data(folder: Path) -> Path:
    """A saved 4x4 Sudoku dataset: 64 training and 16 held-out puzzles."""
    from hrm_hf.data.sudoku import build_sudoku_dataset
    from hrm_hf.data.sudoku_generator import generate_puzzles

    rows = generate_puzzles(80, seed=1, size=4, clues=(10, 10), progress=False)
    build_sudoku_dataset(rows[:64], rows[64:], size=4, output_dir=folder)
    return folder


# --- models ---------------------------------------------------------------------------------------------------------


def tiny_config(**overrides) -> HrmActConfig:
    """A small float32 architecture (hidden 32, 4 heads, 1+1 layers, 2+2 cycles) for the model's own tests."""
    fields = dict(
        vocab_size=11, seq_len=16, num_puzzle_identifiers=5, hidden_size=32, num_heads=4, H_layers=1, L_layers=1,
        H_cycles=2, L_cycles=2, halt_max_steps=3, forward_dtype="float32", expansion=2.0,
    )  # fmt: skip
    fields.update(overrides)
    return HrmActConfig(**fields)


def random_batch(config: HrmActConfig, batch_size: int = 4, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random inputs, puzzle identifiers and labels that fit `config`."""
    generator = torch.Generator().manual_seed(seed)
    return {
        "input_ids": torch.randint(0, config.vocab_size, (batch_size, config.seq_len), generator=generator),
        "puzzle_identifiers": torch.randint(0, config.num_puzzle_identifiers, (batch_size,), generator=generator),
        "labels": torch.randint(0, config.vocab_size, (batch_size, config.seq_len), generator=generator),
    }


def seeded_model(config: HrmActConfig) -> HrmActModel:
    """The model of `config` at seed 0, in eval mode."""
    torch.manual_seed(0)
    model = HrmActModel(config)
    with torch.no_grad():  # a non-trivial Q head and puzzle table, so that round trips compare real numbers
        model.q_head.weight.normal_(0, 0.1)
        if config.puzzle_emb_ndim:
            model.puzzle_emb.weight.normal_(0, 0.1)
    return model.eval()


def tiny_model(
    seq_len: int = 16,
    vocab_size: int = 6,
    num_puzzle_identifiers: int = 3,
    halt_max_steps: int = 4,
    q_std: float = 0.3,
    halt_bias: float = -2.5,
    seed: int = 0,
) -> HrmActModel:
    """A random float32 model whose Q head (weights drawn with `q_std`, halt logit shifted by `halt_bias`) halts some
    rows early and lets others run to `halt_max_steps`: the evaluation tests' model."""
    torch.manual_seed(seed)
    config = HrmActConfig(
        seq_len=seq_len, vocab_size=vocab_size, num_puzzle_identifiers=num_puzzle_identifiers, hidden_size=32,
        num_heads=2, H_layers=1, L_layers=1, H_cycles=1, L_cycles=1, halt_max_steps=halt_max_steps,
        forward_dtype="float32",
    )  # fmt: skip
    model = HrmActModel(config).eval()
    with torch.no_grad():
        torch.nn.init.normal_(model.q_head.weight, std=q_std)
        model.q_head.bias.copy_(torch.tensor([halt_bias, 0.0]))
        model.puzzle_emb.weight.normal_()
    return model


def tiny_trm_model(seed: int = 0, q_std: float = 0.3, **overrides):
    """A random float32 TRM (hidden 32, 4 heads, 1 layer, 2 x 2 recursions, a 16-position puzzle prefix) in eval mode,
    whose Q head and puzzle table are not all zeros, so that rows halt at different segments; `overrides` are
    `TrmConfig` fields."""
    from hrm_hf.configuration_trm import TrmConfig
    from hrm_hf.modeling_trm import TrmModel

    fields = dict(
        vocab_size=11, seq_len=16, num_puzzle_identifiers=5, hidden_size=32, num_heads=4, L_layers=1, H_cycles=2,
        L_cycles=2, halt_max_steps=3, forward_dtype="float32", expansion=2.0,
    )  # fmt: skip
    torch.manual_seed(seed)
    model = TrmModel(TrmConfig(**fields | overrides))
    with torch.no_grad():
        model.q_head.weight.normal_(0, q_std)
        if model.config.puzzle_emb_ndim:
            model.puzzle_emb.weight.normal_(0, 0.1)
    return model.eval()


# --- training -------------------------------------------------------------------------------------------------------

# A training run small enough for the CPU in seconds, on `build_tiny_data`'s dataset.
TINY_RUN = dict(
    hidden_size=32, num_heads=2, expansion=2.0, H_layers=1, L_layers=1, H_cycles=1, L_cycles=2, halt_max_steps=2,
    forward_dtype="float32", global_batch_size=16, epochs=1000, eval_interval=1000, lr=1e-3, lr_warmup_steps=2,
    lr_min_ratio=0.1, puzzle_emb_lr=1e-2, log_every=5, num_threads=1,
)  # fmt: skip


def tiny_run_config(data: Path, output_dir: Path, **overrides):
    """The `TINY_RUN` training config on `data`, writing to `output_dir`: `TINY_RUN` and `overrides` as the command
    line gives them, on one level; the architecture's go under `arch`."""
    import dataclasses

    from hrm_hf.training.config import TrainConfig
    from hrm_hf.training.families import HrmArguments

    values = {**TINY_RUN, "data_path": str(data), "output_dir": str(output_dir), **overrides}
    arch = {item.name: values.pop(item.name) for item in dataclasses.fields(HrmArguments) if item.name in values}
    return TrainConfig.from_dict({**values, "arch": arch})


def weights(model_dir: Path) -> dict[str, torch.Tensor]:
    """The tensors of a saved model folder."""
    return load_file(model_dir / "model.safetensors")


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], atol: float) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=atol, msg=key)


# `hrm train` in a fresh process that SIGKILLs itself inside the rewrite of checkpoint `step-{step}`: right after the
# old folder is set aside, before the new one is renamed in. `{step}` is filled in; the train options follow `-c`.
TRAIN_KILLED_IN_REWRITE = """
import os, signal, sys
from hrm_hf.scripts import cli
from hrm_hf.training import checkpoint

set_aside = checkpoint.set_aside

def set_aside_then_die(folder, aside):
    set_aside(folder, aside)
    if folder.name == "step-{step}":
        os.kill(os.getpid(), signal.SIGKILL)

checkpoint.set_aside = set_aside_then_die
cli.main(["train", *sys.argv[1:]])
"""


def train_command(data: Path, output_dir: Path, *extra: str, kill_in_rewrite_of: int | None = None) -> list[str]:
    """`hrm train` of 10 steps on the tiny data, a checkpoint every 5 (only the newest kept), EMA on; with
    `kill_in_rewrite_of`, the process kills itself inside the rewrite of that step's checkpoint."""
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in TINY_RUN.items()]
    flags += ["--preset", "cpu-demo", "--data-path", str(data), "--puzzle-emb-ndim", "32", "--max-steps", "10",
              "--checkpoint-every", "5", "--keep-last", "1", "--ema", "--ema-rate", "0.9", "--halt-exploration-prob",
              "0.5", "--output-dir", str(output_dir), *extra]  # fmt: skip
    if kill_in_rewrite_of is None:
        return [sys.executable, "-m", "hrm_hf.scripts", "train", *flags]
    return [sys.executable, "-c", TRAIN_KILLED_IN_REWRITE.format(step=kill_in_rewrite_of), *flags]


def train_env() -> dict[str, str]:
    """The environment of a training subprocess: one thread."""
    return {**os.environ, "OMP_NUM_THREADS": "1"}


class RunsCode:
    """A pickle payload that touches a file when unpickled in full."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def tiny_model_folder(folder: Path, **sizes) -> Path:
    """A whole Hub-ready model folder (weights, code, pipeline, card) of `tiny_model(**sizes)`: by default a 4x4
    Sudoku model for `build_tiny_data`'s dataset."""
    from hrm_hf.evaluation.model_folder import write_model_folder

    return write_model_folder(tiny_model(**{"num_puzzle_identifiers": 1, **sizes}), folder)


class RecordedRun:
    """A golden run of the authors' trainer (`tests/fixtures/training/`, `tests/fixtures/trm/`): what they recorded,
    their config, and their `step_0` converted into a model folder under `folder`."""

    def __init__(self, root: Path, folder: Path):
        from hrm_hf.scripts.convert_official_checkpoint import convert_checkpoint

        self.root = root
        self.expected = load_file(root / "expected.safetensors")
        self.release_config = yaml.safe_load((root / "all_config.yaml").read_text())
        self.init_dir = folder / "init"
        convert_checkpoint(root / "step_0").save_pretrained(self.init_dir)

    def release_values(self, run_fields: tuple[str, ...]) -> tuple[dict, dict]:
        """The authors' config in our training config's terms: the run fields named, and the architecture."""
        arch = dict(self.release_config["arch"])
        arch = {k: v for k, v in arch.items() if k not in ("name", "loss")} | {"loss_type": arch["loss"]["loss_type"]}
        return {name: self.release_config[name] for name in run_fields}, arch

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        """The batch the authors' trainer fed at `step`."""
        e = self.expected
        return {
            "input_ids": e[f"batch.{step}.inputs"],
            "labels": e[f"batch.{step}.labels"].long(),
            "puzzle_identifiers": e[f"batch.{step}.puzzle_identifiers"],
        }
