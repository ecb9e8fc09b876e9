"""One local-vs-Hub rule (`hrm_hf.hub.hub_repo_id`), through which every command decides whether a name is a local
path or a Hub repo, each value decided once; and `hub.py` as the one module that validates repo ids, downloads
snapshots, creates repos and commits to them."""

import ast
import logging
import sys
from pathlib import Path

import pytest

from hrm_hf import hub
from hrm_hf.data.storage import load_puzzle_dataset
from hrm_hf.data.sudoku import build_sudoku_dataset
from hrm_hf.data.sudoku_generator import generate_puzzles
from hrm_hf.evaluation.card import headline_results
from hrm_hf.evaluation.loading import load_model
from hrm_hf.scripts import build_dataset, convert_official_checkpoint, evaluate_model, show, solve
from hrm_hf.scripts import train as train_script
from hrm_hf.tokenization_hrm import SUDOKU
from hrm_hf.training.loop import load_data
from tests.helpers import tiny_run_config


PACKAGE = Path(hub.__file__).parent
SUDOKU_4 = ".12.2.1.13..42.."


@pytest.mark.parametrize("value", ["./x", "/x", "a/b/c", "~/x", "name", "./owner/name", "owner/name/"])
def test_missing_paths_that_cannot_be_repo_ids_are_local(value, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=f"^--opt: no such file or folder '{value}'\\.$"):
        hub.hub_repo_id(value, "--opt")
    assert not hub.names_hub_repo(value)


def test_an_existing_path_wins_and_a_missing_owner_name_is_a_repo_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert hub.hub_repo_id("owner/name", "--opt") == "owner/name" and hub.names_hub_repo("owner/name")
    (tmp_path / "owner" / "name").mkdir(parents=True)
    assert hub.hub_repo_id("owner/name", "--opt") is None and not hub.names_hub_repo("owner/name")
    assert hub.resolve("owner/name", "--opt") == hub.Source(Path("owner/name"))
    (tmp_path / "owner" / "file").write_text("")
    assert hub.resolve("owner/file", "--opt") == hub.Source(Path("owner/file"))
    with pytest.raises(NotADirectoryError, match="^--opt: 'owner/file' is a file, not a folder\\.$"):
        hub.resolve("owner/file", "--opt", must_be_folder=True)


@pytest.mark.parametrize("value", ["own er/name", "owner/na--me", "owner/name.", "owner/-name"])
def test_an_invalid_repo_id_is_refused_before_the_hub_is_asked(value, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="nor is it a valid Hub repo id"):
        hub.hub_repo_id(value, "--opt")
    assert not hub.is_repo_id(value) and not hub.names_hub_repo(value)


def test_a_hub_source_names_repo_and_commit_and_downloads_only_what_is_asked(local_hub, tmp_path, caplog):
    from huggingface_hub import HfApi

    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "train.csv").write_text("a\n")
    (folder / "notes.txt").write_text("b\n")
    api = HfApi()
    api.create_repo("owner/csvs", repo_type="dataset")
    commit = api.upload_folder(folder_path=str(folder), repo_id="owner/csvs", repo_type="dataset").oid
    with caplog.at_level(logging.WARNING, logger="hrm_hf.hub"):
        source = hub.resolve("owner/csvs", "--source", repo_type="dataset", allow_patterns=["*.csv"])
    assert (source.repo_id, source.commit, source.name) == ("owner/csvs", commit, "owner/csvs")
    assert sorted(p.name for p in source.path.iterdir()) == ["train.csv"]
    assert f"Hub dataset repo owner/csvs at revision main ({commit})" in caplog.text


class Decided(Exception):
    """Raised by the recording rule: the command asked it, which is what these tests want to know."""


@pytest.fixture
def decisions(monkeypatch):
    """The (value, option) pairs the one rule is asked about; `decisions.stop` makes it end the command there."""

    class Recorder(list):
        stop = True

    recorded = Recorder()
    rule = hub.hub_repo_id

    def record(value, option):
        recorded.append((str(value), option))
        if recorded.stop:
            raise Decided
        return rule(value, option)

    monkeypatch.setattr(hub, "hub_repo_id", record)
    return recorded


@pytest.mark.parametrize(
    ("command", "argv", "option"),
    [
        (train_script, ["--preset", "cpu-demo", "--data-path", "owner/data", "--output-dir", "run"], "`data_path`"),
        (evaluate_model, ["--model", "owner/model", "--dataset", "owner/data"], "--model"),
        (solve, ["--model", "owner/model", "--sudoku", SUDOKU_4], "--model"),
        (show, ["owner/data"], "dataset"),
        (convert_official_checkpoint, ["owner/checkpoint", "--output-dir", "out"], "checkpoint"),
        (build_dataset, ["sudoku", "--source", "owner/data", "--output-dir", "out"], "--source"),
    ],
    ids=["train", "evaluate", "solve", "show", "convert", "build-dataset"],
)
def test_every_command_asks_the_one_rule(command, argv, option, decisions, tmp_path, monkeypatch):
    """Each command's first local-vs-Hub decision, on the value of its option, is the rule's."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["hrm"])
    with pytest.raises(Decided):
        command.main(argv)
    ((value, asked),) = decisions
    assert value.startswith("owner/") and option in asked


def test_loaders_and_the_card_ask_the_one_rule(decisions):
    for load in (load_puzzle_dataset, load_model):
        with pytest.raises(Decided):
            load("owner/thing")
    decisions.stop = False
    headline_results({"exact_accuracy": 0.5}, "owner/data", "test", SUDOKU)
    assert [value for value, _ in decisions] == ["owner/thing"] * 2 + ["owner/data"]


def test_training_decides_its_data_path_once(decisions, tmp_path):
    rows = generate_puzzles(6, size=4, clues=(8, 8), progress=False)
    build_sudoku_dataset(rows[:4], rows[4:], size=4, output_dir=tmp_path / "data")
    decisions.stop = False
    dataset, metadata, _ = load_data(tiny_run_config(tmp_path / "data", tmp_path / "run"))
    assert decisions == [(str(tmp_path / "data"), "Training config field `data_path`")]
    assert sorted(metadata) == ["test", "train"] and dataset["train"].num_rows > 0


def package_modules() -> list[Path]:
    return [
        path
        for folder in (PACKAGE, *(PACKAGE / name for name in ("data", "evaluation", "training", "scripts")))
        for path in sorted(folder.glob("*.py"))
    ]


def test_only_hub_py_validates_repo_ids_downloads_snapshots_and_commits():
    callers = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in package_modules()
        for name in ("validate_repo_id", "snapshot_download", "create_repo", "upload_folder", "create_commit")
        if path.name != "hub.py" and name in path.read_text()
    }
    assert not callers


def test_hub_py_is_a_bottom_layer():
    tree = ast.parse((PACKAGE / "hub.py").read_text())
    imported = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
        if not (isinstance(node, ast.ImportFrom) and node.level > 0)
    }
    relative = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level > 0]
    assert not relative  # nothing of the package: the model files, data/ and the rest sit above or beside it
    third_party = imported - set(sys.stdlib_module_names)
    assert third_party <= {"huggingface_hub", "httpx2"}
