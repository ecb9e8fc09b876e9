"""Folders are owned, not assumed: a writer claims its folder (a second one is refused in one line, also from another
process), removes only what it created, never deletes a user's files, and never writes through a link planted in a
model, dataset, evaluation or run folder; a file named in metadata must lie inside its folder."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hrm_hf.data.storage import load_puzzle_dataset
from hrm_hf.folders import (
    LOCK_NAME,
    FolderInUseError,
    LinkRefusedError,
    claim_folder,
    file_inside,
    replacing,
    write_file,
)
from tests.helpers import build_tiny_data, tiny_model_folder, tiny_run_config


REPO_ROOT = Path(__file__).resolve().parent.parent


def hold(folder: Path, command: str = "hrm train --output-dir run") -> subprocess.Popen:
    """Another process that claims `folder` as `command` and holds it until `folder/../release` appears."""
    code = (
        "import sys, time; from pathlib import Path; from hrm_hf.folders import claim_folder\n"
        "folder = Path(sys.argv[1])\n"
        "claim = claim_folder(folder, 'output_dir', sys.argv[2])\n"
        "(folder.parent / 'claimed').write_text('yes')\n"
        "while not (folder.parent / 'release').exists(): time.sleep(0.05)\n"
        "(folder / 'result.txt').write_text('the first run')\n"
        "claim.release()\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code, str(folder), command], cwd=REPO_ROOT)
    deadline = time.time() + 120
    while not (folder.parent / "claimed").exists():
        assert process.poll() is None and time.time() < deadline, "the holding process did not start"
        time.sleep(0.05)
    return process


def let_go(process: subprocess.Popen, folder: Path) -> None:
    (folder.parent / "release").write_text("go")
    assert process.wait(timeout=120) == 0


# --- claims ---------------------------------------------------------------------------------------------------------


def test_a_claim_names_its_run_and_leaves_nothing_behind(tmp_path):
    folder = tmp_path / "out"
    with claim_folder(folder, "--output-dir", "hrm evaluate --output-dir out") as claim:
        record = json.loads((folder / LOCK_NAME).read_text())
        assert record["pid"] == os.getpid() and record["command"] == "hrm evaluate --output-dir out"
        assert claim_folder(tmp_path / "out/", "--output-dir") is claim  # the same folder, however it is spelt
        claim.release()
        (folder / "metrics.json").write_text("{}")
    assert sorted(p.name for p in folder.iterdir()) == ["metrics.json"]


def test_a_failed_run_removes_only_what_it_created(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "mine.txt").write_text("the user's")
    with pytest.raises(RuntimeError), claim_folder(folder, "--output-dir", undo_on_error=True):
        (folder / "half-written").mkdir()
        (folder / "half-written" / "shard").write_text("x")
        raise RuntimeError("killed")
    assert sorted(p.name for p in folder.iterdir()) == ["mine.txt"]
    with pytest.raises(RuntimeError), claim_folder(tmp_path / "new", "--output-dir", undo_on_error=True):
        (tmp_path / "new" / "file").write_text("x")
        raise RuntimeError("killed")
    assert not (tmp_path / "new").exists()  # made by the run, so removed with it


def test_a_second_writer_from_another_process_is_refused_in_one_line(tmp_path):
    folder = tmp_path / "run"
    process = hold(folder)
    try:
        with pytest.raises(FolderInUseError) as refused:
            claim_folder(folder, "--output-dir")
        message = str(refused.value)
        assert "\n" not in message and f"pid {process.pid}" in message and "hrm train --output-dir run" in message
    finally:
        let_go(process, folder)
    claim_folder(folder, "--output-dir").release()  # free once the holder is done


def test_two_dataset_builds_into_one_new_folder_keep_the_winners_dataset(tmp_path, capsys, monkeypatch):
    """The loser is refused and cleans up nothing; the winner's dataset is whole."""
    from hrm_hf.scripts import cli

    monkeypatch.setattr(sys, "argv", sys.argv)
    folder = tmp_path / "data"
    winner = hold(folder, "hrm build-dataset sudoku --output-dir data")
    try:
        with pytest.raises(SystemExit) as stop:
            cli.main(["build-dataset", "sudoku", "--generate=4", "--size=4", f"--output-dir={folder}"])
        assert stop.value.code == 1 and "is in use by another run" in capsys.readouterr().err
        assert folder.is_dir()
    finally:
        let_go(winner, folder)
    assert (folder / "result.txt").read_text() == "the first run"


