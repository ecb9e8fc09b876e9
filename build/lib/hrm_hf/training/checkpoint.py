"""Atomic checkpoints of the whole training state, their rotation, and finding the one to resume from.

A checkpoint is written into `checkpoints/.tmp-step-N` and renamed to `checkpoints/step-N` only once every rank has
finished writing, so a killed run never leaves a folder that resumption would pick. It holds Accelerate's state
(model with the puzzle table, Adam-atan2, the objects registered for checkpointing, every rank's RNG states), each
rank's ACT carry, the trainer counters and the resolved config.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import torch
import yaml
from accelerate import Accelerator

from .config import TrainConfig


CHECKPOINT_PATTERN = re.compile(r"^step-(\d+)$")
TRAINER_STATE = "trainer_state.json"
CONFIG_FILE = "train_config.yaml"


def checkpoints_dir(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def list_checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete checkpoints under `output_dir`, oldest first."""
    root = checkpoints_dir(output_dir)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := CHECKPOINT_PATTERN.match(p.name)) and p.is_dir()]
    return [path for _, path in sorted(found)]


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
    if not (path / TRAINER_STATE).is_file():
        raise FileNotFoundError(f"--resume-from-checkpoint {spec}: not a complete checkpoint (no {TRAINER_STATE}).")
    return path


def carry_file(folder: Path, rank: int) -> Path:
    return folder / f"carry_{rank}.pt"


def save_checkpoint(
    accelerator: Accelerator, config: TrainConfig, step: int, trainer_state: dict[str, Any], carry: Any
) -> Path:
    """Write the checkpoint of `step` atomically on every rank, then drop all but the newest `keep_last`."""
    root = checkpoints_dir(config.output_dir)
    final, tmp = root / f"step-{step}", root / f".tmp-step-{step}"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    torch.save(carry, carry_file(tmp, accelerator.process_index))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        config.save(tmp / CONFIG_FILE)
        (tmp / TRAINER_STATE).write_text(json.dumps({"step": step, **trainer_state}, indent=2))
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        if config.keep_last:
            for old in list_checkpoints(config.output_dir)[: -config.keep_last]:
                shutil.rmtree(old)
    accelerator.wait_for_everyone()
    return final


def load_checkpoint(accelerator: Accelerator, config: TrainConfig, folder: Path) -> tuple[dict[str, Any], Any]:
    """Restore everything `save_checkpoint` wrote; returns (trainer state, this rank's carry).

    Raises `ValueError` if the checkpoint was written by a run whose config differs in a field that matters.
    """
    saved = TrainConfig.from_dict(yaml.safe_load((folder / CONFIG_FILE).read_text()))
    differences = config.differences(saved)
    if differences:
        raise ValueError(
            f"Checkpoint {folder} was written by a different training config; differing fields "
            f"(checkpoint -> this run): {'; '.join(differences)}."
        )
    carry_path = carry_file(folder, accelerator.process_index)
    if not carry_path.is_file():
        raise ValueError(f"Checkpoint {folder} has no {carry_path.name}: it was written by fewer processes.")
    accelerator.load_state(str(folder))
    carry = torch.load(carry_path, map_location=accelerator.device, weights_only=False)
    return json.loads((folder / TRAINER_STATE).read_text()), carry
