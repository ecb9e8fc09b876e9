"""The Hugging Face Hub, in one place: which names are Hub repos, downloads, uploads, retries and background pushes.

One rule says whether a value a user gives (`--model`, `--dataset`, `--source`, a config's `data_path`) is a local
path or a Hub repo, and every command follows it. transformers' convention stays: an existing local path wins,
otherwise `owner/name` is a Hub repo id. Two guards keep a typo from reaching the Hub: a value starting with `.`,
`/` or `~`, or with other than one `/`, is always local (missing: "no such file or folder"), and a fall-back to the
Hub says so in one line naming the repo and the commit it resolved. Offline (`HF_HUB_OFFLINE`) the cache answers.
A command resolves each value once into a [`Source`] and hands that down.

Uploads only read the folder they push: a failed push leaves it as it was. They retry only what may pass on a second
try (network errors, 429, 5xx) and fail at once, in one line, on anything else. `BackgroundPusher` uploads during
training.

This module sits at the bottom of the package beside the model files: it imports the standard library, and
huggingface_hub (with its HTTP client) only inside the functions that use it, so that `--help` stays light.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar


if TYPE_CHECKING:
    from huggingface_hub import HfApi


logger = logging.getLogger(__name__)
T = TypeVar("T")


# ----- which names are Hub repos -----


def is_repo_id(text: str) -> bool:
    """Whether `text` is a valid Hub repo id (`name` or `owner/name`) by huggingface_hub's `validate_repo_id`,
    whatever exists locally: the check of a repo to push to."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(text)
    except HFValidationError:
        return False
    return True


def hub_repo_id(value: str | Path, option: str) -> str | None:
    """The Hub repo id `value` names, or None when it is an existing local file or folder: the one local-vs-Hub rule.

    A missing path that cannot be a repo id (it starts with `.`, `/` or `~`, or has other than one `/`) raises
    `FileNotFoundError` naming `option`; so does an `owner/name` that is not a valid repo id.
    """
    text = str(value)
    path = Path(text).expanduser()
    if path.exists():
        return None
    if text.startswith((".", "/", "~", "\\")) or path.is_absolute() or text.count("/") != 1:
        raise FileNotFoundError(f"{option}: no such file or folder {text!r}.")
    if not is_repo_id(text):
        raise FileNotFoundError(f"{option}: no such file or folder {text!r}, nor is it a valid Hub repo id.")
    return text


def names_hub_repo(value: str | Path) -> bool:
    """Whether `value` names a Hub repo by `hub_repo_id`'s rule, where a missing local path is no error (a model
    card's link to the dataset it was trained on, which may have been moved since)."""
    try:
        return hub_repo_id(value, "") is not None
    except FileNotFoundError:
        return False


@dataclass(frozen=True)
class Source:
    """Where a command's input is, decided once: a local file or folder, or a Hub repo at a commit together with the
    local snapshot folder of the files that were downloaded from it."""

    path: Path
    repo_id: str | None = None
    commit: str | None = None  # the commit the revision resolved to; offline, the revision asked (None: main)

    @property
    def name(self) -> str:
        """How messages name it: the repo id, or the local path."""
        return self.repo_id or str(self.path)


def resolve(
    value: str | Path,
    option: str,
    *,
    repo_type: str = "model",
    revision: str | None = None,
    allow_patterns: list[str] | None = None,
    must_be_folder: bool = False,
) -> Source:
    """`value` as a local path, or as a Hub repo (by `hub_repo_id`'s rule) whose files matching `allow_patterns`
    are downloaded at the commit `revision` (a branch, tag or commit; default: main) resolves to.

    `option` names the value in errors; with `must_be_folder` a local file raises `NotADirectoryError`.
    """
    repo_id = hub_repo_id(value, option)
    if repo_id is None:
        path = Path(str(value)).expanduser()
        if must_be_folder and not path.is_dir():
            raise NotADirectoryError(f"{option}: {str(value)!r} is a file, not a folder.")
        return Source(path)
    commit = resolve_commit(repo_id, repo_type, revision, option, allow_patterns)
    return Source(download(repo_id, repo_type, commit, allow_patterns), repo_id, commit)