def test_a_late_second_build_into_a_finished_dataset_removes_nothing(tmp_path):
    from hrm_hf.data.sudoku import build_sudoku_dataset
    from hrm_hf.data.sudoku_generator import generate_puzzles

    data = build_tiny_data(tmp_path / "data")
    before = sorted(p.relative_to(data) for p in data.rglob("*"))
    rows = generate_puzzles(4, seed=2, size=4, clues=(10, 10), progress=False)
    with pytest.raises(FileExistsError, match="is not empty"):
        build_sudoku_dataset(rows[:2], rows[2:], size=4, output_dir=data)
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == before
    assert len(load_puzzle_dataset(data)[0]["train"]) == 64


def test_two_training_runs_into_one_output_dir_the_second_is_refused(tiny_data, tmp_path):
    from hrm_hf.training.loop import train

    folder = tmp_path / "run"
    first = hold(folder)
    try:
        with pytest.raises(FolderInUseError, match="`output_dir`: .* is in use by another run"):
            train(tiny_run_config(tiny_data, folder, max_steps=2))
    finally:
        let_go(first, folder)
    assert (folder / "result.txt").read_text() == "the first run" and not (folder / "checkpoints").exists()


def test_a_linked_checkpoints_folder_does_not_survive_overwrite(tiny_data, tmp_path):
    """`--overwrite-output-dir` unlinks the link (its target keeps the old run's checkpoints) and checkpoints into a
    real folder, so rotation keeps the new run's."""
    from hrm_hf.training.checkpoint import COMPLETE_MARKER, list_checkpoints
    from hrm_hf.training.loop import train

    old = tmp_path / "elsewhere" / "step-100"
    old.mkdir(parents=True)
    (old / COMPLETE_MARKER).write_text("step 100\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoints").symlink_to(tmp_path / "elsewhere")
    train(tiny_run_config(tiny_data, run, max_steps=3, checkpoint_every=1, keep_last=2, overwrite_output_dir=True))
    assert not (run / "checkpoints").is_symlink()
    assert [p.name for p in list_checkpoints(run)] == ["step-2", "step-3"]
    assert (old / COMPLETE_MARKER).is_file()  # the link's target is the user's: untouched


def test_resuming_into_a_linked_checkpoints_folder_is_refused(tiny_data, tmp_path):
    from hrm_hf.training.config import ConfigError
    from hrm_hf.training.loop import train

    run = tmp_path / "run"
    run.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (run / "checkpoints").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ConfigError, match="checkpoints is a symbolic link"):
        train(tiny_run_config(tiny_data, run, max_steps=2, resume_from_checkpoint="latest"))


def test_the_demo_never_deletes_a_users_files_under_its_data_folder(tmp_path, monkeypatch):
    from hrm_hf.data import sudoku_generator
    from hrm_hf.scripts import demo

    real = sudoku_generator.generate_puzzles
    monkeypatch.setattr(sudoku_generator, "generate_puzzles", lambda count, **kw: real(24, **{**kw, "clues": None}))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "notes.txt").write_text("the user's")
    with pytest.raises(FileExistsError, match=r"holds files no earlier demo wrote \(notes.txt\)"):
        demo.main(["--puzzles", "sudoku4", "--output-dir", str(tmp_path), "--max-steps", "1"])
    assert (tmp_path / "data" / "notes.txt").read_text() == "the user's"
    # An earlier demo's puzzles (and only those) are rebuilt.
    (tmp_path / "data" / "notes.txt").unlink()
    demo.build_data(tmp_path / "data", 0, demo.DEMOS["sudoku4"])
    demo.build_data(tmp_path / "data", 0, demo.DEMOS["sudoku4"])
    assert load_puzzle_dataset(tmp_path / "data")[1]["train"].build_command == "hrm demo"


