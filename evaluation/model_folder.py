"""The files of a Hub-ready model folder that every writer (training, `hrm convert`) saves the same way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import PreTrainedModel
from transformers.dynamic_module_utils import custom_object_save

from ..folders import remove
from ..pipeline_hrm import HrmPuzzlePipeline, custom_pipelines
from .card import write_model_card


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
