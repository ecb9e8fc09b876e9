"""The files of a Hub-ready model folder that every writer (training, `hrm convert`) saves the same way."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import PreTrainedModel
from transformers.dynamic_module_utils import custom_object_save

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


def write_model_folder(
    model: PreTrainedModel, folder: str | Path, extras: Callable[[Path], Any] | None = None, **card: Any
) -> Path:
    """The whole Hub-ready folder at `folder`: `save_model_files`, `extras(tmp_folder)` (e.g. the training config)
    and the card (`write_model_card(**card)`; its `repo_id` defaults to the final folder's name, never the
    temporary one). Written beside `folder` and renamed into place, so readers never see half of it and a failure
    leaves any previous folder as it was."""
    folder = Path(folder)
    tmp, old = folder.with_name(f".tmp-{folder.name}"), folder.with_name(f".old-{folder.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        save_model_files(model, tmp)
        if extras is not None:
            extras(tmp)
        write_model_card(tmp, **{"repo_id": folder.name} | {k: v for k, v in card.items() if v is not None})
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    return folder
