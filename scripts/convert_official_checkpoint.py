"""Convert a checkpoint of the authors' HRM release, or of their TRM code, into a Hub-ready transformers model folder.

    hrm convert path/to/checkpoint_or_step_N --output-dir hrm-sudoku
    hrm convert sapientinc/HRM-checkpoint-sudoku-extreme --task sudoku --output-dir hrm-sudoku
    hrm convert path/to/ckpt --task maze --output-dir hrm-maze --push-to-hub user/hrm-maze --private

The release saves `torch.save(state_dict)` under the name `checkpoint` (Hub) or `step_N` (its trainer), with keys
prefixed `_orig_mod.model.`, next to `all_config.yaml`, whose `arch.name` says the model family: HRM's
`hrm.hrm_act_v1@...` or TRM's `recursive_reasoning.trm@...` (github.com/SamsungSAILMontreal/TinyRecursiveModels,
whose runs save the same way). The checkpoint is a local file or folder or a Hub model repo
id (downloaded, at `--source-revision`; the card then names it as `base_model`). The data sizes it needs
(`seq_len`, `vocab_size`, `num_puzzle_identifiers`) come, in this order, from flags, from a `dataset.json` beside
the checkpoint, or from the tensor shapes (`--task` then gives the RoPE `seq_len`; the authors' Hub repos carry no
`dataset.json`).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from ..hub import resolve
from ..tokenization_hrm import PUZZLE_TYPES
from .cli import HelpFormatter


if TYPE_CHECKING:  # torch and transformers are imported where used, so `hrm convert --help` starts light
    import torch
    from transformers import PreTrainedConfig, PreTrainedModel


DATA_FIELDS = ("seq_len", "vocab_size", "num_puzzle_identifiers")
# The authors' `arch.name` (`module@class`, the module under their `models/`) -> the family `hrm train` names it by.
RELEASE_ARCHS = {"hrm.hrm_act_v1": "hrm", "recursive_reasoning.trm": "trm"}
# Tensors whose first dimension counts every position (puzzle prefix included): learned positions, TRM's `mlp_t`.
POSITION_TENSORS = ("embed_positions.weight", "L_module.layers.0.mlp_t.down_proj.weight")
# Release parameter/buffer name -> ours (after the `_orig_mod.` and `model.inner.` prefixes are stripped).
KEY_RENAMES = [
    (r"^embed_tokens\.embedding_weight$", "embed_tokens.weight"),
    (r"^embed_pos\.embedding_weight$", "embed_positions.weight"),
    (r"^puzzle_emb\.weights$", "puzzle_emb.weight"),
    (r"^H_level\.", "H_module."),
    (r"^L_level\.", "L_module."),
]
# Buffers the release keeps in its state dict that are scratch space or recomputed, not weights.
DROPPED_KEYS = {"puzzle_emb.local_weights", "puzzle_emb.local_ids", "rotary_emb.cos_cached", "rotary_emb.sin_cached"}
# What the converter reads of a Hub repo (the authors' hold `all_config.yaml` and `checkpoint`).
RELEASE_FILES = ["all_config.yaml", "dataset.json", "checkpoint", "step_*"]


def find_checkpoint_file(path: Path) -> Path:
    """The checkpoint file itself, or in a folder the file `checkpoint` or else its latest `step_N`."""
    if path.is_file():
        return path
    if not path.is_dir():
        raise FileNotFoundError(f"No checkpoint at {path}.")
    if (path / "checkpoint").is_file():
        return path / "checkpoint"
    steps = sorted(
        path.glob("step_*"), key=lambda p: int(p.name.split("_")[1]) if p.name.split("_")[1].isdigit() else -1
    )
    if not steps:
        raise FileNotFoundError(f"{path} holds neither a `checkpoint` nor a `step_N` file.")
    return steps[-1]


def read_release_state(checkpoint_file: Path) -> dict[str, torch.Tensor]:
    """The release's state dict with this model's key names (`convert_state_dict`), read with `weights_only=True` (no
    pickled code runs); a file that is not a dict of tensors with a token embedding is a `ValueError` naming it."""
    import torch

    from ..training.checkpoint import read_part

    state = read_part(checkpoint_file, lambda p: torch.load(p, map_location="cpu", weights_only=True))
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"Checkpoint file {checkpoint_file}: holds a {type(state).__name__}, not a dict of tensors.")
    state = convert_state_dict(state)
    if "embed_tokens.weight" not in state:
        raise ValueError(
            f"Checkpoint file {checkpoint_file}: has no token embedding (`embed_tokens.embedding_weight`); is it an "
            "HRM or TRM checkpoint?"
        )
    return state


def convert_state_dict(release_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the release's keys to this model's, dropping scratch buffers."""
    converted = {}
    for key, tensor in release_state.items():
        key = key.removeprefix("_orig_mod.").removeprefix("model.").removeprefix("inner.")
        if key in DROPPED_KEYS:
            continue
        for pattern, replacement in KEY_RENAMES:
            key = re.sub(pattern, replacement, key)
        converted[key] = tensor
    return converted


