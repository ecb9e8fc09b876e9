"""README.md is tested: every fenced block runs here, in README order, in one folder laid out as a user's who followed
it, or is marked in the README as needing what this suite does not have.

A marker is the HTML comment on the line just above a block, `<!-- test: KIND (why) -->`: `network`, `hub` and `gpu`
blocks are skipped with their reason, `slow` ones run only with `-m slow`. `bash` blocks run each `hrm` command in
this process (`accelerate` and other programs in a subprocess); `python` blocks run as written; a `console` block's
`$ command` must print exactly the lines below it; a `yaml` block is a training config file and must load as one. A training command runs its first
steps only (see `shortened`). The folder holds the files a user brings (the authors' CSV files,
an ARC-AGI Kaggle folder, a checkpoint) and, where a block reads what a skipped or slow block would have made (a model
trained on a GPU, the demo's model and puzzles), a tiny stand-in of it.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import ARC_FIXTURES, FIXTURES, build_tiny_data, tiny_model_folder


REPO_ROOT = Path(__file__).resolve().parent.parent
README = REPO_ROOT / "README.md"
MARKER = re.compile(r"<!-- test: (?P<kind>[a-z]+)(?: \((?P<why>[^)]*)\))? -->")
SKIPPED_KINDS = {
    "network": "needs the network",
    "hub": "needs the Hub",
    "gpu": "needs a GPU",
    "output": "shows what a command printed",
}
RUN_LANGUAGES = ("bash", "python", "console", "yaml")
TRAINING_STEPS = 20  # what a README training command runs here


@dataclass(frozen=True)
class Block:
    """A fenced block of README.md: where it starts, its language, its text and its marker (kind, reason)."""

    line: int
    language: str
    text: str
    kind: str | None
    why: str

    @property
    def id(self) -> str:
        return f"line {self.line} {self.language or 'text'}" + (f" ({self.kind})" if self.kind else "")


def readme_blocks() -> list[Block]:
    lines = README.read_text().splitlines()
    blocks, start = [], None
    for number, line in enumerate(lines, start=1):
        if start is None and line.startswith("```"):
            start = number
        elif start is not None and line == "```":
            marker = MARKER.fullmatch(lines[start - 2].strip()) if start > 1 else None
            blocks.append(
                Block(
                    start,
                    lines[start - 1][3:].strip(),
                    "\n".join(lines[start:number - 1]),
                    marker and marker["kind"],
                    (marker and marker["why"]) or "",
                )
            )  # fmt: skip
            start = None
    return blocks


BLOCKS = readme_blocks()


def marks(block: Block) -> list:
    if block.kind in SKIPPED_KINDS:
        return [pytest.mark.skip(reason=f"README marks it: {SKIPPED_KINDS[block.kind]} ({block.why})")]
    return [pytest.mark.slow] if block.kind == "slow" else []


# --- the user's folder ----------------------------------------------------------------------------------------------


def sudoku_csvs(folder: Path) -> None:
    """The authors' `train.csv` and `test.csv` layout, with a few generated 9x9 puzzles."""
    from hrm_hf.data.puzzle_csv import write_puzzle_csv
    from hrm_hf.data.sudoku_generator import generate_puzzles

    rows = generate_puzzles(8, seed=0, size=9, progress=False)
    write_puzzle_csv(folder / "train.csv", rows[:4])
    write_puzzle_csv(folder / "test.csv", rows[4:])


def sudoku9_data(folder: Path) -> Path:
    """A small 9x9 Sudoku dataset, built from the user's CSV files (in the current folder, the user's)."""
    from hrm_hf.data.puzzle_csv import read_puzzle_csv
    from hrm_hf.data.sudoku import build_sudoku_dataset, validate_row

    train, test = (read_puzzle_csv(name, validate_row) for name in ("train.csv", "test.csv"))
    build_sudoku_dataset(train, test, output_dir=folder)
    return folder


