"""The DatasetDict: schema, metadata, identical bytes for identical seeds, save/load, release import, the card."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import List, Value

from hrm_hf.data import PuzzleDatasetMetadata, arc, load_puzzle_dataset
from hrm_hf.data.builder import build_puzzle_dataset
from hrm_hf.data.card import dataset_card
from hrm_hf.data.maze import build_maze_dataset
from hrm_hf.data.maze_generator import generate_mazes
from hrm_hf.data.metadata import Provenance
from hrm_hf.data.release import build_from_release
from hrm_hf.data.storage import write_metadata_files
from hrm_hf.data.sudoku import build_sudoku_dataset
from hrm_hf.data.sudoku_generator import generate_puzzles
from tests.helpers import ARC_FIXTURES, release_json


@pytest.fixture(scope="module")
def sudoku_rows():
    return generate_puzzles(14, seed=0, size=4, progress=False)


def _arc(output_dir=None, seed=0, num_aug=4, workers=1):
    tasks = arc.load_tasks(ARC_FIXTURES, ["training", "evaluation", "concept"])
    return arc.build_arc_dataset(
        tasks,
        "evaluation",
        num_aug=num_aug,
        seed=seed,
        workers=workers,
        output_dir=output_dir,
        provenance=Provenance(build_command="cmd"),
    )


def _rows(dataset) -> dict:
    return {name: split.with_format("numpy")[:] for name, split in dataset.items()}


def _assert_same_rows(a, b):
    ra, rb = _rows(a), _rows(b)
    assert ra.keys() == rb.keys()
    for split in ra:
        for column in ra[split]:
            np.testing.assert_array_equal(ra[split][column], rb[split][column])


def test_sudoku_dataset_schema_and_metadata(sudoku_rows):
    dataset, metadata = build_sudoku_dataset(sudoku_rows[:10], sudoku_rows[10:], num_aug=3, size=4)
    assert dataset["train"].features["input_ids"] == List(Value("int8"), length=16)
    assert dataset["train"].features["puzzle_identifiers"] == Value("int32")
    assert (dataset["train"].num_rows, dataset["test"].num_rows) == (40, 4)
    train = metadata["train"]
    assert (train.vocab_size, train.seq_len, train.num_puzzle_identifiers, train.total_groups) == (6, 16, 1, 10)
    assert train.mean_puzzle_examples == 1.0 and metadata["test"].total_groups == 4
    rows = dataset["train"].with_format("numpy")[:]
    assert (rows["group_index"] == np.repeat(np.arange(10), 4)).all() and (rows["puzzle_index"] == np.arange(40)).all()
    assert rows["input_ids"].min() >= 1 and rows["labels"].min() >= 2  # labels are the solution: no blanks


def test_arc_dataset_groups_identifiers_and_counts():
    dataset, metadata = _arc()
    train, test = metadata["train"], metadata["test"]
    names = train.identifier_names
    assert names[0] == "<blank>" and train.num_puzzle_identifiers == len(names) == 1 + 5 * 5
    assert (train.total_groups, test.total_groups) == (5, 2)
    # eval tasks: 2 + 3 demonstrations; training tasks and concept: all pairs; 5 puzzles per group
    tasks = arc.load_tasks(ARC_FIXTURES, ["training", "evaluation", "concept"])
    examples = sum(len(t.train) + (0 if t.subset == "evaluation" else len(t.test)) for t in tasks)
    assert dataset["train"].num_rows == 5 * examples and train.mean_puzzle_examples == examples / 5
    assert dataset["test"].num_rows == 5 * (1 + 2)
    test_rows = dataset["test"].with_format("numpy")[:]
    assert {names[i].split("_")[0] for i in test_rows["puzzle_identifiers"]} == {"66e6c45b", "6ea4a07e"}
    train_ids = set(dataset["train"].with_format("numpy")[:]["puzzle_identifiers"].tolist())
    assert set(test_rows["puzzle_identifiers"].tolist()) <= train_ids  # test puzzles share the training identifiers


@pytest.mark.parametrize("build", ["sudoku", "maze", "arc"])
def test_identical_seeds_give_identical_bytes(tmp_path, sudoku_rows, build):
    mazes = generate_mazes(3, seed=0, min_path_length=30, progress=False) if build == "maze" else None

    def make(folder, seed):
        if build == "sudoku":
            build_sudoku_dataset(sudoku_rows[:10], sudoku_rows[10:], num_aug=5, seed=seed, size=4, output_dir=folder)
        elif build == "maze":
            build_maze_dataset(
                mazes[:2], mazes[2:], dihedral_aug=True, output_dir=folder, provenance=Provenance(f"seed {seed}")
            )
        else:
            _arc(folder, seed)

    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        make(tmp_path / name, seed)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert {"train/data-00000-of-00001.arrow", "test/state.json", "puzzle_metadata.json", "README.md"} <= {
        str(f) for f in files
    }
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    if build != "maze":  # maze augmentation is not random
        arrow = Path("train/data-00000-of-00001.arrow")
        assert (tmp_path / "a" / arrow).read_bytes() != (tmp_path / "c" / arrow).read_bytes()


def test_streamed_and_in_memory_builds_agree_and_round_trip(tmp_path):
    in_memory, metadata = _arc()
    streamed, streamed_metadata = _arc(tmp_path / "streamed", workers=2)  # the worker count changes nothing
    _assert_same_rows(in_memory, streamed)
    in_memory.save_to_disk(str(tmp_path / "saved"))
    write_metadata_files(
        tmp_path / "saved", metadata, dataset_card(metadata, {"train": 1, "test": 1}, Provenance("src"))
    )
    for folder in ("streamed", "saved"):
        loaded, loaded_metadata = load_puzzle_dataset(tmp_path / folder)
        _assert_same_rows(in_memory, loaded)
        assert loaded_metadata == metadata == streamed_metadata
    split, split_metadata = load_puzzle_dataset(str(tmp_path / "saved"), split="test")
    assert split.num_rows == in_memory["test"].num_rows and split_metadata == metadata["test"]


def test_metadata_dict_round_trip_and_release_keys():
    metadata = PuzzleDatasetMetadata(
        vocab_size=12,
        seq_len=900,
        num_puzzle_identifiers=3,
        total_groups=2,
        mean_puzzle_examples=1.5,
        identifier_names=["<blank>", "a", "b"],
        task="arc",
    )
    assert PuzzleDatasetMetadata.from_dict(metadata.to_dict()) == metadata
    assert list(metadata.to_dict())[:9] == [  # the release's `dataset.json` keys first, in its order
        "pad_id",
        "ignore_label_id",
        "blank_identifier_id",
        "vocab_size",
        "seq_len",
        "num_puzzle_identifiers",
        "total_groups",
        "mean_puzzle_examples",
        "sets",
    ]
    with pytest.raises(ValueError, match="Unknown puzzle metadata fields: \\['colour'\\]"):
        PuzzleDatasetMetadata.from_dict({**metadata.to_dict(), "colour": 1})


def _write_release(folder: Path, dataset, metadata) -> None:
    """The authors' layout, written from one of our datasets: ignored labels stored as PAD 0."""
    names = next(iter(metadata.values())).identifier_names
    (folder / "identifiers.json").parent.mkdir(parents=True)
    (folder / "identifiers.json").write_text(json.dumps(names or ["<blank>"]))
    for split, rows in _rows(dataset).items():
        (folder / split).mkdir()
        (folder / split / "dataset.json").write_text(
            json.dumps(release_json(metadata[split]) | {"ignore_label_id": 0})
        )
        puzzle_starts = np.flatnonzero(np.diff(rows["puzzle_index"], prepend=-1))
        group_starts = np.flatnonzero(np.diff(rows["group_index"][puzzle_starts], prepend=-1))
        arrays = {
            "inputs": rows["input_ids"].astype(np.uint8),
            "labels": np.where(rows["labels"] == -100, 0, rows["labels"]).astype(np.uint8),
            "puzzle_identifiers": rows["puzzle_identifiers"][puzzle_starts].astype(np.int32),
            "puzzle_indices": np.append(puzzle_starts, len(rows["puzzle_index"])).astype(np.int32),
            "group_indices": np.append(group_starts, len(puzzle_starts)).astype(np.int32),
        }
        for name, array in arrays.items():
            np.save(folder / split / f"all__{name}.npy", array)


