"""Atomic checkpoints of the whole training state, their rotation, and finding the one to resume from.

A checkpoint is written into `checkpoints/.tmp-step-N`, ends with a completion marker written last, and is renamed to
`checkpoints/step-N` only once every rank has finished writing, so `latest` never picks a partial folder. Rewriting an
existing `step-N` moves the old folder aside first and deletes it only after the new one is in place; a run killed in
between is repaired at the next start (`recover_checkpoints`), and stale `.tmp-*`/`.old-*` folders are removed then.

A checkpoint holds Accelerate's state (model with the puzzle table in safetensors, Adam-atan2, every rank's RNG
states), the trainer's own objects (schedules, sampler, sparse optimizer, EMA), each rank's ACT carry in safetensors,
the trainer counters and the resolved config. Nothing in it can run code on load: Accelerate reads its files with
`weights_only=True`, and the trainer's objects are read with `weights_only=True` too, which Accelerate's
`register_for_checkpointing` would not do (it unpickles them in full).
"""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path
from typing import Any

import torch
import yaml
from accelerate import Accelerator
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import one_line_message
from ..folders import checked_target, remove
from ..modeling_hrm import HrmActCarry
from ..records import check_record
from .config import TrainConfig


CHECKPOINT_PATTERN = re.compile(r"^step-(\d+)$")
TRAINER_STATE = "trainer_state.json"
CONFIG_FILE = "train_config.yaml"
TRAINER_OBJECTS = "trainer_objects.pt"
COMPLETE_MARKER = "checkpoint_complete"
# The fields of `trainer_state.json` the trainer reads back, with their JSON kinds (`records.KINDS`).
TRAINER_STATE_FIELDS = {
    "step": "int", "nonfinite_in_a_row": "int", "nonfinite_total": "int", "num_processes": "int", "best": "dict",
    "stop_reason": "str", "evaluated_step": "int",
}  # fmt: skip
BEST_FIELDS = {"value": ("number", None), "step": "int", "evaluations_since": "int"}


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (a full disk, most often); its temporary folder is gone."""


def checkpoints_dir(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def is_complete(folder: Path) -> bool:
    return (folder / COMPLETE_MARKER).is_file()


def is_checkpoint(folder: Path) -> bool:
    """Whether `folder` is a training checkpoint (complete or not), by the files only a checkpoint holds."""
    return any((folder / name).is_file() for name in (COMPLETE_MARKER, TRAINER_STATE, TRAINER_OBJECTS))


def list_checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete checkpoints under `output_dir`, oldest first."""
    root = checkpoints_dir(output_dir)
    if not root.is_dir():
        return []
    found = [
        (int(m.group(1)), p) for p in root.iterdir() if (m := CHECKPOINT_PATTERN.match(p.name)) and is_complete(p)
    ]
    return [path for _, path in sorted(found)]


def recover_checkpoints(output_dir: str | Path) -> None:
    """Finish a checkpoint rewrite a kill interrupted, then remove what interrupted writes left behind.

    A complete `.tmp-step-N` (or, failing that, the `.old-step-N` moved aside) whose `step-N` is missing or partial
    becomes `step-N`; every other `.tmp-*` and `.old-*` folder is deleted. Call on the main process only.
    """
    root = checkpoints_dir(output_dir)
    if not root.is_dir():
        return
    for prefix in (".tmp-", ".old-"):
        for leftover in sorted(root.glob(f"{prefix}step-*")):
            final = root / leftover.name.removeprefix(prefix)
            if is_complete(leftover) and not is_complete(final):
                remove(final)
                leftover.rename(final)
    for stale in [*root.glob(".tmp-*"), *root.glob(".old-*")]:
        remove(stale)


