"""Loading a model the user names: a local folder or a Hub repo, and never a stranger's code by default.

Which of the two `--model` means is `hub.py`'s rule, decided once by `resolve_model`. Models load with the installed
class of their family (`HrmActModel` or `TrmModel`, as `config.json`'s `model_type` says), so no folder's or repo's
modeling code runs unless the user asks for it with `trust_remote_code`.

Loading is strict: the weights files' tensors must be exactly the model's, by name and shape, checked from the
safetensors headers before any weight is read. transformers' `from_pretrained` would initialise a missing tensor at
random and only warn, which answers puzzles with a model nobody trained.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import one_line_message
from ..hub import Source, resolve
from ..records import check_record


if TYPE_CHECKING:
    from transformers import PreTrainedModel


# What `from_pretrained` reads from a model repo: config and weights (with a sharded index), and the remote code.
MODEL_FILES = ["*.json", "*.safetensors", "*.py"]
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX_FILE = "model.safetensors.index.json"
# Tensors named in an error line, at most; the rest are counted.
NAMED_TENSORS = 3
# The model shipped inside the package (its card says how it was trained): what `hrm solve` and `hrm app` use when no
# --model is given.
PACKAGED_MODEL = Path(__file__).resolve().parent.parent / "pretrained" / "sudoku9"
PACKAGED_PUZZLES = PACKAGED_MODEL.with_name("sudoku9-puzzles")  # held-out puzzles of the packaged model's kind


def add_model_arguments(parser: argparse.ArgumentParser, several: bool = False, packaged: bool = False) -> None:
    """`--model`, `--revision` and `--trust-remote-code`, the options of every command that loads a user's model;
    `several=True` takes one or more models (an ensemble), `packaged=True` makes the packaged 9x9 Sudoku model the
    default."""
    help = "Model folder, or Hub repo id owner/name when no such folder exists (a path starting with . or / is always a folder)."
    if several:
        help += " Several models vote together on each puzzle (an ensemble)."
    if packaged:
        help += " Default: the 9x9 Sudoku model packaged with hrm-hf."
    parser.add_argument(
        "--model", required=not packaged, default=str(PACKAGED_MODEL) if packaged else None,
        nargs="+" if several else None, help=help,
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
    from huggingface_hub.errors import StrictDataclassError
    from safetensors import SafetensorError
    from transformers import AutoConfig, AutoModel

    if not isinstance(source, Source):
        source = resolve_model(source, field, revision)
    check_model_folder(source, field)
    read_model_config(source, field)
    model_class = AutoModel if trust_remote_code else installed_model_class(source, field)
    config_class = AutoConfig if trust_remote_code else model_class.config_class
    remote = {"trust_remote_code": True} if trust_remote_code else {}
    try:
        config = config_class.from_pretrained(source.path, **remote)
    except (ValueError, StrictDataclassError) as error:  # a field of the wrong type, range or size
        raise ValueError(f"{field} {source.name}: {CONFIG_FILE}: {one_line_message(error)}") from None
    build = (lambda: AutoModel.from_config(config, **remote)) if trust_remote_code else (lambda: model_class(config))
    try:
        check_weights(source, expected_shapes(build), field)
        return model_class.from_pretrained(source.path, config=config, **remote)
    except SafetensorError as error:  # a truncated or corrupt weights file
        raise ValueError(f"{field} {source.name}: its safetensors weights cannot be read ({error}).") from None


def check_model_folder(source: Source, field: str = "--model") -> None:
    """An error naming the folder when it has no `config.json`: a training checkpoint (which holds the weights in
    Accelerate's layout, not a model folder's) is told apart and pointed to its run's model folder."""
    folder = Path(source.path)
    if (folder / CONFIG_FILE).is_file():
        return
    from ..training.checkpoint import is_checkpoint

    if is_checkpoint(folder):
        model_folder = folder.parent.parent / "model"
        where = (
            f"use its run's model folder, --model {model_folder}"
            if (model_folder / CONFIG_FILE).is_file()
            else f"its run has written no model folder yet (it writes {model_folder} when it ends)"
        )
        raise ValueError(f"{field} {source.name} is a training checkpoint, not a model folder; {where}.")
    raise FileNotFoundError(f"{field} {source.name}: not a model folder (no {CONFIG_FILE}).")