def resolve_commit(
    repo_id: str, repo_type: str, revision: str | None, option: str, allow_patterns: list[str] | None = None
) -> str | None:
    """The commit sha `revision` (default: the main branch) of the Hub repo resolves to, announced in one line;
    offline, `revision` itself, once the cache holds the files matching `allow_patterns` there (only those: a
    command never downloaded the rest of the repo)."""
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub import constants as hub_constants
    from huggingface_hub.errors import HfHubHTTPError

    if hub_constants.HF_HUB_OFFLINE:  # no Hub to ask: the cache answers, as transformers and datasets do offline
        try:
            snapshot_download(
                repo_id, repo_type=repo_type, revision=revision, allow_patterns=allow_patterns, local_files_only=True
            )
        except Exception:  # LocalEntryNotFoundError and kin: nothing cached at that revision
            raise FileNotFoundError(
                f"{option}: no such file or folder {repo_id!r}, and the Hub {repo_type} repo {repo_id} at revision "
                f"{revision or 'main'} is not in the local cache (HF_HUB_OFFLINE is set)."
            ) from None
        logger.warning(
            f"{option}: no local file or folder {repo_id!r}; offline, loading the cached Hub {repo_type} repo "
            f"{repo_id} at revision {revision or 'main'}."
        )
        return revision
    api = HfApi()
    info = api.dataset_info if repo_type == "dataset" else api.model_info
    try:
        sha = info(repo_id, revision=revision).sha
    except Exception as error:  # not found, gated, invalid, offline: one line, whichever it is
        reason = (
            f"HTTP {error.response.status_code}"
            if isinstance(error, HfHubHTTPError)
            else f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        )
        at = "" if revision is None else f" at revision {revision}"
        raise FileNotFoundError(
            f"{option}: no such file or folder {repo_id!r}, and the Hub {repo_type} repo {repo_id}{at} cannot be read "
            f"({reason})."
        ) from None
    logger.warning(
        f"{option}: no local file or folder {repo_id!r}; loading the Hub {repo_type} repo {repo_id} at revision "
        f"{revision or 'main'} ({sha})."
    )
    return sha


def download(repo_id: str, repo_type: str, commit: str | None, allow_patterns: list[str] | None) -> Path:
    """The local snapshot folder of the Hub repo at `commit`, holding the files matching `allow_patterns` (all when
    None), downloaded into huggingface_hub's cache unless already there."""
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(repo_id, repo_type=repo_type, revision=commit, allow_patterns=allow_patterns))


# ----- retries -----
# huggingface_hub retries single HTTP requests (`http_backoff`, inside every transfer); what it has no helper for is
# retrying a whole operation of several requests (create the repo and branch, then upload), and telling a refusal
# that will repeat (401/403/404) from one that may pass, so that a push fails at once on the first kind.


def is_transient(error: BaseException) -> bool:
    """Whether a failed Hub call may succeed if tried again: a network error, rate limiting (429) or a server error
    (5xx). Anything else, 401/403/404 above all (bad token, no write access, wrong repo id), fails the same way again."""
    import httpx2  # huggingface_hub's HTTP client: its TransportError is how a call sees a network failure
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(error, HfHubHTTPError):
        status = error.response.status_code
        return status == 429 or status >= 500
    return isinstance(error, httpx2.TransportError | ConnectionError | TimeoutError)


class PushError(OSError):
    """A Hub call that did not happen, in one line naming the repo and the cause; `transient` when retrying may
    help."""

    def __init__(self, message: str, transient: bool):
        super().__init__(message)
        self.transient = transient


def describe(error: BaseException, repo_id: str) -> str:
    """One line for a failed Hub call: the HTTP status and the Hub's message, or the network error."""
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(error, HfHubHTTPError):
        status = error.response.status_code
        message = " ".join((error.server_message or error.response.reason_phrase or "").split())
        hint = "" if is_transient(error) else f"; check the repo id and that the token may write to {repo_id}"
        return f"HTTP {status} ({message}){hint}"
    return f"{type(error).__name__}: {' '.join(str(error).split())}"


