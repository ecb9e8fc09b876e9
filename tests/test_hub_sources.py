"""`hrm build-dataset --source`: the authors' CSV files read from a Hub dataset repo (laid out as theirs, `train.csv`
and `test.csv`, on the local Hub) give the same rows as the same files given locally, and the card names the repo."""

import pytest
from huggingface_hub import DatasetCard, HfApi

from hrm_hf.data import load_puzzle_dataset
from hrm_hf.data.maze_generator import generate_mazes
from hrm_hf.data.puzzle_csv import write_puzzle_csv
from hrm_hf.data.sudoku_generator import generate_puzzles
from hrm_hf.scripts.build_dataset import main


def publish_csvs(tmp_path, repo_id: str, rows: list) -> tuple[str, object]:
    """Write `train.csv` (all rows but the last 3) and `test.csv` into a folder and into a new Hub dataset repo;
    returns the folder and the commit sha."""
    folder = tmp_path / repo_id.split("/")[1]
    write_puzzle_csv(folder / "train.csv", rows[:-3])
    write_puzzle_csv(folder / "test.csv", rows[-3:])
    api = HfApi()
    api.create_repo(repo_id, repo_type="dataset")
    return folder, api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="dataset").oid


def rows_of(folder):
    dataset, _ = load_puzzle_dataset(folder)
    return {split: dataset[split].to_dict() for split in dataset}


def test_sudoku_from_a_hub_dataset_repo_equals_local_csvs_and_pushes_to_a_private_branch(local_hub, tmp_path, caplog):
    rows = generate_puzzles(11, seed=0, size=4, clues=(8, 10), progress=False)
    folder, commit = publish_csvs(tmp_path, "sapientinc/sudoku-extreme", rows)
    options = ["--size", "4", "--num-aug", "2", "--subsample-size", "6"]
    main(["sudoku", "--csv", str(folder / "train.csv"), "--test-csv", str(folder / "test.csv"), *options,
          "--output-dir", str(tmp_path / "local")])  # fmt: skip
    main(["sudoku", "--source", "sapientinc/sudoku-extreme", *options, "--output-dir", str(tmp_path / "hub"),
          "--push-to-hub", "tester/sudoku", "--private", "--revision", "v1"])  # fmt: skip
    assert f"Hub dataset repo sapientinc/sudoku-extreme at revision main ({commit})" in caplog.text
    assert rows_of(tmp_path / "hub") == rows_of(tmp_path / "local")

    card = DatasetCard.load(tmp_path / "hub" / "README.md")
    assert card.data.source_datasets == ["sapientinc/sudoku-extreme"]
    assert f"`train.csv` of the Hub dataset `sapientinc/sudoku-extreme` at commit {commit}" in card.text
    assert DatasetCard.load(tmp_path / "local" / "README.md").data.source_datasets is None

    pushed = local_hub.hub.repos[("dataset", "tester/sudoku")]
    assert pushed.private and "puzzle_metadata.json" in pushed.at("v1").files and not pushed.head.files
    loaded, _ = load_puzzle_dataset("tester/sudoku", revision="v1")
    assert {split: loaded[split].to_dict() for split in loaded} == rows_of(tmp_path / "hub")


def test_maze_from_a_pinned_revision(local_hub, tmp_path):
    rows = generate_mazes(8, seed=0, side=8, min_path_length=4, progress=False)
    folder, commit = publish_csvs(tmp_path, "sapientinc/maze-30x30-hard-1k", rows)
    HfApi().delete_file("test.csv", "sapientinc/maze-30x30-hard-1k", repo_type="dataset")  # main moves on
    with pytest.raises(SystemExit, match=r"^error: --source sapientinc/maze-30x30-hard-1k holds no test\.csv\.$"):
        main(["maze", "--source", "sapientinc/maze-30x30-hard-1k", "--size", "8", "--output-dir", str(tmp_path / "x")])
    assert not (tmp_path / "x").exists()
    main(["maze", "--source", "sapientinc/maze-30x30-hard-1k", "--source-revision", commit, "--size", "8",
          "--output-dir", str(tmp_path / "hub")])  # fmt: skip
    main(["maze", "--csv", str(folder / "train.csv"), "--test-csv", str(folder / "test.csv"), "--size", "8",
          "--output-dir", str(tmp_path / "local")])  # fmt: skip
    assert rows_of(tmp_path / "hub") == rows_of(tmp_path / "local")
    card = DatasetCard.load(tmp_path / "hub" / "README.md")
    assert card.data.source_datasets == ["sapientinc/maze-30x30-hard-1k"] and commit in card.text


def test_a_local_folder_is_a_source_too_and_bad_sources_are_one_line_errors(local_hub, tmp_path, capsys):
    rows = generate_puzzles(6, seed=1, size=4, clues=(8, 10), progress=False)
    folder = tmp_path / "csvs"
    write_puzzle_csv(folder / "train.csv", rows[:3])
    write_puzzle_csv(folder / "test.csv", rows[3:])
    main(["sudoku", "--source", str(folder), "--size", "4", "--output-dir", str(tmp_path / "d")])
    assert DatasetCard.load(tmp_path / "d" / "README.md").data.source_datasets is None
    assert not local_hub.hub.requests  # an existing folder is never looked up on the Hub
    with pytest.raises(SystemExit, match=r"^error: --source: no such file or folder '\./csv'\.$"):
        main(["sudoku", "--source", "./csv", "--output-dir", str(tmp_path / "e")])
    with pytest.raises(SystemExit, match=r"^error: --source: no such file or folder .me/nothing., .*\(HTTP 404\)\.$"):
        main(["sudoku", "--source", "me/nothing", "--output-dir", str(tmp_path / "e")])
    with pytest.raises(SystemExit):
        main(["sudoku", "--generate", "3", "--source-revision", "v1", "--output-dir", str(tmp_path / "e")])
    assert "--source-revision needs --source" in capsys.readouterr().err
