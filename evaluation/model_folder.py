"""The files of a Hub-ready model folder that every writer (training, `hrm convert`) saves the same way."""

from __future__ import annotations

from pathlib import Path

from transformers import PreTrainedModel
from transformers.dynamic_module_utils import custom_object_save

from ..pipeline_hrm import HrmPuzzlePipeline, custom_pipelines


def save_model_files(model: PreTrainedModel, folder: str | Path) -> Path:
    """`save_pretrained` (weights, config, the model's remote code) plus the puzzle pipeline: its code and the codec
    it imports are copied beside the model files and `config.json` registers it, so that
    `pipeline(model=folder_or_repo_id, trust_remote_code=True)` solves puzzles given as text."""
    folder = Path(folder)
    model.config.custom_pipelines = custom_pipelines()
    model.save_pretrained(folder)
    custom_object_save(HrmPuzzlePipeline, folder)
    return folder