def read_arch(config_path: Path) -> tuple[str, dict]:
    """The model family named by the `arch` section of the release's `all_config.yaml` (HRM when it names none), and
    the section's config fields."""
    if not config_path.is_file():
        raise FileNotFoundError(f"The release's `all_config.yaml` is missing: looked for {config_path}.")
    from ..training.checkpoint import read_part

    content = read_part(config_path, lambda p: yaml.safe_load(p.read_text()))
    if not isinstance(content, dict) or not isinstance(content.get("arch"), dict):
        raise ValueError(f"{config_path}: has no `arch:` section of architecture fields.")
    arch = dict(content["arch"])
    name = arch.pop("name", None)
    family = "hrm" if name is None else RELEASE_ARCHS.get(str(name).split("@")[0])
    if family is None:
        known = ", ".join(f"{module}@..." for module in RELEASE_ARCHS)
        raise ValueError(f"{config_path}: arch name {name!r} is not a model this converter knows ({known}).")
    loss = arch.pop("loss", {}) or {}
    if "loss_type" in loss:
        arch["loss_type"] = loss["loss_type"]
    return family, arch


def infer_data_fields(
    state: dict[str, torch.Tensor], config_class: type[PreTrainedConfig], arch: dict, task: str | None
) -> dict:
    """`vocab_size`, `num_puzzle_identifiers` and `seq_len` read off the tensor shapes (and `--task` when no tensor
    counts the positions, as with RoPE)."""
    fields = {"vocab_size": state["embed_tokens.weight"].shape[0]}
    if "puzzle_emb.weight" in state:
        fields["num_puzzle_identifiers"] = state["puzzle_emb.weight"].shape[0]
    positions = next((state[name].shape[0] for name in POSITION_TENSORS if name in state), None)
    if positions is not None:
        fields["seq_len"] = positions - config_class(**arch).puzzle_emb_len
    elif task is not None:
        fields["seq_len"] = PUZZLE_TYPES[task].release_seq_len
    return fields


def build_config(
    checkpoint_file: Path, state: dict[str, torch.Tensor], overrides: dict, task: str | None
) -> tuple[str, PreTrainedConfig]:
    """The family `all_config.yaml` names and its config, from the file's fields, with data sizes from flags,
    `dataset.json` or the tensor shapes."""
    from ..training.families import MODEL_FAMILIES

    family, arch = read_arch(checkpoint_file.parent / "all_config.yaml")
    config_class = MODEL_FAMILIES[family].config_class
    dataset_json = checkpoint_file.parent / "dataset.json"
    from ..training.checkpoint import read_part

    from_dataset = read_part(dataset_json, lambda p: json.loads(p.read_text())) if dataset_json.is_file() else {}
    if not isinstance(from_dataset, dict):
        raise ValueError(f"{dataset_json}: must hold a JSON object, got {type(from_dataset).__name__}.")
    from_shapes = infer_data_fields(state, config_class, arch, task)
    data = {}
    for name in DATA_FIELDS:
        for source in (overrides, from_dataset, from_shapes):
            if source.get(name) is not None:
                data[name] = source[name]
                break
    missing = [name for name in DATA_FIELDS if name not in data]
    if "num_puzzle_identifiers" in missing and arch.get("puzzle_emb_ndim", 1) == 0:
        data["num_puzzle_identifiers"] = 1  # no table, so the count does not matter
        missing.remove("num_puzzle_identifiers")
    if missing:
        flags = ", ".join(f"--{name.replace('_', '-')}" for name in missing)
        raise ValueError(
            f"Cannot tell {missing} for {checkpoint_file}: no dataset.json beside it and the tensor shapes do not say. "
            f"Pass {flags}" + (" (or --task sudoku|maze|arc for seq_len)." if "seq_len" in missing else ".")
        )
    return family, config_class(**arch, **data)


