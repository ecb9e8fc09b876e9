"""The trained model's folder: the Hub-ready model folder of a training run, with its training config, and the
commit message a push of it carries (the pushing itself is `hub.py`'s)."""

from __future__ import annotations

from pathlib import Path

from ..evaluation.card import TRAIN_CONFIG_NAME
from ..evaluation.model_folder import write_model_folder
from ..modeling_hrm import HrmActModel
from .config import TrainConfig


HEADLINE_METRIC = "exact_accuracy"  # named in each pushed model's commit message


def save_model_folder(
    model: HrmActModel, folder: Path, config: TrainConfig, metrics: dict[str, float], command: str
) -> Path:
    """Write the model folder at `folder`, replacing any previous one only once the new one is complete.

    The card, rendered before the rename, names the Hub repo when the run pushes and the final folder otherwise; it is
    titled with the repo's name, else the run's (`run_name`, else the output folder's name: the model folder's own
    name, `model`, says nothing).
    """
    title = None if config.push_to_hub else config.run_name or Path(config.output_dir).resolve().name
    return write_model_folder(
        model, folder, extras=lambda tmp: config.save(tmp / TRAIN_CONFIG_NAME), metrics=metrics,
        dataset=config.data_path, eval_split="test", command=command, repo_id=config.push_to_hub, model_name=title,
    )  # fmt: skip


def push_message(step: int, last_eval: tuple[int, dict[str, float]]) -> str:
    """The commit message of a pushed model: its step and the headline metric of the latest evaluation."""
    eval_step, metrics = last_eval
    if HEADLINE_METRIC not in metrics:
        return f"HRM-ACT-v1 at step {step} (not evaluated yet)"
    measured = "" if eval_step == step else f", measured at step {eval_step}"
    return f"HRM-ACT-v1 at step {step}: {HEADLINE_METRIC} {metrics[HEADLINE_METRIC]:.4f}{measured}"
