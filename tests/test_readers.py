"""Typed readers at every boundary: each file the project reads back (a model folder's config and weights, dataset
metadata, a checkpoint's trainer state, card inputs) is checked before use, and a bad field, tensor or reference is
one `ValueError` (or `OSError`) naming the file and what is wrong in it, never a traceback or a random model."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from hrm_hf.data.storage import METADATA_FILE, load_puzzle_dataset
from hrm_hf.evaluation.card import CARD_INPUTS_NAME, read_previous, write_model_card
from hrm_hf.evaluation.loading import load_model
from hrm_hf.modeling_hrm import HrmActModel
from hrm_hf.scripts import cli
from hrm_hf.training.checkpoint import COMPLETE_MARKER, TRAINER_STATE, read_trainer_state
from tests.helpers import build_tiny_data, tiny_model_folder


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory) -> Path:
    return tiny_model_folder(tmp_path_factory.mktemp("model") / "model")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return build_tiny_data(tmp_path_factory.mktemp("data") / "data")


def model_copy(model_folder: Path, tmp_path: Path, change=None) -> Path:
    """A copy of the tiny model folder whose weights `change` rewrote (a dict of tensors to a dict of tensors)."""
    folder = tmp_path / "model"
    shutil.copytree(model_folder, folder)
    if change is not None:
        weights = folder / "model.safetensors"
        save_file(change(load_file(weights)), weights, metadata={"format": "pt"})
    return folder


def without(name):
    return lambda tensors: {key: value for key, value in tensors.items() if key != name}


# --- model folders: strict loading ------------------------------------------------------------------------------------


def test_valid_folder_loads_every_tensor(model_folder):
    model = load_model(model_folder)
    saved = load_file(model_folder / "model.safetensors")
    assert type(model) is HrmActModel
    assert all(torch.equal(model.state_dict()[name], tensor) for name, tensor in saved.items())


@pytest.mark.parametrize(
    "change, words",
    [
        (without("lm_head.weight"), "1 missing (lm_head.weight)"),
        (without("puzzle_emb.weight"), "1 missing (puzzle_emb.weight)"),
        (lambda t: {**t, "extra.weight": torch.zeros(3)}, "1 not in the model (extra.weight)"),
        (lambda t: {**t, "q_head.weight": torch.zeros(2, 16)}, "q_head.weight [2, 16] where the config needs [2, 32]"),
    ],
    ids=["missing weight", "missing puzzle table", "extra tensor", "mis-shaped tensor"],
)
def test_weights_not_exactly_the_models_are_refused(model_folder, tmp_path, change, words):
    folder = model_copy(model_folder, tmp_path, change)
    with pytest.raises(ValueError, match="its weights do not match its config.json") as refused:
        load_model(folder)
    assert str(folder) in str(refused.value) and words in str(refused.value)
    assert "\n" not in str(refused.value)


def test_many_missing_tensors_are_counted_not_listed(model_folder, tmp_path):
    folder = model_copy(model_folder, tmp_path, lambda tensors: {"lm_head.weight": tensors["lm_head.weight"]})
    with pytest.raises(ValueError, match=r"missing \([^)]*and \d+ more\)"):
        load_model(folder)


def test_folder_without_config_or_weights_names_the_file(model_folder, tmp_path):
    folder = model_copy(model_folder, tmp_path)
    (folder / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="no model.safetensors"):
        load_model(folder)
    (folder / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"not a model folder \(no config.json\)"):
        load_model(folder)


@pytest.mark.parametrize(
    "text, words",
    [
        ("[1]", "config.json: holds list [1], not an object of fields"),
        ('{"model_type": ["trm"]}', "config.json: field `model_type` must be str"),
        ("{oops", "config.json is not JSON"),
    ],
)
def test_config_json_not_an_object_names_the_folder(model_folder, tmp_path, text, words):
    folder = model_copy(model_folder, tmp_path)
    (folder / "config.json").write_text(text)
    with pytest.raises(ValueError, match=f"^--model {folder}: ") as refused:
        load_model(folder)
    assert words in str(refused.value)


def test_config_json_of_the_wrong_size_names_the_folder_and_field(model_folder, tmp_path):
    folder = model_copy(model_folder, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "hidden_size": 2**40}))
    with pytest.raises(ValueError, match=f"^--model {folder}: config.json: HrmActConfig: .* GiB of memory"):
        load_model(folder)


def test_checkpoint_given_as_model_points_to_the_run_model_folder(model_folder, tmp_path):
    checkpoint = tmp_path / "run" / "checkpoints" / "step-3"
    checkpoint.mkdir(parents=True)
    (checkpoint / COMPLETE_MARKER).write_text("step 3\n")
    with pytest.raises(ValueError, match="is a training checkpoint, not a model folder; its run has written no model"):
        load_model(checkpoint)
    shutil.copytree(model_folder, tmp_path / "run" / "model")
    with pytest.raises(ValueError, match=f"use its run's model folder, --model {tmp_path / 'run' / 'model'}"):
        load_model(checkpoint)


def test_hrm_solve_refuses_a_model_with_a_missing_tensor_in_one_line(model_folder, tmp_path, capsys):
    folder = model_copy(model_folder, tmp_path, without("q_head.bias"))
    with pytest.raises(SystemExit) as stop:
        cli.main(["solve", f"--model={folder}", "--sudoku=1..............."])
    err = capsys.readouterr().err.strip()
    assert stop.value.code != 0 and len(err.splitlines()) == 1
    assert "q_head.bias" in err and str(folder) in err


# --- dataset metadata -------------------------------------------------------------------------------------------------


def metadata_copy(dataset: Path, tmp_path: Path, change) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(dataset, folder)
    content = json.loads((folder / METADATA_FILE).read_text())
    (folder / METADATA_FILE).write_text(json.dumps(change(content)))
    return folder


def in_split(field, value):
    def change(content):
        content["splits"]["train"][field] = value
        return content

    return change


@pytest.mark.parametrize(
    "change, words",
    [
        (in_split("vocab_size", "six"), "split 'train': field `vocab_size` must be int, got 'six'"),
        (in_split("seq_len", 16.0), "field `seq_len` must be int"),
        (in_split("num_puzzle_identifiers", True), "field `num_puzzle_identifiers` must be int, got True"),
        (in_split("seq_len", 0), "field `seq_len` must be positive"),
        (in_split("blank_identifier_id", 7), "field `blank_identifier_id` must be in [0, num_puzzle_identifiers=1)"),
        (in_split("pad_id", -1), "field `pad_id`"),
        (in_split("sets", "all"), "field `sets` must be list"),
        (in_split("mean_puzzle_examples", None), "field `mean_puzzle_examples` must be number"),
        (lambda c: {**c, "splits": {"train": c["splits"]["train"] | {"vocab_size": None}}}, "field `vocab_size`"),
        (lambda c: {**c, "splits": []}, "field `splits` must be dict"),
        (lambda c: {**c, "splits": {}}, "field `splits` names no split"),
        (lambda c: {**c, "splits": {"train": [1]}}, "split 'train': holds list"),
        (lambda c: {"splits": c["splits"]}, "field `identifiers_file` is missing"),
        (lambda c: {**c, "identifiers_file": 3}, "field `identifiers_file` must be str or null"),
        (lambda c: [c], "holds list"),
    ],
)
def test_metadata_of_the_wrong_type_or_range_names_the_file_and_field(dataset, tmp_path, change, words):
    folder = metadata_copy(dataset, tmp_path, change)
    with pytest.raises(ValueError) as refused:
        load_puzzle_dataset(folder)
    assert str(folder / METADATA_FILE) in str(refused.value) and words in str(refused.value)


def test_identifier_names_must_match_the_table(dataset, tmp_path):
    folder = metadata_copy(dataset, tmp_path, lambda c: {**c, "identifiers_file": "names.json"})
    (folder / "names.json").write_text(json.dumps(["<blank>", "extra"]))
    with pytest.raises(ValueError, match=r"identifier names must be 1 strings \(num_puzzle_identifiers\), got 2"):
        load_puzzle_dataset(folder)
    (folder / "names.json").write_text(json.dumps({"a": 1}))
    with pytest.raises(ValueError, match="names.json: holds dict, not a list of identifier names"):
        load_puzzle_dataset(folder)


# --- checkpoint state ---------------------------------------------------------------------------------------------------

GOOD_STATE = {
    "step": 3, "nonfinite_in_a_row": 0, "nonfinite_total": 0, "num_processes": 1,
    "best": {"value": None, "step": 0, "evaluations_since": 0}, "stop_reason": "", "evaluated_step": -1,
}  # fmt: skip


@pytest.mark.parametrize(
    "change, words",
    [
        ({"step": "3"}, "field `step` must be int, got '3'"),
        ({"step": -1}, "field `step` must be >= 0"),
        ({"num_processes": 0}, "field `num_processes` must be >= 1"),
        ({"best": []}, "field `best` must be dict"),
        ({"best": {"value": "high", "step": 0, "evaluations_since": 0}}, "field `best`: field `value`"),
        ({"stop_reason": None}, "field `stop_reason` must be str"),
    ],
)
def test_trainer_state_of_the_wrong_type_names_the_field(tmp_path, change, words):
    path = tmp_path / TRAINER_STATE
    path.write_text(json.dumps({**GOOD_STATE, **change}))
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace("[", r"\[")):
        read_trainer_state(path)


def test_trainer_state_missing_a_field_names_it(tmp_path):
    path = tmp_path / TRAINER_STATE
    path.write_text(json.dumps({k: v for k, v in GOOD_STATE.items() if k != "evaluated_step"}))
    with pytest.raises(ValueError, match="field `evaluated_step` is missing"):
        read_trainer_state(path)
    path.write_text(json.dumps(GOOD_STATE))
    assert read_trainer_state(path) == GOOD_STATE


# --- card inputs ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "inputs, words",
    [
        ({"metrics": [0.5]}, "field `metrics` must be dict or null"),
        ({"metrics": {"exact_accuracy": "high"}}, "field `metrics`: field `exact_accuracy` must be number"),
        ({"examples": "a.png"}, "field `examples` must be list or null"),
        ({"examples": [3]}, "field `examples` must be a list of picture paths"),
        ({"scaling": [{"metrics": {}}]}, "point 0: field `protocol` is missing"),
        ({"scaling": [{"protocol": {"halting": "fixed"}}]}, "point 0's protocol: field `max_segments` is missing"),
        ({"repo_id": 3}, "field `repo_id` must be str or null"),
        ([1, 2], "holds list"),
    ],
)
def test_card_inputs_of_the_wrong_type_name_the_field(model_folder, tmp_path, inputs, words):
    folder = model_copy(model_folder, tmp_path)
    (folder / CARD_INPUTS_NAME).write_text(json.dumps(inputs))
    with pytest.raises(ValueError) as refused:
        read_previous(folder)
    assert str(folder / CARD_INPUTS_NAME) in str(refused.value) and words in str(refused.value)
    with pytest.raises(ValueError, match="card_inputs.json"):
        write_model_card(folder, command="again")


def test_card_refuses_a_config_without_its_sizes(model_folder, tmp_path):
    folder = model_copy(model_folder, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "seq_len": "16"}))
    with pytest.raises(ValueError, match="config.json: field `seq_len` must be int"):
        write_model_card(folder)
