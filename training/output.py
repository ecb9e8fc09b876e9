"""The Hub-ready model folder and its upload.

The folder (`save_pretrained` weights and config, the remote-code model files, the filled-in model card and the
training config) is written beside its final place and renamed into it, so readers never see half of it. A push
only reads the folder: a failed upload leaves it as it was.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from huggingface_hub import HfApi

from ..evaluation.card import TRAIN_CONFIG_NAME, write_model_card
from ..evaluation.model_folder import save_model_files
from ..modeling_hrm import HrmActModel
from .config import TrainConfig


logger = logging.getLogger(__name__)


def save_model_folder(
    model: HrmActModel, folder: Path, config: TrainConfig, metrics: dict[str, float], command: str
) -> Path:
    """Write the model folder at `folder`, replacing any previous one only once the new one is complete.

    The card, rendered before the rename, names the Hub repo when the run pushes and the final folder otherwise.
    """
    tmp, old = folder.with_name(f".tmp-{folder.name}"), folder.with_name(f".old-{folder.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    save_model_files(model, tmp)
    config.save(tmp / TRAIN_CONFIG_NAME)
    write_model_card(
        tmp, metrics=metrics, dataset=config.data_path, eval_split="test", command=command,
        repo_id=config.push_to_hub or folder.name,
    )  # fmt: skip
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    return folder


def push_folder(folder: Path, repo_id: str, retries: int = 3, backoff_s: float = 5.0, api: HfApi | None = None) -> str:
    """Upload `folder` to the Hub model repo `repo_id` (created if needed), retrying with a growing wait.

    Returns the commit URL; raises the last error once `retries` attempts have failed.
    """
    api = api or HfApi()

    def push() -> str:
        api.create_repo(repo_id, exist_ok=True)
        return str(api.upload_folder(folder_path=str(folder), repo_id=repo_id, commit_message="Upload HRM-ACT-v1"))

    for attempt in range(1, retries):
        try:
            return push()
        except Exception as error:  # network, auth or server errors alike: retry, the last attempt raises
            logger.warning(f"Push to {repo_id} failed (attempt {attempt}/{retries}): {error}; retrying.")
            time.sleep(backoff_s * attempt)
    return push()
