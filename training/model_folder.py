"""The trained model's folder: the Hub-ready model folder of a training run, with its training config and the record
of the data it was trained on, and the commit message a push of it carries (the pushing itself is `hub.py`'s)."""

from __future__ import annotations

from pathlib import Path

from ..data.metadata import PuzzleDatasetMetadata
from ..evaluation.card import TRAIN_CONFIG_NAME
from ..evaluation.model_folder import write_model_folder, write_trained_on
from ..modeling_hrm import HrmActModel
from .config import TrainConfig


HEADLINE_METRIC = "exact_accuracy"  # named in each pushed model's commit message


def save_model_folder(
    model: HrmActModel,
    folder: Path,
    config: TrainConfig,
    metrics: dict[str, float],
    command: str,
    data: PuzzleDatasetMetadata | None = None,
) -> Path:
    """Write the model folder at `folder`, replacing any previous one only once the new one is complete.

    With `data`, the metadata of the training split, the folder records the puzzle type and dataset the model was
    trained on (`trained_on.json`), so that `hrm evaluate` and `hrm solve` refuse another type's puzzles.

    The card, rendered before the rename, names the Hub repo when the run pushes and the final folder otherwise; it is
    titled with the repo's name, else the run's (`run_name`, else the output folder's name: the model folder's own
    name, `model`, says nothing).
    """
    title = None if config.push_to_hub else config.run_name or Path(config.output_dir).resolve().name
    return write_model_folder(
        model, folder, extras=lambda tmp: save_training_records(tmp, config, data), metrics=metrics,
        dataset=config.data_path, eval_split="test", command=command, repo_id=config.push_to_hub, model_name=title,
    )  # fmt: skip


def save_training_records(folder: Path, config: TrainConfig, data: PuzzleDatasetMetadata | None) -> None:
    """The training config and, with `data`, the record of the data trained on, into the model folder."""
    config.save(folder / TRAIN_CONFIG_NAME)
    if data is not None and data.puzzle_type_name:
        write_trained_on(folder, data.puzzle_type_name, config.data_path, data.fingerprint)


def push_message(step: int, last_eval: tuple[int, dict[str, float]]) -> str:
    """The commit message of a pushed model: its step and the headline metric of the latest evaluation."""
    eval_step, metrics = last_eval
    if HEADLINE_METRIC not in metrics:
        return f"HRM-ACT-v1 at step {step} (not evaluated yet)"
    measured = "" if eval_step == step else f", measured at step {eval_step}"
    return f"HRM-ACT-v1 at step {step}: {HEADLINE_METRIC} {metrics[HEADLINE_METRIC]:.4f}{measured}"
