"""The Hub-ready model folder and its upload.

The folder (`save_pretrained` weights and config, the remote-code model files, the filled-in model card and the
training config) is written beside its final place and renamed into it, so readers never see half of it. A push
only reads the folder: a failed upload leaves it as it was. Pushes retry only what may pass on a second try (network
errors, 429, 5xx) and fail at once, in one line, on anything else; `BackgroundPusher` uploads during training.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from pathlib import Path
from typing import TypeVar

import httpx2
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from ..evaluation.card import TRAIN_CONFIG_NAME
from ..evaluation.model_folder import write_model_folder
from ..modeling_hrm import HrmActModel
from .config import TrainConfig


logger = logging.getLogger(__name__)
HEADLINE_METRIC = "exact_accuracy"  # named in each pushed model's commit message
T = TypeVar("T")


def save_model_folder(
    model: HrmActModel, folder: Path, config: TrainConfig, metrics: dict[str, float], command: str
) -> Path:
    """Write the model folder at `folder`, replacing any previous one only once the new one is complete.

    The card, rendered before the rename, names the Hub repo when the run pushes and the final folder otherwise.
    """
    return write_model_folder(
        model, folder, extras=lambda tmp: config.save(tmp / TRAIN_CONFIG_NAME), metrics=metrics,
        dataset=config.data_path, eval_split="test", command=command, repo_id=config.push_to_hub,
    )  # fmt: skip


def is_transient(error: BaseException) -> bool:
    """Whether a failed Hub call may succeed if tried again: a network error, rate limiting (429) or a server error
    (5xx). Anything else, 401/403/404 above all (bad token, no write access, wrong repo id), fails the same way again."""
    if isinstance(error, HfHubHTTPError):
        status = error.response.status_code
        return status == 429 or status >= 500
    return isinstance(error, httpx2.TransportError | ConnectionError | TimeoutError)


class PushError(OSError):
    """A push that did not happen, in one line naming the repo and the cause; `transient` when retrying may help."""

    def __init__(self, message: str, transient: bool):
        super().__init__(message)
        self.transient = transient


def describe(error: BaseException, repo_id: str) -> str:
    """One line for a failed Hub call: the HTTP status and the Hub's message, or the network error."""
    if isinstance(error, HfHubHTTPError):
        status = error.response.status_code
        message = " ".join((error.server_message or error.response.reason_phrase or "").split())
        hint = "" if is_transient(error) else f"; check the repo id and that the token may write to {repo_id}"
        return f"HTTP {status} ({message}){hint}"
    return f"{type(error).__name__}: {' '.join(str(error).split())}"


def with_retries(call: Callable[[], T], what: str, repo_id: str, retries: int, backoff_s: float) -> T:
    """`call()`, tried up to `retries` times with a doubling wait while its errors are transient (`is_transient`);
    huggingface_hub's own backoff already retries single file transfers inside each attempt."""
    for attempt in range(1, retries + 1):
        try:
            return call()
        except Exception as error:
            transient = is_transient(error)
            if not transient or attempt == retries:
                tries = f" after {attempt} attempts" if transient else ""
                raise PushError(f"{what} failed{tries}: {describe(error, repo_id)}", transient) from error
            wait = backoff_s * 2 ** (attempt - 1)
            logger.warning(f"{what} failed ({describe(error, repo_id)}); retrying in {wait:g}s ({attempt}/{retries}).")
            time.sleep(wait)
    raise ValueError(f"retries must be at least 1, got {retries}.")


def prepare_repo(api: HfApi, repo_id: str, private: bool, revision: str | None) -> None:
    """Create the model repo (private when asked; an existing repo keeps its visibility) and the branch `revision`."""
    api.create_repo(repo_id, private=private, exist_ok=True)
    if revision is not None:
        api.create_branch(repo_id, branch=revision, exist_ok=True)


