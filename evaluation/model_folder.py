"""The files of a Hub-ready model folder that every writer (training, `hrm convert`) saves the same way, and the
record of the data a trained model was trained on (`trained_on.json`), which `hrm evaluate`, `hrm solve` and the
web app check, with what a model can take: its puzzle type, a dataset's sizes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import PretrainedConfig, PreTrainedModel
from transformers.dynamic_module_utils import custom_object_save

from ..data.metadata import PuzzleDatasetMetadata
from ..folders import remove, write_file
from ..pipeline_hrm import HrmPuzzlePipeline, custom_pipelines
from ..tokenization_hrm import PUZZLE_TYPES, PuzzleType, infer_puzzle_type
from .card import write_model_card


# What a trained model was trained on: the puzzle type, the dataset as the run named it, and its content fingerprint.
# A converted release has none: its puzzle type is the one its sizes fit.
TRAINED_ON_FILE = "trained_on.json"
TRAINED_ON_FIELDS = ("puzzle_type", "dataset", "fingerprint")


def write_trained_on(folder: str | Path, puzzle_type: str, dataset: str, fingerprint: str) -> None:
    """Record in the model folder the puzzle type and dataset (name and fingerprint) the model was trained on."""
    record = dict(zip(TRAINED_ON_FIELDS, (puzzle_type, dataset, fingerprint), strict=True))
    write_file(folder, TRAINED_ON_FILE, json.dumps(record, indent=2))


def read_trained_on(folder: str | Path) -> dict[str, str] | None:
    """The model folder's record of what it was trained on, None when it has none; a `ValueError` naming the file and
    field when the record is not a mapping of strings."""
    path = Path(folder) / TRAINED_ON_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not JSON ({error}).") from None
    if not isinstance(record, dict):
        raise ValueError(f"{path}: must map {', '.join(TRAINED_ON_FIELDS)} to strings, got {record!r:.80}.")
    for name in TRAINED_ON_FIELDS:
        if not isinstance(record.get(name), str):
            raise ValueError(f"{path}: field `{name}` must be a string, got {record.get(name)!r:.80}.")
    return record


def trained_puzzle_type(model: PreTrainedModel, folder: str | Path) -> PuzzleType | None:
    """The puzzle type the model folder records it was trained on, else the one its sizes fit (a converted release
    records none); None when neither names one."""
    trained_on = read_trained_on(folder)
    if trained_on is not None:
        return PUZZLE_TYPES.get(trained_on["puzzle_type"])
    return infer_puzzle_type(model.config.seq_len, model.config.vocab_size)


def puzzle_type_refusal(given: PuzzleType, model_kind: PuzzleType | None, model_name: str, how: str) -> str | None:
    """Why a puzzle of type `given` (`how` says where the user gave it) cannot go to the model `model_name` of type
    `model_kind`, in one line; None when the types agree."""
    if given is model_kind:
        return None
    return f"{how}, but the model {model_name} is for {model_kind.name if model_kind else 'an unknown puzzle type'}."


def dataset_misfit(config: PretrainedConfig, metadata: PuzzleDatasetMetadata, dataset: str, model: str) -> str | None:
    """Why the rows of a puzzle dataset (`dataset` names it in the line) cannot run on the model `model`, naming the
    field: another sequence length, or token ids or puzzle identifiers beyond the model's tables; None when they
    can."""
    for name in ("seq_len", "vocab_size", "num_puzzle_identifiers"):
        model_value, data_value = getattr(config, name), getattr(metadata, name)
        fits = model_value == data_value if name == "seq_len" else model_value >= data_value
        if not fits:
            return f"{dataset} has {name}={data_value}, but {model} has {name}={model_value}."
    return None


def save_model_files(model: PreTrainedModel, folder: str | Path) -> Path:
    """`save_pretrained` (weights, config, the model's remote code) plus the puzzle pipeline: its code and the codec
    it imports are copied beside the model files and `config.json` registers it, so that
    `pipeline(model=folder_or_repo_id, trust_remote_code=True)` solves puzzles given as text."""
    folder = Path(folder)
    model.config.custom_pipelines = custom_pipelines()
    model.save_pretrained(folder)
    custom_object_save(HrmPuzzlePipeline, folder)
    return folder


def fill_model_folder(
    model: PreTrainedModel, folder: str | Path, extras: Callable[[Path], Any] | None = None, **card: Any
) -> Path:
    """Write the whole Hub-ready folder into `folder` as it is: `save_model_files`, `extras(folder)` (e.g. the
    training config) and the card (`write_model_card(**card)`, arguments given as None left out)."""
    folder = Path(folder)
    save_model_files(model, folder)
    if extras is not None:
        extras(folder)
    write_model_card(folder, **{k: v for k, v in card.items() if v is not None})
    return folder


def write_model_folder(
    model: PreTrainedModel, folder: str | Path, extras: Callable[[Path], Any] | None = None, **card: Any
) -> Path:
    """`fill_model_folder` beside `folder`, renamed into place, so readers never see half of it and a failure leaves
    any previous folder as it was; the card's `repo_id` defaults to the final folder's name, never the temporary
    one. A link left where the temporary or the old folder goes is unlinked, never written through."""
    folder = Path(folder)
    tmp, old = folder.with_name(f".tmp-{folder.name}"), folder.with_name(f".old-{folder.name}")
    remove(tmp)
    try:
        given = {k: v for k, v in card.items() if v is not None}
        fill_model_folder(model, tmp, extras, **{"repo_id": folder.name} | given)
    except BaseException:
        remove(tmp)
        raise
    remove(old)
    if folder.exists() or folder.is_symlink():
        folder.rename(old)
    tmp.rename(folder)
    remove(old)
    return folder
