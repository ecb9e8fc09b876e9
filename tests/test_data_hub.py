"""Hub round trips against the local Hub server (tests/hub_server.py): datasets and, for the model code, models."""

import json
from pathlib import Path

import numpy as np
import pytest

from hrm_hf.data import load_puzzle_dataset, push_puzzle_dataset
from hrm_hf.data.storage import UnknownSplitError
from tests.helpers import build_arc_fixture


def test_dataset_push_and_load_round_trip(local_hub, tmp_path):
    build_arc_fixture(tmp_path / "arc")
    push_puzzle_dataset(tmp_path / "arc", "tester/arc-tiny")
    test_split, test_metadata = load_puzzle_dataset("tester/arc-tiny", split="test")
    with pytest.raises(UnknownSplitError, match=r"Split 'validation' is not in .*, which has \['test', 'train'\]"):
        load_puzzle_dataset("tester/arc-tiny", split="validation")
    from_hub, hub_metadata = load_puzzle_dataset("tester/arc-tiny")
    assert test_metadata == hub_metadata["test"] and test_split.num_rows == from_hub["test"].num_rows
    from_disk, disk_metadata = load_puzzle_dataset(tmp_path / "arc")
    assert hub_metadata == disk_metadata and hub_metadata["train"].identifier_names[0] == "<blank>"
    for split in ("train", "test"):
        assert from_hub[split].features == from_disk[split].features
        hub_rows, disk_rows = (d[split].with_format("numpy")[:] for d in (from_hub, from_disk))
        for column in disk_rows:
            np.testing.assert_array_equal(hub_rows[column], disk_rows[column])
    files = set(local_hub.hub.repos[("dataset", "tester/arc-tiny")].head.files)
    assert {"README.md", "puzzle_metadata.json", "identifiers.json", "data/train-00000-of-00001.parquet"} <= files
    parquet = local_hub.hub.repos[("dataset", "tester/arc-tiny")].head.files["data/train-00000-of-00001.parquet"]
    assert parquet.lfs  # parquet goes through the LFS upload path
    card = (
        Path(local_hub.hub.blobs) / local_hub.hub.repos[("dataset", "tester/arc-tiny")].head.files["README.md"].sha256
    ).read_text()
    assert "dataset_info:" in card and "configs:" in card and "fixture tasks" in card


def test_model_repo_upload_and_download(local_hub, tmp_path):
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "hrm"}))
    (folder / "model.safetensors").write_bytes(bytes(range(256)) * 100)
    api = HfApi()
    api.create_repo("tester/tiny-model")
    api.upload_folder(repo_id="tester/tiny-model", folder_path=folder)
    assert api.model_info("tester/tiny-model").sha == local_hub.hub.repos[("model", "tester/tiny-model")].head.sha
    config = hf_hub_download("tester/tiny-model", "config.json", cache_dir=tmp_path / "cache")
    assert json.loads(Path(config).read_text()) == {"model_type": "hrm"}
    snapshot = Path(snapshot_download("tester/tiny-model", cache_dir=tmp_path / "cache"))
    assert (snapshot / "model.safetensors").read_bytes() == (folder / "model.safetensors").read_bytes()
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

    with pytest.raises(EntryNotFoundError):
        hf_hub_download("tester/tiny-model", "missing.json", cache_dir=tmp_path / "cache")
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("tester/nothing")


@pytest.mark.slow
def test_cli_push_and_load_in_fresh_processes(local_hub, tmp_path):
    result = local_hub.run_python(
        "from hrm_hf.scripts.build_dataset import main; "
        f"main(['sudoku', '--generate', '6', '--size', '4', '--num-aug', '2', '--output-dir', r'{tmp_path / 'd'}', "
        "'--push-to-hub', 'tester/sudoku-cli'])"
    )
    assert result.returncode == 0, result.stderr
    result = local_hub.run_python(
        "from hrm_hf.data import load_puzzle_dataset; d, m = load_puzzle_dataset('tester/sudoku-cli'); "
        "print(d['train'].num_rows, m['train'].vocab_size, m['train'].build_command)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["18", "6"] and "--push-to-hub tester/sudoku-cli" in result.stdout