def with_retries(call: Callable[[], T], what: str, repo_id: str, retries: int, backoff_s: float) -> T:
    """`call()`, tried up to `retries` times with a doubling wait while its errors are transient (`is_transient`);
    any other error, or the last attempt's, raises `PushError` starting with `what`."""
    for attempt in range(1, retries + 1):
        try:
            return call()
        except Exception as error:
            transient = is_transient(error)
            if not transient or attempt == retries:
                tries = f" after {attempt} attempts" if transient else ""
                raise PushError(f"{what} failed{tries}: {describe(error, repo_id)}", transient) from error
            pause = backoff_s * 2 ** (attempt - 1)
            logger.warning(
                f"{what} failed ({describe(error, repo_id)}); retrying in {pause:g}s ({attempt}/{retries})."
            )
            time.sleep(pause)
    raise ValueError(f"retries must be at least 1, got {retries}.")


# ----- uploads -----


def prepare_repo(
    api: HfApi,
    repo_id: str,
    private: bool,
    revision: str | None,
    repo_type: str = "model",
    space_sdk: str | None = None,
) -> None:
    """Create the repo (private when asked; an existing repo keeps its visibility) and the branch `revision`; a Space
    (`repo_type="space"`) is created with the SDK that runs it."""
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type=repo_type, space_sdk=space_sdk)
    if revision is not None:
        api.create_branch(repo_id, branch=revision, exist_ok=True, repo_type=repo_type)


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
    repo_type: str = "model",
    space_sdk: str | None = None,
) -> str:
    """Upload `folder` to the Hub repo `repo_id` (a model repo unless `repo_type` says otherwise; a Space names its
    `space_sdk`) on branch `revision` (both created if needed).

    Returns the commit URL. Transient errors (`is_transient`) are retried up to `retries` attempts in all; any other
    error, or the last attempt's, raises `PushError`. The folder is only read.
    """
    from huggingface_hub import HfApi

    api = api or HfApi()

    def push() -> str:
        prepare_repo(api, repo_id, private, revision, repo_type, space_sdk)
        info = api.upload_folder(
            folder_path=str(folder), repo_id=repo_id, repo_type=repo_type, revision=revision,
            commit_message=commit_message,
        )  # fmt: skip
        return str(info)

    return with_retries(push, f"Push of {folder} to {repo_id}", repo_id, retries, backoff_s)


def commit_files(
    repo_id: str,
    files: dict[str, Path | bytes],
    message: str,
    *,
    what: str | None = None,
    repo_type: str = "model",
    revision: str | None = None,
    token: str | None = None,
    retries: int = 3,
    backoff_s: float = 5.0,
) -> str:
    """One commit adding `files` (path in the repo: a local file or the content) to the Hub repo on branch
    `revision`, retried as `with_retries` says; returns the commit URL. A failure is a `PushError` line starting with
    `what` (default: "Commit to REPO")."""
    from huggingface_hub import CommitOperationAdd, HfApi

    operations = [
        CommitOperationAdd(name, str(content) if isinstance(content, Path) else content)
        for name, content in files.items()
    ]
    api = HfApi(token=token)
    commit = with_retries(
        lambda: api.create_commit(
            repo_id, operations, commit_message=message, repo_type=repo_type, revision=revision
        ),
        what or f"Commit to {repo_id}", repo_id, retries, backoff_s,
    )  # fmt: skip
    return commit.commit_url


def prepare_push(
    repo_id: str,
    staging_dir: Path,
    *,
    private: bool = False,
    revision: str | None = None,
    in_background: bool = False,
    retries: int = 3,
    backoff_s: float = 5.0,
) -> BackgroundPusher | None:
    """Create the repo and branch a training run pushes to before it trains, so that a bad token or repo id fails
    at once. With `in_background` (a push per checkpoint) returns the `BackgroundPusher` that uploads them, whose
    folders are written under `staging_dir`."""
    if in_background:
        return BackgroundPusher(
            repo_id, staging_dir, private=private, revision=revision, retries=retries, backoff_s=backoff_s
        )
    from huggingface_hub import HfApi

    api = HfApi()
    with_retries(
        lambda: prepare_repo(api, repo_id, private, revision), f"Creating {repo_id}", repo_id, retries, backoff_s
    )
    return None


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
        from huggingface_hub import HfApi

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