# --- links ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path) -> Path:
    target = tmp_path / "outside.txt"
    target.write_text("not yours")
    return target


def test_atomic_writes_refuse_a_link_and_a_linked_folder(tmp_path, outside):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "metrics.json").symlink_to(outside)
    with pytest.raises(LinkRefusedError, match="metrics.json is a symbolic link"):
        write_file(folder, "metrics.json", "{}")
    (folder / "examples").symlink_to(tmp_path)
    with pytest.raises(LinkRefusedError, match="examples is a symbolic link"), replacing(folder, "examples/a.png"):
        pass
    assert outside.read_text() == "not yours" and [p.name for p in tmp_path.iterdir()].count("a.png") == 0


def test_the_model_card_is_never_written_through_a_link(tmp_path, outside):
    from hrm_hf.evaluation.card import write_model_card

    model = tiny_model_folder(tmp_path / "model")
    (model / "README.md").unlink()
    (model / "README.md").symlink_to(outside)
    with pytest.raises(LinkRefusedError, match="README.md is a symbolic link"):
        write_model_card(model, metrics={"exact_accuracy": 1.0})
    assert outside.read_text() == "not yours"


def test_evaluate_never_writes_metrics_through_a_link(tiny_data, tmp_path, outside, monkeypatch):
    from hrm_hf.scripts import evaluate_model

    monkeypatch.setattr(sys, "argv", sys.argv)
    model = tiny_model_folder(tmp_path / "model")
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "metrics.json").symlink_to(outside)
    flags = ["--model", str(model), "--dataset", str(tiny_data), "--output-dir", str(tmp_path / "eval")]
    with pytest.raises(LinkRefusedError, match="metrics.json is a symbolic link"):
        evaluate_model.main([*flags, "--halting", "fixed", "--limit", "2"])
    assert outside.read_text() == "not yours"
    with pytest.raises(ValueError, match="--output-dir .* is the --model"):
        evaluate_model.main([*flags[:4], "--output-dir", str(model)])


def test_a_model_folder_rewrite_never_writes_through_a_planted_link(tmp_path):
    from hrm_hf.evaluation.model_folder import write_model_folder
    from tests.helpers import tiny_model

    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / ".tmp-model").symlink_to(target)  # where the new folder is written before its rename
    write_model_folder(tiny_model(), tmp_path / "model")
    assert not list(target.iterdir()) and (tmp_path / "model" / "config.json").is_file()


def test_dataset_metadata_files_are_never_written_through_a_link(tmp_path, outside):
    from hrm_hf.data.card import dataset_card
    from hrm_hf.data.metadata import Provenance
    from hrm_hf.data.storage import write_metadata_files

    data = build_tiny_data(tmp_path / "data")
    _, metadata = load_puzzle_dataset(data)
    (data / "puzzle_metadata.json").unlink()
    (data / "puzzle_metadata.json").symlink_to(outside)
    with pytest.raises(LinkRefusedError):
        write_metadata_files(data, metadata, dataset_card(metadata, {"train": 1, "test": 1}, Provenance("src")))
    assert outside.read_text() == "not yours"


def test_an_identifiers_file_outside_the_dataset_is_refused(tmp_path):
    data = build_tiny_data(tmp_path / "data")
    (tmp_path / "names.json").write_text('["secret"]')
    meta = json.loads((data / "puzzle_metadata.json").read_text())
    meta["identifiers_file"] = "../names.json"
    (data / "puzzle_metadata.json").write_text(json.dumps(meta))
    with pytest.raises(LinkRefusedError, match="`identifiers_file`: '../names.json' lies outside the folder"):
        load_puzzle_dataset(data)
    (data / "names.json").symlink_to(tmp_path / "names.json")
    with pytest.raises(LinkRefusedError, match="lies outside the folder"):
        file_inside(data, "names.json", "identifiers_file")