def push_folder(
    folder: Path,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    commit_message: str = "Upload HRM-ACT-v1",
    retries: int = 3,
    backoff_s: float = 5.0,
    api: HfApi | None = None,
) -> str:
    """Upload `folder` to the Hub model repo `repo_id` on branch `revision` (both created if needed).

    Returns the commit URL. Transient errors (`is_transient`) are retried up to `retries` attempts in all; any other
    error, or the last attempt's, raises `PushError`. The folder is only read.
    """
    api = api or HfApi()

    def push() -> str:
        prepare_repo(api, repo_id, private, revision)
        info = api.upload_folder(
            folder_path=str(folder), repo_id=repo_id, revision=revision, commit_message=commit_message
        )
        return str(info)

    return with_retries(push, f"Push of {folder} to {repo_id}", repo_id, retries, backoff_s)


def push_message(step: int, last_eval: tuple[int, dict[str, float]]) -> str:
    """The commit message of a pushed model: its step and the headline metric of the latest evaluation."""
    eval_step, metrics = last_eval
    if HEADLINE_METRIC not in metrics:
        return f"HRM-ACT-v1 at step {step} (not evaluated yet)"
    measured = "" if eval_step == step else f", measured at step {eval_step}"
    return f"HRM-ACT-v1 at step {step}: {HEADLINE_METRIC} {metrics[HEADLINE_METRIC]:.4f}{measured}"


class BackgroundPusher:
    """Uploads model folders to one Hub repo in a background thread, one after another, while training goes on.

    The repo and branch are created at once, so a bad token or repo id fails before any training. Each folder given to
    `push` is one written for that push alone, and it is deleted once uploaded or given up: the run's own files are
    never read half-written, nor touched by a failed push. A folder still queued when a newer one comes is dropped.
    A push that fails after its retries (network, 429, 5xx) is logged and the next one tries again; one the Hub
    refuses (401/403/404) is raised by the next `push` or by `wait`.
    """

    def __init__(
        self,
        repo_id: str,
        staging_dir: Path,
        *,
        private: bool = False,
        revision: str | None = None,
        retries: int = 3,
        backoff_s: float = 5.0,
        api: HfApi | None = None,
    ):
        self.api = api or HfApi()
        self.repo_id, self.staging_dir, self.revision = repo_id, Path(staging_dir), revision
        self.retries, self.backoff_s = retries, backoff_s
        with_retries(
            lambda: prepare_repo(self.api, repo_id, private, revision),
            f"Creating {repo_id}",
            repo_id,
            retries,
            backoff_s,
        )
        self.queued: tuple[Future, Path] | None = None
        self.folders_made = 0
        self.refused: PushError | None = None

    def folder_for(self, step: int) -> Path:
        """A new folder to write the model of the push at `step` into (a step may be pushed twice: checkpoint_every
        and the final evaluation)."""
        self.folders_made += 1
        return self.staging_dir / f"{self.folders_made}-step-{step}"

    def push(self, folder: Path, commit_message: str) -> Future:
        """Queue the upload of `folder` (deleted afterwards); returns its future (the commit URL, or None if given up)."""
        self.raise_refusal()
        if self.queued is not None and self.queued[0].cancel():
            shutil.rmtree(self.queued[1], ignore_errors=True)
            logger.info(f"Dropped the queued push of {self.queued[1].name}: a newer model replaces it.")
        future = self.api.run_as_future(self.upload, folder, commit_message)
        self.queued = (future, folder)
        return future

    def upload(self, folder: Path, commit_message: str) -> str | None:
        try:
            url = push_folder(
                folder, self.repo_id, revision=self.revision, commit_message=commit_message,
                retries=self.retries, backoff_s=self.backoff_s, api=self.api,
            )  # fmt: skip
            logger.info(f"Pushed {commit_message!r}: {url}")
            return url
        except PushError as error:
            if not error.transient:
                self.refused = error
                raise
            logger.warning(f"{error}; the next checkpoint's push tries again.")
            return None
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def wait(self) -> None:
        """Block until the queued pushes are done; raise the Hub's refusal of one."""
        if self.queued is not None:
            wait([self.queued[0]])
        self.raise_refusal()

    def raise_refusal(self) -> None:
        if self.refused is not None:
            raise self.refused