def resolve_checkpoint(spec: str, output_dir: str | Path) -> Path:
    """`latest` (the newest complete checkpoint under `output_dir`) or an explicit checkpoint folder."""
    if spec == "latest":
        found = list_checkpoints(output_dir)
        if not found:
            raise FileNotFoundError(
                f"--resume-from-checkpoint latest: no checkpoint under {checkpoints_dir(output_dir)}."
            )
        return found[-1]
    path = Path(spec)
    if not is_complete(path):
        raise FileNotFoundError(
            f"--resume-from-checkpoint {spec}: not a complete checkpoint (no {COMPLETE_MARKER} marker)."
        )
    return path


def carry_file(folder: Path, rank: int) -> Path:
    return folder / f"carry_{rank}.safetensors"


def save_carry(carry: HrmActCarry | None, path: Path) -> None:
    """The carry's tensors in safetensors, the names of its `current_data` in the file's metadata (JSON)."""
    if carry is None:
        save_file({}, path, metadata={"carry": "none"})
        return
    tensors = {"z_H": carry.z_H, "z_L": carry.z_L, "steps": carry.steps, "halted": carry.halted}
    tensors |= {f"current_data.{name}": value for name, value in carry.current_data.items()}
    save_file(
        {k: v.detach().contiguous() for k, v in tensors.items()},
        path,
        metadata={"carry": "HrmActCarry", "current_data": json.dumps(sorted(carry.current_data))},
    )


def load_carry(path: Path, device: torch.device) -> HrmActCarry | None:
    """The carry `save_carry` wrote."""
    from safetensors import safe_open

    with safe_open(path, framework="pt") as handle:
        metadata = handle.metadata() or {}
    if metadata.get("carry") == "none":
        return None
    tensors = load_file(path, device=str(device))
    names = json.loads(metadata["current_data"])
    return HrmActCarry(
        tensors["z_H"], tensors["z_L"], tensors["steps"], tensors["halted"],
        {name: tensors[f"current_data.{name}"] for name in names},
    )  # fmt: skip


def set_aside(folder: Path, aside: Path) -> None:
    """Move `folder` to `aside` (replacing what an earlier interrupted rewrite left there), so that a checkpoint is
    rewritten without a moment where neither its old nor its new folder is complete."""
    remove(aside)
    folder.rename(aside)


def save_checkpoint(
    accelerator: Accelerator,
    config: TrainConfig,
    step: int,
    trainer_state: dict[str, Any],
    carry: HrmActCarry | None,
    objects: dict[str, Any],
) -> Path:
    """Write the checkpoint of `step` atomically on every rank, then drop all but the newest `keep_last`.

    `objects` are the trainer's stateful objects by name (each with `state_dict`/`load_state_dict`); their state
    dicts must hold only tensors, numbers, strings, lists and dicts, so that they load with `weights_only=True`.
    """
    root = checkpoints_dir(config.output_dir)
    final, tmp, old = root / f"step-{step}", root / f".tmp-step-{step}", root / f".old-step-{step}"
    if accelerator.is_main_process:
        checked_target(config.output_dir, tmp.relative_to(config.output_dir))  # a link never takes the writes away
        remove(tmp)
    try:
        if accelerator.is_main_process:
            tmp.mkdir(parents=True)
        accelerator.wait_for_everyone()
        accelerator.save_state(str(tmp))
        save_carry(carry, carry_file(tmp, accelerator.process_index))
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            torch.save({name: obj.state_dict() for name, obj in objects.items()}, tmp / TRAINER_OBJECTS)
            config.save(tmp / CONFIG_FILE)
            (tmp / TRAINER_STATE).write_text(json.dumps({"step": step, **trainer_state}, indent=2))
            (tmp / COMPLETE_MARKER).write_text(f"step {step}\n")
    except (OSError, RuntimeError, SafetensorError) as error:  # a full disk: torch and safetensors word it their way
        if accelerator.is_main_process:
            remove(tmp)
        raise CheckpointWriteError(
            f"Checkpoint {final} could not be written ({one_line_message(error)}); nothing of it is kept, and the "
            "checkpoints written before are as they were."
        ) from error
    if accelerator.is_main_process:
        if final.exists():
            set_aside(final, old)
        tmp.rename(final)
        remove(old)
        if config.keep_last:
            for stale in list_checkpoints(config.output_dir)[: -config.keep_last]:
                remove(stale)
    accelerator.wait_for_everyone()
    return final


