"""Loading what a user names runs no stranger's code and never reaches the Hub by accident: the local-vs-Hub rule of
`hub`, shared by `hrm evaluate`/`solve`/`demo`, `load_puzzle_dataset` and training's `data_path`."""

import json
import logging
import shutil
import uuid
from pathlib import Path

import pytest

from hrm_hf import modeling_hrm
from hrm_hf.data.storage import load_puzzle_dataset
from hrm_hf.evaluation.loading import load_model
from hrm_hf.hub import Source, hub_repo_id, resolve
from hrm_hf.modeling_hrm import HrmActModel
from hrm_hf.scripts import cli
from hrm_hf.training.config import TrainConfig
from hrm_hf.training.loop import load_data
from tests.helpers import tiny_model


PACKAGE = Path(modeling_hrm.__file__).parent
MARKER = "stranger_code_ran"


def folder_with_own_code(folder: Path) -> Path:
    """A saved tiny model whose config points AutoModel at a `modeling_hrm.py` that leaves a marker file on import."""
    tiny_model().save_pretrained(folder)
    shutil.copy(PACKAGE / "configuration_hrm.py", folder / "configuration_hrm.py")
    code = (PACKAGE / "modeling_hrm.py").read_text()
    (folder / "modeling_hrm.py").write_text(
        f"import pathlib\npathlib.Path({str(folder / MARKER)!r}).write_text('ran')\n" + code
    )
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {
        "AutoConfig": "configuration_hrm.HrmActConfig",
        "AutoModel": "modeling_hrm.HrmActModel",
    }
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_folder_code_runs_only_with_trust_remote_code(tmp_path):
    # transformers imports a folder's code as `transformers_modules.<folder name>`: a name no other test loads
    folder = folder_with_own_code(tmp_path / f"stranger-{uuid.uuid4().hex}")
    model = load_model(folder)
    assert type(model) is HrmActModel and not (folder / MARKER).exists()
    trusted = load_model(folder, trust_remote_code=True)
    assert (folder / MARKER).exists() and type(trusted) is not HrmActModel


@pytest.mark.parametrize("spec", ["./runs/model", "/nowhere/model", "runs/model/final", "hrm-sudoku", "~/model"])
def test_paths_that_cannot_be_repo_ids_are_local(spec, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=f"--model: no such file or folder '{spec}'"):
        resolve(spec, "--model", must_be_folder=True)


def test_existing_folder_wins_and_missing_owner_name_is_a_repo_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert hub_repo_id("runs/model", "--model") == "runs/model"
    (tmp_path / "runs" / "model").mkdir(parents=True)
    assert resolve("runs/model", "--model", must_be_folder=True) == Source(Path("runs/model"))
    (tmp_path / "runs" / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="'runs/file' is a file"):
        resolve("runs/file", "--model", must_be_folder=True)


def test_hub_fallback_names_repo_and_commit_and_loads_installed_class(local_hub, tmp_path, monkeypatch, caplog):
    from huggingface_hub import HfApi

    monkeypatch.chdir(tmp_path)
    folder = folder_with_own_code(tmp_path / "upload")
    HfApi().create_repo("runs/model")
    HfApi().upload_folder(repo_id="runs/model", folder_path=folder)
    sha = HfApi().model_info("runs/model").sha
    with caplog.at_level(logging.WARNING, logger="hrm_hf.hub"):
        model = load_model("runs/model")
    assert type(model) is HrmActModel and not (folder / MARKER).exists()
    (line,) = [r.getMessage() for r in caplog.records if "Hub model repo" in r.getMessage()]
    assert "runs/model" in line and sha in line


def test_evaluate_with_missing_local_folder_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["hrm"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["evaluate", "--model", "./runs/model", "--dataset", "./data"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1
    assert err == "error: --model: no such file or folder './runs/model'.\n"


def test_missing_repo_and_folder_is_one_clear_error(local_hub, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        FileNotFoundError, match="no such file or folder 'data/sudoku-extreme-1k', and the Hub dataset repo"
    ):
        load_puzzle_dataset("data/sudoku-extreme-1k")
    config = TrainConfig.from_dict({"data_path": "./data/sudoku-extreme-1k", "output_dir": str(tmp_path / "out")})
    with pytest.raises(FileNotFoundError, match="`data_path`: no such file or folder './data/sudoku-extreme-1k'"):
        load_data(config)


def test_folder_without_puzzle_metadata_is_named(tmp_path):
    (tmp_path / "data").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no puzzle dataset"):
        load_puzzle_dataset(tmp_path / "data")
    (tmp_path / "data" / "puzzle_metadata.json").write_text("{not json")
    with pytest.raises(ValueError, match="puzzle_metadata.json: not a puzzle dataset's metadata"):
        load_puzzle_dataset(tmp_path / "data")


def test_dataset_hub_fallback_names_repo_and_commit(local_hub, tmp_path, monkeypatch, caplog):
    from huggingface_hub import HfApi

    from hrm_hf.data.storage import push_puzzle_dataset
    from hrm_hf.data.sudoku import build_sudoku_dataset
    from hrm_hf.data.sudoku_generator import generate_puzzles

    rows = generate_puzzles(6, size=4, clues=(8, 8), progress=False)
    build_sudoku_dataset(rows[:4], rows[4:], size=4, output_dir=tmp_path / "built")
    push_puzzle_dataset(tmp_path / "built", "user/sudoku-4")
    sha = HfApi().dataset_info("user/sudoku-4").sha
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.WARNING, logger="hrm_hf.hub"):
        dataset, metadata = load_puzzle_dataset("user/sudoku-4", split="test")
    assert len(dataset) == metadata.total_groups == 2
    (line,) = [r.getMessage() for r in caplog.records if "Hub dataset repo" in r.getMessage()]
    assert "user/sudoku-4 at revision main" in line and sha in line
