"""The `hrm build-dataset` command line, run in-process through `main`."""

import argparse
import json
import re
import shutil

import numpy as np
import pytest

from hrm_hf.data import load_puzzle_dataset
from hrm_hf.data.puzzle_csv import read_puzzle_csv, write_puzzle_csv
from hrm_hf.data.sudoku import validate_row
from hrm_hf.scripts.build_dataset import build_parser, main
from tests.helpers import ARC_FIXTURES, release_json, write_task_folders


def test_every_option_is_documented():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        assert "give exactly one" in sub.description, name
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings} has no help"
    assert set(subparsers.choices) == {"sudoku", "maze", "arc"}


def test_generated_sudoku_with_csv_copy(tmp_path):
    main(
        [
            "sudoku",
            "--generate",
            "8",
            "--test-generate",
            "3",
            "--size",
            "4",
            "--min-clues",
            "9",
            "--max-clues",
            "10",
            "--num-aug",
            "2",
            "--seed",
            "1",
            "--output-dir",
            str(tmp_path / "d"),
            "--save-csv",
            str(tmp_path / "csv"),
        ]
    )
    dataset, metadata = load_puzzle_dataset(tmp_path / "d")
    assert (dataset["train"].num_rows, dataset["test"].num_rows) == (24, 3)
    assert metadata["train"].build_command.startswith("hrm build-dataset sudoku --generate 8")
    rows = read_puzzle_csv(tmp_path / "csv" / "train.csv", lambda q, a: validate_row(q, a, 4))
    assert len(rows) == 8 and all(9 <= 16 - r.question.count(".") <= 10 for r in rows)
    # the CSV copy rebuilds the same training rows
    main(
        [
            "sudoku",
            "--csv",
            str(tmp_path / "csv" / "train.csv"),
            "--test-csv",
            str(tmp_path / "csv" / "test.csv"),
            "--size",
            "4",
            "--num-aug",
            "2",
            "--seed",
            "1",
            "--output-dir",
            str(tmp_path / "e"),
        ]
    )
    again, _ = load_puzzle_dataset(tmp_path / "e")
    np.testing.assert_array_equal(
        dataset["train"].with_format("numpy")[:]["input_ids"], again["train"].with_format("numpy")[:]["input_ids"]
    )


def test_csv_subsample_is_seeded(tmp_path):
    main(
        [
            "sudoku",
            "--generate",
            "12",
            "--test-generate",
            "2",
            "--output-dir",
            str(tmp_path / "g"),
            "--save-csv",
            str(tmp_path / "csv"),
        ]
    )
    picks = []
    for name, seed in (("a", 0), ("b", 0), ("c", 5)):
        main(
            [
                "sudoku",
                "--csv",
                str(tmp_path / "csv" / "train.csv"),
                "--test-csv",
                str(tmp_path / "csv" / "test.csv"),
                "--subsample-size",
                "5",
                "--seed",
                str(seed),
                "--output-dir",
                str(tmp_path / name),
            ]
        )
        dataset, metadata = load_puzzle_dataset(tmp_path / name, split="train")
        assert dataset.num_rows == 5 and metadata.total_groups == 5
        picks.append(dataset.with_format("numpy")[:]["input_ids"].tobytes())
    assert picks[0] == picks[1] != picks[2]


def test_maze_and_arc_builds(tmp_path):
    main(
        [
            "maze",
            "--generate",
            "3",
            "--test-generate",
            "1",
            "--min-path-length",
            "30",
            "--dihedral-aug",
            "--output-dir",
            str(tmp_path / "m"),
        ]
    )
    dataset, metadata = load_puzzle_dataset(tmp_path / "m", split="train")
    assert dataset.num_rows == 24 and (metadata.vocab_size, metadata.seq_len) == (6, 900)
    main(
        [
            "arc",
            "--kaggle-dir",
            str(ARC_FIXTURES),
            "--subsets",
            "training",
            "evaluation",
            "--num-aug",
            "2",
            "--workers",
            "2",
            "--output-dir",
            str(tmp_path / "a"),
        ]
    )
    dataset, metadata = load_puzzle_dataset(tmp_path / "a")
    assert metadata["test"].total_groups == 2 and metadata["train"].num_puzzle_identifiers == 1 + 4 * 3
    assert "license: apache-2.0" in (tmp_path / "a" / "README.md").read_text()
    # the same tasks as one JSON file per task build the same rows
    write_task_folders(tmp_path / "tasks", ["training", "evaluation"])
    folders = ["arc", "--tasks-dir", str(tmp_path / "tasks"), "--subsets", "training", "evaluation", "--num-aug", "2"]
    main([*folders, "--workers", "1", "--output-dir", str(tmp_path / "t")])
    from_folders, _ = load_puzzle_dataset(tmp_path / "t")
    for split in ("train", "test"):
        np.testing.assert_array_equal(
            from_folders[split].with_format("numpy")[:]["input_ids"],
            dataset[split].with_format("numpy")[:]["input_ids"],
        )


