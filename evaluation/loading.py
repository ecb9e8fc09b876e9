"""Loading a model the user names: a local folder or a Hub repo, and never a stranger's code by default.

Which of the two `--model` means is `hub.py`'s rule, decided once by `resolve_model`. Models load with the installed
class of their family (`HrmActModel` or `TrmModel`, as `config.json`'s `model_type` says), so no folder's or repo's
modeling code runs unless the user asks for it with `trust_remote_code`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..hub import Source, resolve


if TYPE_CHECKING:
    from transformers import PreTrainedModel


# What `from_pretrained` reads from a model repo: config and weights (with a sharded index), and the remote code.
MODEL_FILES = ["*.json", "*.safetensors", "*.py"]


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
        help="Load with the folder's or repo's own modeling code (AutoModel) instead of the installed HrmActModel or "
        "TrmModel; it runs that code on this machine.",
    )  # fmt: skip


def resolve_model(value: str | Path, option: str = "--model", revision: str | None = None) -> Source:
    """Where the model `value` is, by `hub.resolve`'s rule: a local folder, or a Hub model repo downloaded at the
    commit `revision` resolves to."""
    return resolve(value, option, revision=revision, allow_patterns=MODEL_FILES, must_be_folder=True)


def load_model(
    source: Source | str | Path, trust_remote_code: bool = False, revision: str | None = None, field: str = "--model"
) -> PreTrainedModel:
    """The model of a resolved [`Source`] (`resolve_model`), or of a folder or Hub repo id (at `revision`) resolved
    here by the same rule.

    Without `trust_remote_code` it is the installed class of the folder's family (`installed_model_class`); with
    it, `AutoModel` runs the folder's or repo's own code. `field` names the option in errors.
    """
    from safetensors import SafetensorError
    from transformers import AutoModel

    if not isinstance(source, Source):
        source = resolve_model(source, field, revision)
    try:
        if trust_remote_code:
            return AutoModel.from_pretrained(source.path, trust_remote_code=True)
        return installed_model_class(source, field).from_pretrained(source.path)
    except SafetensorError as error:  # a truncated or corrupt weights file
        raise ValueError(f"{field} {source.name}: its safetensors weights cannot be read ({error}).") from None


def installed_model_class(source: Source, field: str = "--model") -> type[PreTrainedModel]:
    """The installed model class of the family a saved folder's `config.json` names by its `model_type`; a folder
    of another model is a one-line `ValueError`."""
    from ..modeling_hrm import HrmActModel
    from ..modeling_trm import TrmModel

    classes = {model_class.config_class.model_type: model_class for model_class in (HrmActModel, TrmModel)}
    config_file = Path(source.path) / "config.json"
    try:
        model_type = json.loads(config_file.read_text()).get("model_type")
    except (OSError, ValueError, AttributeError):
        model_type = None  # `from_pretrained` says what is wrong with the file
    if model_type is None:
        return HrmActModel
    if model_type not in classes:
        raise ValueError(
            f"{field} {source.name}: `model_type` {model_type!r} in config.json is none of this package's models "
            f"({', '.join(classes)})."
        )
    return classes[model_type]