def expected_shapes(build) -> dict[str, tuple[int, ...]]:
    """The shape of each tensor in the state dict of the model `build()` makes, built on the meta device (no
    memory allocated, no weight initialised)."""
    import torch

    with torch.device("meta"):
        model = build()
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}


def saved_shapes(source: Source, field: str = "--model") -> dict[str, tuple[int, ...]]:
    """The shape of each tensor in a model folder's safetensors weights (one file, or the shards its index names),
    read from the files' headers only."""
    from safetensors import safe_open

    folder = Path(source.path)
    if (folder / WEIGHTS_INDEX_FILE).is_file():
        index_file = folder / WEIGHTS_INDEX_FILE
        try:
            weight_map = json.loads(index_file.read_text())["weight_map"]
            files = sorted({str(name) for name in weight_map.values()})
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"{field} {source.name}: {WEIGHTS_INDEX_FILE} has no `weight_map` ({error}).") from None
    elif (folder / WEIGHTS_FILE).is_file():
        files = [WEIGHTS_FILE]
    else:
        raise FileNotFoundError(f"{field} {source.name}: no {WEIGHTS_FILE} (the model's weights) in the folder.")
    shapes = {}
    for name in files:
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f"{field} {source.name}: {WEIGHTS_INDEX_FILE} names {name}, which is missing.")
        with safe_open(path, framework="pt") as handle:
            shapes |= {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}
    return shapes


def check_weights(source: Source, expected: dict[str, tuple[int, ...]], field: str = "--model") -> None:
    """A `ValueError` naming the folder and the tensors when its weights are not exactly the model's: a tensor
    missing (which would be initialised at random), one the model has no place for, or one of another shape."""
    saved = saved_shapes(source, field)
    problems = []
    for kind, names in (
        ("missing", sorted(expected.keys() - saved.keys())),
        ("not in the model", sorted(saved.keys() - expected.keys())),
    ):
        if names:
            problems.append(f"{len(names)} {kind} ({named(names)})")
    reshaped = sorted(name for name in expected.keys() & saved.keys() if expected[name] != saved[name])
    if reshaped:
        shapes = [f"{name} {list(saved[name])} where the config needs {list(expected[name])}" for name in reshaped]
        problems.append(f"{len(reshaped)} of another shape ({named(shapes)})")
    if problems:
        raise ValueError(
            f"{field} {source.name}: its weights do not match its config.json: tensors {'; '.join(problems)}."
        )


def named(items: list[str]) -> str:
    """The first `NAMED_TENSORS` of `items`, and how many more there are."""
    more = len(items) - NAMED_TENSORS
    return ", ".join(items[:NAMED_TENSORS]) + (f" and {more} more" if more > 0 else "")


def read_model_config(source: Source, field: str = "--model") -> dict:
    """A model folder's `config.json` as a JSON object whose `model_type`, when there, is a string; anything else is
    a one-line `ValueError` naming the folder (the fields themselves are the config class's to check)."""
    path = Path(source.path) / CONFIG_FILE
    where = f"{field} {source.name}: {CONFIG_FILE}"
    try:
        values = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{where} is not JSON ({error}).") from None
    return check_record(values, {"model_type": "str"}, where, optional=frozenset({"model_type"}))


def installed_model_class(source: Source, field: str = "--model") -> type[PreTrainedModel]:
    """The installed model class of the family a saved folder's `config.json` names by its `model_type` (HRM's when
    it names none); a folder of another model is a one-line `ValueError`."""
    from ..modeling_hrm import HrmActModel
    from ..modeling_trm import TrmModel

    classes = {model_class.config_class.model_type: model_class for model_class in (HrmActModel, TrmModel)}
    model_type = read_model_config(source, field).get("model_type")
    if model_type is None:
        return HrmActModel
    if model_type not in classes:
        raise ValueError(
            f"{field} {source.name}: `model_type` {model_type!r} in config.json is none of this package's models "
            f"({', '.join(classes)})."
        )
    return classes[model_type]