def test_release_folder_import(tmp_path):
    """The release's ignored labels (PAD 0) are stored as -100, like ours; everything else is the same."""
    dataset, metadata = _arc()
    assert (_rows(dataset)["test"]["labels"] == -100).any()
    _write_release(tmp_path / "release", dataset, metadata)
    imported, imported_metadata = build_from_release(tmp_path / "release", "arc", output_dir=tmp_path / "out")
    _assert_same_rows(dataset, imported)
    for split in metadata:
        assert release_json(imported_metadata[split]) == release_json(metadata[split])
    assert imported_metadata["train"].identifier_names == metadata["train"].identifier_names


def test_card_states_task_source_command_and_license(tmp_path, sudoku_rows):
    build_sudoku_dataset(
        sudoku_rows[:10],
        sudoku_rows[10:],
        size=4,
        output_dir=tmp_path / "d",
        provenance=Provenance("Made by hand.", "apache-2.0", "hrm build-dataset sudoku --generate 10"),
    )
    card = (tmp_path / "d" / "README.md").read_text()
    header = card.split("---")[1]
    assert "license: apache-2.0" in header and "- n<1K" in header and "- sudoku" in header
    assert "Made by hand." in card and "hrm build-dataset sudoku --generate 10" in card
    assert "| train | 10 | 10 | 1 |" in card