def convert_checkpoint(
    checkpoint: str | Path, overrides: dict | None = None, task: str | None = None
) -> PreTrainedModel:
    """Load an authors' checkpoint (file or folder) into an [`HrmActModel`] or a [`TrmModel`], as its
    `all_config.yaml` says, checking every tensor is used."""
    from ..training.families import MODEL_FAMILIES

    checkpoint_file = find_checkpoint_file(Path(checkpoint))
    state = read_release_state(checkpoint_file)
    family, config = build_config(checkpoint_file, state, overrides or {}, task)
    model = MODEL_FAMILIES[family].model_class(config)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:  # missing or unexpected tensors, or shapes that disagree with the data sizes
        problems = "; ".join(line.strip() for line in str(error).splitlines()[1:] if line.strip())
        sizes = ", ".join(f"{name}={getattr(config, name)}" for name in DATA_FIELDS)
        raise ValueError(
            f"{checkpoint_file} does not match the config built from all_config.yaml, dataset.json and the flags "
            f"({sizes}): {problems}"
        ) from None
    return model.eval()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument(
        "checkpoint",
        help="The release's checkpoint file (`checkpoint` or `step_N`) or its folder, or a Hub model repo id "
        "holding them (e.g. sapientinc/HRM-checkpoint-sudoku-extreme).",
    )
    parser.add_argument(
        "--source-revision", metavar="REV", help="Branch, tag or commit of the checkpoint's Hub repo (default: main)."
    )
    parser.add_argument("--output-dir", required=True, help="Folder to write the Hub-ready model to.")
    parser.add_argument("--task", choices=sorted(PUZZLE_TYPES), help="Puzzle type, to know seq_len for RoPE models.")
    parser.add_argument("--seq-len", type=int, help="Tokens per puzzle (overrides dataset.json).")
    parser.add_argument("--vocab-size", type=int, help="Vocabulary size (overrides dataset.json).")
    parser.add_argument(
        "--num-puzzle-identifiers", type=int, help="Rows of the puzzle table (overrides dataset.json)."
    )
    parser.add_argument(
        "--push-to-hub", metavar="REPO", help="Also push the folder (weights, code, card) to this Hub repo id."
    )
    parser.add_argument("--private", action="store_true", help="Create the pushed repo as private.")
    parser.add_argument("--revision", metavar="BRANCH", help="Branch to push to (created if needed; default: main).")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    output_dir = Path(args.output_dir)
    if output_dir.exists() and (not output_dir.is_dir() or any(output_dir.iterdir())):
        raise FileExistsError(f"--output-dir: {args.output_dir!r} is not an empty folder; choose another one.")
    source = resolve(args.checkpoint, "checkpoint", revision=args.source_revision, allow_patterns=RELEASE_FILES)
    overrides = {name: getattr(args, name) for name in DATA_FIELDS}
    model = convert_checkpoint(source.path, overrides, args.task)
    command = shlex.join(["hrm", "convert", *(sys.argv[1:] if argv is None else argv)])
    from ..evaluation.model_folder import write_model_folder
    from ..hub import push_folder

    write_model_folder(model, output_dir, command=command, repo_id=args.push_to_hub, base_model=source.repo_id)
    print(f"Saved {model.num_parameters():,} parameters and config to {args.output_dir}")
    if args.push_to_hub:
        url = push_folder(Path(args.output_dir), args.push_to_hub, private=args.private, revision=args.revision)
        print(f"Pushed to {url}")


if __name__ == "__main__":
    main()