# What a block may read that a block not run here (slow, GPU, Hub) would have made: path -> stand-in builder.
STAND_INS: dict[str, Callable[[Path], Path]] = {
    "outputs/cpu-demo/model": tiny_model_folder,  # the demo's 4x4 Sudoku model
    "outputs/cpu-demo/data": build_tiny_data,  # the demo's 4x4 puzzles
    "outputs/data/sudoku-gen": sudoku9_data,
    "outputs/data/sudoku-extreme-1k-aug-1000": sudoku9_data,
    "outputs/sudoku/model": lambda folder: tiny_model_folder(folder, seq_len=81, vocab_size=11),
    "runs/seed0/model": tiny_model_folder,  # two runs of the demo's recipe, for the ensemble
    "runs/seed1/model": tiny_model_folder,
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user's folder: the authors' CSV files, an ARC-AGI Kaggle folder (`ARC_DIR`) and a checkpoint."""
    folder = tmp_path_factory.mktemp("readme")
    sudoku_csvs(folder)
    shutil.copytree(ARC_FIXTURES, folder / "ARC_DIR")
    shutil.copytree(FIXTURES / "official" / "rope_puzzle" / "official_checkpoint", folder / "path/to/checkpoint")
    return folder


def provide_stand_ins(block: Block, folder: Path) -> None:
    """Build the stand-ins of what `block` reads and nothing made yet (never of what it writes itself)."""
    for path, build in STAND_INS.items():
        if path in block.text and f"--output-dir {path}" not in block.text and not (folder / path).exists():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            build(folder / path)


# --- running a block ------------------------------------------------------------------------------------------------


def commands(text: str) -> list[list[str]]:
    """The command lines of a bash block, continuations joined, comments dropped."""
    return [argv for line in text.replace("\\\n", " ").splitlines() if (argv := shlex.split(line, comments=True))]


def run_hrm(argv: list[str]) -> str:
    """`hrm argv` in this process; its stdout. A non-zero exit fails, except `hrm solve`'s documented `not solved`
    (the stand-in models are untrained)."""
    from hrm_hf.scripts import cli

    out, saved = io.StringIO(), sys.argv[:]
    try:
        with contextlib.redirect_stdout(out):
            cli.main(argv)
    except SystemExit as stop:
        solve_refused = argv[0] == "solve" and str(stop.code).startswith("not solved")
        assert stop.code in (0, None) or solve_refused, f"hrm {shlex.join(argv)} exited with {stop.code!r}"
    finally:
        sys.argv = saved
    return out.getvalue()


def shortened(argv: list[str]) -> list[str]:
    """A training command with `--max-steps` appended (the last value wins): its launch, configuration and loop are
    what this test checks; whole runs are the demo's test and the trainer's own tests."""
    module = argv.index("hrm_hf.scripts") + 1 if "hrm_hf.scripts" in argv else None  # `accelerate launch -m ...`
    trains = argv[:2] == ["hrm", "train"] or (module is not None and argv[module : module + 1] == ["train"])
    return [*argv, "--max-steps", str(TRAINING_STEPS)] if trains else argv


def run_bash(text: str, folder: Path) -> None:
    for argv in map(shortened, commands(text)):
        if argv[0] == "hrm":
            run_hrm(argv[1:])
        else:  # a program of this environment (`accelerate`) is found beside its Python
            installed = Path(sys.executable).parent / argv[0]
            argv = [str(installed), *argv[1:]] if installed.is_file() else argv
            done = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=3600)
            assert done.returncode == 0, f"{shlex.join(argv)} failed:\n{done.stderr[-3000:]}"


def run_console(text: str) -> None:
    """Each `$ command` of the transcript prints exactly the lines that follow it."""
    for part in text.split("$ ")[1:]:
        command, _, expected = part.partition("\n")
        argv = shlex.split(command)
        assert argv[0] == "hrm", f"only `hrm` transcripts are checked, got {command!r}"
        printed = run_hrm(argv[1:])
        assert [line.rstrip() for line in printed.splitlines()] == [line.rstrip() for line in expected.splitlines()]


def run_yaml(text: str) -> None:
    """A training config file loads (with a dataset path where the block leaves it to the command line)."""
    import yaml

    from hrm_hf.training.config import TrainConfig

    TrainConfig.from_dict({"data_path": "outputs/cpu-demo/data", **yaml.safe_load(text)})


def test_every_block_runs_or_is_marked():
    kinds = {block.kind for block in BLOCKS if block.kind} - {"slow"}
    assert kinds <= SKIPPED_KINDS.keys(), f"unknown README test markers: {kinds - SKIPPED_KINDS.keys()}"
    unmarked = [block.id for block in BLOCKS if block.language not in RUN_LANGUAGES and block.kind is None]
    assert not unmarked, f"README blocks that neither run nor are marked: {unmarked}"
    assert sum(block.kind is None for block in BLOCKS) >= 8


@pytest.mark.parametrize("block", [pytest.param(b, marks=marks(b), id=b.id) for b in BLOCKS])
def test_readme_block(block, workspace, monkeypatch):
    monkeypatch.chdir(workspace)
    monkeypatch.setattr(sys, "argv", sys.argv)
    provide_stand_ins(block, workspace)
    if block.language == "bash":
        run_bash(block.text, workspace)
    elif block.language == "console":
        run_console(block.text)
    elif block.language == "yaml":
        run_yaml(block.text)
    else:
        exec(compile(block.text, f"README.md:{block.line}", "exec"), {"__name__": "__readme__"})