def load_checkpoint(
    accelerator: Accelerator, config: TrainConfig, folder: Path, objects: dict[str, Any]
) -> tuple[dict[str, Any], HrmActCarry | None]:
    """Restore everything `save_checkpoint` wrote into the accelerator's objects and `objects`; returns (trainer
    state, this rank's carry).

    Raises `ValueError` if the checkpoint was written by a run whose config differs in a field that matters, or if
    one of its files cannot be read.
    """
    saved = TrainConfig.from_dict(read_part(folder / CONFIG_FILE, lambda p: yaml.safe_load(p.read_text())))
    differences = config.differences(saved)
    if differences:
        raise ValueError(
            f"Checkpoint {folder} was written by a different training config; differing fields "
            f"(checkpoint -> this run): {'; '.join(differences)}."
        )
    carry_path = carry_file(folder, accelerator.process_index)
    if not carry_path.is_file():
        raise ValueError(f"Checkpoint {folder} has no {carry_path.name}: it was written by fewer processes.")
    try:
        accelerator.load_state(str(folder))
    except RuntimeError as error:
        if "size mismatch" not in str(error):
            raise ValueError(f"Checkpoint {folder}: cannot be read ({one_line_message(error)}).") from error
        mismatch = next(line.strip() for line in str(error).splitlines() if "size mismatch" in line)
        raise ValueError(
            f"Checkpoint {folder}: its model's sizes do not fit this run's ({mismatch}); was the dataset at "
            f"{config.data_path!r} rebuilt since the checkpoint was written?"
        ) from error
    except (OSError, EOFError, SafetensorError, KeyError) as error:
        raise ValueError(f"Checkpoint {folder}: cannot be read ({one_line_message(error)}).") from error
    states = read_part(folder / TRAINER_OBJECTS, lambda p: torch.load(p, map_location="cpu", weights_only=True))
    if not isinstance(states, dict) or set(states) != set(objects):
        raise ValueError(f"Checkpoint file {folder / TRAINER_OBJECTS}: holds no state for {sorted(objects)}.")
    for name, obj in objects.items():
        obj.load_state_dict(states[name])
    carry = read_part(carry_path, lambda p: load_carry(p, accelerator.device))
    return read_trainer_state(folder / TRAINER_STATE), carry


def read_trainer_state(path: Path) -> dict[str, Any]:
    """The trainer counters `save_checkpoint` wrote, each field checked for its type and range."""
    state = check_record(read_part(path, lambda p: json.loads(p.read_text())), TRAINER_STATE_FIELDS, str(path))
    check_record(state["best"], BEST_FIELDS, f"{path}: field `best`")
    for name in ("step", "nonfinite_in_a_row", "nonfinite_total"):
        if state[name] < 0:
            raise ValueError(f"{path}: field `{name}` must be >= 0, got {state[name]!r}.")
    if state["num_processes"] < 1:
        raise ValueError(f"{path}: field `num_processes` must be >= 1, got {state['num_processes']!r}.")
    return state


def read_part(path: Path, read: Any) -> Any:
    """`read(path)`, with any failure to read or parse it (truncated, corrupt, wrong kind) as one `ValueError`
    naming the file."""
    try:
        return read(path)
    except (
        OSError,
        RuntimeError,
        ValueError,
        KeyError,
        TypeError,
        EOFError,
        pickle.UnpicklingError,
        SafetensorError,
        yaml.YAMLError,
    ) as error:
        raise ValueError(f"Checkpoint file {path}: cannot be read ({one_line_message(error)}).") from error
