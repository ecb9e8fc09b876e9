"""Loading a model or dataset the user names: a local folder or a Hub repo, and never a stranger's code by default.

transformers' convention stays: an existing local folder wins, otherwise `owner/name` is a Hub repo id. Two guards
keep a typo from reaching the Hub: a path starting with `.`, `/` or `~`, or with other than one `/`, is always local
(missing: "no such file or folder"), and a fall-back to the Hub says so in one line naming the repo and the commit it
resolved. Models load with the installed `HrmActModel`, so no folder's or repo's `modeling_hrm.py` runs unless
the user asks for it with `trust_remote_code`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from transformers import PreTrainedModel


logger = logging.getLogger(__name__)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """`--model`, `--revision` and `--trust-remote-code`, the options of every command that loads a user's model."""
    parser.add_argument(
        "--model", required=True,
        help="Model folder, or Hub repo id owner/name when no such folder exists (a path starting with . or / is "
        "always a folder).",
    )  # fmt: skip
    parser.add_argument("--revision", help="Branch, tag or commit of a Hub model (default: main).")
    parser.add_argument(
        "--trust-remote-code", action="store_true",
        help="Load with the folder's or repo's own modeling code (AutoModel) instead of the installed HrmActModel; "
        "it runs that code on this machine.",
    )  # fmt: skip


def is_repo_id(text: str) -> bool:
    """Whether `text` is a valid Hub repo id (`name` or `owner/name`), whatever exists locally."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(text)
    except HFValidationError:
        return False
    return True


def hub_repo_id(spec: str | Path, field: str) -> str | None:
    """The Hub repo id `spec` names, or None when it is an existing local file or folder.

    Raises `FileNotFoundError` naming `field` for a missing path that cannot be a repo id (it starts with `.`, `/` or
    `~`, or has other than one `/`).
    """
    text = str(spec)
    path = Path(text).expanduser()
    if path.exists():
        return None
    if text.startswith((".", "/", "~", "\\")) or path.is_absolute() or text.count("/") != 1:
        raise FileNotFoundError(f"{field}: no such file or folder {text!r}.")
    return text


def local_or_hub(spec: str | Path, field: str) -> Path | str:
    """`spec` as an existing local folder (a `Path`) or as a Hub repo id `owner/name` (a `str`), by `hub_repo_id`'s
    rule; a path that is a file raises `NotADirectoryError`."""
    repo_id = hub_repo_id(spec, field)
    if repo_id is not None:
        return repo_id
    path = Path(str(spec)).expanduser()
    if not path.is_dir():
        raise NotADirectoryError(f"{field}: {str(spec)!r} is a file, not a folder.")
    return path


def hub_revision(repo_id: str, repo_type: str, revision: str | None, field: str) -> str | None:
    """The commit sha `revision` (default: the main branch) of the Hub repo resolves to, announced in one line;
    offline, `revision` itself (the cache resolves it)."""
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub import constants as hub_constants
    from huggingface_hub.errors import HfHubHTTPError

    if hub_constants.HF_HUB_OFFLINE:  # no Hub to ask: the cache answers, as transformers and datasets do offline
        try:
            snapshot_download(repo_id, repo_type=repo_type, revision=revision, local_files_only=True)
        except Exception:  # LocalEntryNotFoundError and kin: nothing cached at that revision
            raise FileNotFoundError(
                f"{field}: no such file or folder {repo_id!r}, and the Hub {repo_type} repo {repo_id} at revision "
                f"{revision or 'main'} is not in the local cache (HF_HUB_OFFLINE is set)."
            ) from None
        logger.warning(
            f"{field}: no local file or folder {repo_id!r}; offline, loading the cached Hub {repo_type} repo "
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
            f"{field}: no such file or folder {repo_id!r}, and the Hub {repo_type} repo {repo_id}{at} cannot be read "
            f"({reason})."
        ) from None
    logger.warning(
        f"{field}: no local file or folder {repo_id!r}; loading the Hub {repo_type} repo {repo_id} at revision "
        f"{revision or 'main'} ({sha})."
    )
    return sha


def load_model(
    spec: str | Path, trust_remote_code: bool = False, revision: str | None = None, field: str = "--model"
) -> PreTrainedModel:
    """The model in the local folder or Hub repo `spec`, following `local_or_hub`.

    Without `trust_remote_code` it is the installed `HrmActModel`; with it, `AutoModel` runs the folder's or repo's
    own code. `field` names the option in errors.
    """
    from transformers import AutoModel

    from ..modeling_hrm import HrmActModel

    source = local_or_hub(spec, field)
    if isinstance(source, str):
        revision = hub_revision(source, "model", revision, field)
    from safetensors import SafetensorError

    try:
        if trust_remote_code:
            return AutoModel.from_pretrained(source, trust_remote_code=True, revision=revision)
        return HrmActModel.from_pretrained(source, revision=revision)
    except SafetensorError as error:  # a truncated or corrupt weights file
        raise ValueError(f"{field} {spec}: its safetensors weights cannot be read ({error}).") from None