def test_empty_test_split(sudoku_rows):
    dataset, metadata = build_sudoku_dataset(sudoku_rows[:3], [], size=4)
    assert dataset["test"].num_rows == 0 and metadata["test"].total_groups == 0
    assert dataset["test"].features == dataset["train"].features


def test_vocab_too_large_for_int8_tokens_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="vocab_size 200 does not fit the int8 token columns"):
        build_puzzle_dataset([], task="sudoku", vocab_size=200, seq_len=4, output_dir=tmp_path / "d")
    assert not (tmp_path / "d").exists()


def test_output_folder_must_be_empty(tmp_path, sudoku_rows):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_text("")
    with pytest.raises(FileExistsError, match="not empty"):
        build_sudoku_dataset(sudoku_rows[:2], sudoku_rows[2:4], size=4, output_dir=tmp_path / "d")


def test_a_torch_formatted_batch_of_rows_is_model_input():
    """Columns are named like `forward`'s arguments and labels hold -100 where no loss is taken."""
    from hrm_hf.configuration_hrm import HrmActConfig
    from hrm_hf.modeling_hrm import HrmActModel

    dataset, metadata = _arc()
    config = HrmActConfig(
        seq_len=900, vocab_size=12, num_puzzle_identifiers=metadata["test"].num_puzzle_identifiers, hidden_size=16,
        num_heads=2, H_layers=1, L_layers=1, H_cycles=1, L_cycles=1, halt_max_steps=1, forward_dtype="float32",
    )  # fmt: skip
    model = HrmActModel(config).eval()
    columns = ["input_ids", "puzzle_identifiers", "labels"]
    batch = dataset["test"].with_format("torch", columns=columns)[:4]
    assert (batch["labels"] == -100).any() and (batch["labels"] == 0).sum() == 0
    assert (batch["puzzle_identifiers"] > 0).all()  # the rows' own puzzles, not the blank one
    out = model(**batch)
    assert torch.isfinite(out.loss) and out.logits.shape == (4, 900, 12)