def test_malformed_input_exits_with_the_reason_and_leaves_nothing(tmp_path):
    main(
        [
            "sudoku",
            "--generate",
            "3",
            "--test-generate",
            "1",
            "--output-dir",
            str(tmp_path / "g"),
            "--save-csv",
            str(tmp_path / "csv"),
        ]
    )
    bad = tmp_path / "csv" / "train.csv"
    rows = read_puzzle_csv(bad, validate_row)
    write_puzzle_csv(bad, [rows[0], rows[1]._replace(question=rows[1].question + "."), rows[2]])
    args = [
        "sudoku",
        "--csv",
        str(bad),
        "--test-csv",
        str(tmp_path / "csv" / "test.csv"),
        "--output-dir",
        str(tmp_path / "o"),
    ]
    with pytest.raises(SystemExit, match=f"error: {bad}:3: field 'question' must have 81 characters, got 82"):
        main(args)
    assert not (tmp_path / "o").exists()
    with pytest.warns(UserWarning, match="Skipped 1 invalid rows"):
        main([*args, "--skip-invalid"])
    assert load_puzzle_dataset(tmp_path / "o", split="train")[0].num_rows == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["sudoku"], "give exactly one of --csv, --source, --generate, --from-release-dir"),
        (["sudoku", "--generate", "2", "--csv", "x.csv"], "give exactly one of"),
        (["maze", "--csv", "x.csv"], "--csv needs --test-csv"),
        (
            ["arc", "--kaggle-dir", str(ARC_FIXTURES), "--subsets", "training", "--test-set", "evaluation"],
            "--test-set evaluation is not among --subsets",
        ),
        (
            ["maze", "--csv", "missing.csv", "--test-csv", "x.csv"],
            "error: [Errno 2] No such file or directory: 'missing.csv'",
        ),
    ],
)
def test_bad_command_lines(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--output-dir", str(tmp_path / "o")])
    assert message in str(exit_info.value.code) + capsys.readouterr().err


def test_release_import_flag(tmp_path):
    main(["sudoku", "--generate", "4", "--test-generate", "2", "--size", "4", "--output-dir", str(tmp_path / "ours")])
    dataset, metadata = load_puzzle_dataset(tmp_path / "ours")
    release = tmp_path / "release"
    for split, rows in ((s, dataset[s].with_format("numpy")[:]) for s in ("train", "test")):
        (release / split).mkdir(parents=True)
        (release / split / "dataset.json").write_text(json.dumps(release_json(metadata[split])))
        n = len(rows["input_ids"])
        for name, array in {
            "inputs": rows["input_ids"],
            "labels": rows["labels"],
            "puzzle_identifiers": np.zeros(n, np.int32),
            "puzzle_indices": np.arange(n + 1, dtype=np.int32),
            "group_indices": np.arange(n + 1, dtype=np.int32),
        }.items():
            np.save(release / split / f"all__{name}.npy", array)
    main(["sudoku", "--from-release-dir", str(release), "--output-dir", str(tmp_path / "imported")])
    imported, imported_metadata = load_puzzle_dataset(tmp_path / "imported")
    np.testing.assert_array_equal(
        imported["test"].with_format("numpy")[:]["labels"], dataset["test"].with_format("numpy")[:]["labels"]
    )
    assert release_json(imported_metadata["train"]) == release_json(metadata["train"])
    shutil.rmtree(release / "test")
    with pytest.raises(SystemExit, match=re.escape(f"No such file or directory: '{release / 'test'}")):
        main(["sudoku", "--from-release-dir", str(release), "--output-dir", str(tmp_path / "again")])
    assert not (tmp_path / "again").exists()


def test_a_failed_build_keeps_the_users_empty_folder_and_csvs(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    bad = tmp_path / "bad.csv"
    bad.write_text("source,question,answer,rating\nx,123,456,0\n")
    with pytest.raises(SystemExit):
        main(["sudoku", "--csv", str(bad), "--test-csv", str(bad), "--output-dir", str(folder)])
    assert folder.is_dir() and not any(folder.iterdir())
    csvs = tmp_path / "csvs"
    csvs.mkdir()
    (csvs / "train.csv").write_text("mine")
    with pytest.raises(SystemExit, match="2"):
        main(
            ["sudoku", "--generate", "4", "--size", "4", "--save-csv", str(csvs), "--output-dir", str(tmp_path / "o")]
        )
    assert (csvs / "train.csv").read_text() == "mine"
