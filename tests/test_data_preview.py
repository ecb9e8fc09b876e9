"""The readable `preview` config of a pushed puzzle dataset: un-augmented puzzles as text and pictures."""

import numpy as np
from datasets import load_dataset
from huggingface_hub import DatasetCard, hf_hub_download
from PIL import Image

from hrm_hf.data import arc, load_puzzle_dataset, push_puzzle_dataset
from hrm_hf.data.render import decode_grid
from hrm_hf.data.storage import PREVIEW_CONFIG, original_rows, preview_dataset
from hrm_hf.scripts.build_dataset import main as build_dataset
from hrm_hf.tokenization_hrm import ARC, SUDOKU, grid_text
from tests.helpers import build_arc_fixture


def test_original_rows_are_each_groups_first_puzzle(tmp_path):
    build_arc_fixture(tmp_path / "arc")
    test, metadata = load_puzzle_dataset(tmp_path / "arc", split="test")
    rows = original_rows(test)
    columns = test.with_format("numpy")[:]
    names = [metadata.identifier_names[i] for i in columns["puzzle_identifiers"][rows]]
    # Every source task of the test split, each with all its test examples, and no augmented copy.
    assert sorted(set(columns["group_index"][rows])) == sorted(set(columns["group_index"]))
    assert all(arc.parse_identifier(name)[0] == name for name in names)
    assert len(rows) < test.num_rows


def test_preview_rows_are_readable(tmp_path):
    build_dataset(["sudoku", "--generate", "3", "--test-generate", "2", "--size", "4", "--num-aug", "2",
                   "--output-dir", str(tmp_path / "s")])  # fmt: skip
    train, metadata = load_puzzle_dataset(tmp_path / "s", split="train")
    preview = preview_dataset(train, metadata, rows=2)
    assert preview["row"] == [0, 3]  # a group is the puzzle and its 2 augmentations: the puzzles are rows 0 and 3
    expected = decode_grid(SUDOKU, np.asarray(train[3]["input_ids"]))
    assert preview[1]["puzzle_text"] == grid_text(expected) and len(preview[1]["puzzle_text"].split("\n")) == 4
    assert preview[1]["puzzle"] == "puzzle 3" and preview[1]["group_index"] == 1
    assert isinstance(preview[1]["picture"], Image.Image)


def test_pushed_dataset_has_a_preview_config_and_still_loads_its_tokens(local_hub, tmp_path):
    build_arc_fixture(tmp_path / "arc")
    push_puzzle_dataset(tmp_path / "arc", "tester/arc-preview")
    preview = load_dataset("tester/arc-preview", PREVIEW_CONFIG, split="test")
    test, metadata = load_puzzle_dataset(tmp_path / "arc", split="test")
    assert preview["row"] == original_rows(test).tolist()
    first = preview[0]
    assert first["puzzle"] in metadata.identifier_names and set(first["puzzle_text"]) <= set("0123456789\n")
    assert first["solution_text"] == grid_text(decode_grid(ARC, np.asarray(test[first["row"]]["labels"]).clip(0)))
    assert isinstance(first["picture"], Image.Image) and first["picture"].size[0] > 0
    tokens = load_dataset("tester/arc-preview", split="test")  # the default config: the model's columns
    assert tokens.column_names == test.column_names and tokens.num_rows == test.num_rows
    from_hub, _ = load_puzzle_dataset("tester/arc-preview", split="test")
    assert from_hub.num_rows == test.num_rows
    files = local_hub.hub.repos[("dataset", "tester/arc-preview")].head.files
    assert any(name.startswith(f"{PREVIEW_CONFIG}/test-") for name in files)
    configs = DatasetCard.load(hf_hub_download("tester/arc-preview", "README.md", repo_type="dataset")).data.configs
    assert sorted(config["config_name"] for config in configs) == ["default", PREVIEW_CONFIG]
