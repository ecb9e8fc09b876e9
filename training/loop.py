"""The training loop: Accelerate's examples' shape, with the ACT carry and sparse puzzle-embedding optimizer of the
model families (HRM, TRM), which share the forward/carry protocol.

One optimizer step per ACT segment; the carry lives across steps (halted rows take fresh examples from the next
batch). Like the release, the data comes in iterations of `eval_interval` epochs, the model is evaluated after each
(from the `min_eval_interval`-th on), and the run ends when the iterations end or at the schedule's last step,
whichever comes first. Each rank's loss is its summed segment loss over its local batch size, and DDP averages the
ranks, so the dense gradients are the release's (sum over the global batch / global batch size). The puzzle table is
never all-reduced: every rank gathers all ranks' (ids, row gradients) and applies the same SignSGD update.

What the TRM authors' trainer adds is here too: an EMA of the trained weights from which every evaluation and the saved
model are taken, training the puzzle table alone (`freeze_weights`), `init_from` a model whose table has another size,
and several training datasets with separate test datasets.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.logging import get_logger
from accelerate.utils import is_tensorboard_available, is_trackio_available, is_wandb_available, set_seed
from datasets import DatasetDict
from tqdm.auto import tqdm
from transformers import PreTrainedModel

from ..data.metadata import PuzzleDatasetMetadata
from ..data.sampler import TrainBatchSampler
from ..data.storage import (
    check_ids_fit,
    check_shared_fields,
    concatenate_puzzle_datasets,
    load_puzzle_dataset,
    resolve_puzzle_dataset,
)
from ..errors import one_line_message
from ..evaluation.evaluator import evaluate_split
from ..folders import Claim, claim_folder, refuse_same, remove, write_file
from ..hub import prepare_push, push_folder
from .checkpoint import (
    checkpoints_dir,
    load_checkpoint,
    recover_checkpoints,
    resolve_checkpoint,
    save_checkpoint,
)
from .config import TRAIN_METRICS, ConfigError, RunConfig, TrainConfig, stop_when_rule
from .ema import EMA
from .model_folder import push_message, save_model_folder
from .optim import AdamAtan2, SparseSignSGD, make_schedule


logger = get_logger(__name__)
# Logged like the release's: losses are summed over the batch and divided by the global batch size (so `lm_loss` is
# the per-row loss times the fraction of rows that have labels), the others averaged over the rows that halted.
PER_BATCH_ROW_METRICS = ("lm_loss", "q_halt_loss", "q_continue_loss")
# Fields of the training config that may differ from an `init_from` model's: they change training, not the weights, or
# (the puzzle table's size) are reset from the model's as the authors' fine-tuning on new puzzles does.
INIT_FROM_FREE_FIELDS = ("halt_exploration_prob", "num_puzzle_identifiers")


class NonFiniteModelError(ValueError):
    """The weights about to be saved as the model hold NaN or inf: nothing is written or pushed."""


class PushFailedError(OSError):
    """Training finished and the model folder is saved, but its upload failed: `hrm train` exits with 3."""

    exit_code = 3


@dataclass
class TrainResult:
    """What a finished run leaves: the saved model folder, the last evaluation's metrics and the step count."""

    model_dir: Path
    metrics: dict[str, float]
    step: int


TRACKER_AVAILABLE = {
    "tensorboard": is_tensorboard_available,
    "trackio": is_trackio_available,
    "wandb": is_wandb_available,
}


def create_accelerator(config: RunConfig) -> Accelerator:
    """One Accelerator for the run, on the CPU when asked or when there is no GPU, without mixed precision.

    The model's precision is `forward_dtype`: autocast from a launcher's `--mixed_precision` would silently change the
    numbers (or crash under fp16 with bfloat16 compute), so such a launch is refused. Without `cpu=True` on a GPU-less
    machine, Accelerate gives every launched process a world of its own, each silently training alone; this makes the
    CPU explicit and refuses any world smaller than the launcher's.
    """
    for tracker in config.report_to:
        if not TRACKER_AVAILABLE[tracker]():
            raise ConfigError(
                f"Training config field `report_to`: the tracker {tracker!r} is not installed "
                f"(pip install 'hrm-hf[{tracker}]')."
            )
    launcher_precision = os.environ.get("ACCELERATE_MIXED_PRECISION", "no")
    if launcher_precision != "no":
        raise ConfigError(
            f"The launcher asks for mixed precision {launcher_precision!r}; HRM computes in its own --forward-dtype "
            "(bfloat16 or float32): launch with --mixed_precision no and set --forward-dtype instead."
        )
    accelerator = Accelerator(
        cpu=config.cpu or not torch.cuda.is_available(),
        mixed_precision="no",
        log_with=config.report_to or None,
        project_dir=config.output_dir,
        dynamo_backend="inductor" if config.compile else None,
    )
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if accelerator.num_processes != launched:
        raise RuntimeError(
            f"The launcher started {launched} processes but Accelerate sees a world of {accelerator.num_processes}: "
            "on a machine without GPUs launch with `accelerate launch --cpu` (or set ACCELERATE_USE_CPU=1)."
        )
    if config.global_batch_size % accelerator.num_processes:
        raise ConfigError(
            f"Training config field `global_batch_size` ({config.global_batch_size}) must divide by the number of "
            f"processes ({accelerator.num_processes})."
        )
    return accelerator


def tracker_config(config: TrainConfig) -> dict[str, Any]:
    """The run's fields as the flat scalar values every tracker stores (`arch.FIELD`, lists joined by commas)."""
    return {k: ",".join(v) if isinstance(v, list) else v for k, v in config.to_flat_dict().items()}


def tracker_init_kwargs(config: TrainConfig) -> dict[str, dict[str, Any]]:
    """The run name, in each tracker's own keyword."""
    if config.run_name is None:
        return {}
    return {"wandb": {"name": config.run_name}, "trackio": {"name": config.run_name}}


def load_splits(
    path: str, option: str, splits: tuple[str, ...]
) -> tuple[DatasetDict, dict[str, PuzzleDatasetMetadata]]:
    """The `splits` of the dataset at `path` (the value of the config field `option`) and their metadata, with a
    clear error when the path does not hold one or lacks a split.

    `path` is resolved by the Hub rule (`hub.hub_repo_id`): a local folder wins, a missing `owner/name` is a Hub
    dataset repo (announced with its commit), any other missing path is an error.
    """
    try:
        dataset, metadata = load_puzzle_dataset(resolve_puzzle_dataset(path, f"Training config field `{option}`"))
    except (FileNotFoundError, NotADirectoryError) as error:
        raise FileNotFoundError(
            f"{error} Build it with `hrm build-dataset`, or give a Hub dataset repo id `owner/name`."
        ) from error
    for split in splits:
        if split not in metadata:
            raise ValueError(f"The dataset at {path!r} has no {split!r} split (it has {sorted(metadata)}).")
    return DatasetDict({split: dataset[split] for split in splits}), {split: metadata[split] for split in splits}


def load_datasets(
    paths: list[tuple[str, str]], splits: tuple[str, ...]
) -> tuple[DatasetDict, dict[str, PuzzleDatasetMetadata], list[int]]:
    """The `splits` of the datasets `(option, path)` as one (`concatenate_puzzle_datasets`), and the group count of
    each dataset's first split when there are several (one dataset is one set: [])."""
    parts = [load_splits(path, option, splits) for option, path in paths]
    if len(parts) == 1:
        return *parts[0], []
    groups = [metadata[splits[0]].total_groups for _, metadata in parts]
    return *concatenate_puzzle_datasets(parts, [path for _, path in paths]), groups


def load_data(config: RunConfig) -> tuple[DatasetDict, dict[str, PuzzleDatasetMetadata], list[int]]:
    """The train split of `data_path` and `extra_data_paths`, the test split of `test_data_paths` (or of the training
    datasets), their metadata, and the group count of each training dataset (the sampler's sets)."""
    training = [("data_path", config.data_path), *(("extra_data_paths", path) for path in config.extra_data_paths)]
    testing = [("test_data_paths", path) for path in config.test_data_paths]
    dataset, metadata, set_groups = load_datasets(training, ("train",) if testing else ("train", "test"))
    if testing:
        test_data, test_metadata, _ = load_datasets(testing, ("test",))
        check_shared_fields(metadata["train"], test_metadata["test"], (config.data_path, config.test_data_paths[0]))
        dataset["test"], metadata["test"] = test_data["test"], test_metadata["test"]
    check_splits(dataset, metadata, config.data_path, ", ".join(config.test_data_paths) or None)
    return dataset, metadata, set_groups


def check_splits(dataset, metadata: dict[str, PuzzleDatasetMetadata], name: str, test_name: str | None = None) -> None:
    """Both splits present, their ids inside the vocabulary and the puzzle table of the training split (the test
    split's ids index that table too): the training forward checks no id values, so every dataset a run trains on,
    loaded or handed in, is checked here once. `test_name` names the test split's datasets when they are others."""
    for split in ("train", "test"):
        if split not in metadata:
            raise ValueError(f"The dataset at {name!r} has no {split!r} split (it has {sorted(metadata)}).")
    table_size = metadata["train"].num_puzzle_identifiers
    for split in ("train", "test"):
        sized = dataclasses.replace(metadata[split], num_puzzle_identifiers=table_size)
        check_ids_fit(dataset[split], sized, test_name if split == "test" and test_name else name)


def claim_output_dir(config: RunConfig, is_main_process: bool, command: str = "") -> Claim | None:
    """Make `output_dir` this run's. The main process claims it (a second run into it is refused while this one
    holds it); unless resuming, a folder that holds another run (its model or checkpoints) is refused (on every rank,
    so that all stop together) unless `overwrite_output_dir`, which drops its checkpoints (a link in their place is
    unlinked, never followed) so that rotation and `latest` only ever see this run's. The main process then repairs
    an interrupted checkpoint rewrite and drops stale temporary folders. Returns the main process's claim."""
    field = "Training config field `output_dir`"
    out = Path(config.output_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{field}: {config.output_dir!r} is a file, not a folder.")
    inputs = {"data_path": config.data_path, "init_from": config.init_from}
    for name in ("extra_data_paths", "test_data_paths"):
        inputs |= {f"{name}[{i}]": path for i, path in enumerate(getattr(config, name))}
    refuse_same(out, field, inputs)  # a run writing into a folder it reads would clean or mix into it
    checkpoints = checkpoints_dir(out)
    held = [
        p.name
        for p in (out / "model", checkpoints)
        if p.is_dir() and any(not entry.name.startswith(".tmp-") for entry in p.iterdir())
    ]
    if held and not (config.resume_from_checkpoint or config.overwrite_output_dir):
        raise ConfigError(
            f"{field}: {config.output_dir!r} holds another run ({', '.join(held)}); "
            "resume it with --resume-from-checkpoint latest, choose another --output-dir, or pass "
            "--overwrite-output-dir to replace it."
        )
    if not is_main_process:
        return None
    claim = claim_folder(out, field, command or None)
    try:
        if config.resume_from_checkpoint:
            if checkpoints.is_symlink():
                raise ConfigError(
                    f"{field}: {checkpoints} is a symbolic link; checkpoints are written only into a real folder."
                )
            recover_checkpoints(out)
        else:
            remove(checkpoints)
    except BaseException:
        claim.release()
        raise
    return claim


def prepare_run(config: RunConfig, command: str = "") -> tuple[Accelerator, Claim | None]:
    """The run's accelerator, once `output_dir` is this run's on every rank (with the main process's claim on it),
    with the asked torch thread count."""
    accelerator = create_accelerator(config)
    claim = claim_output_dir(config, accelerator.is_main_process, command)
    accelerator.wait_for_everyone()
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    return accelerator, claim


def nonfinite_tensors(model: torch.nn.Module) -> list[str]:
    """Names of the model's parameters and buffers that hold NaN or inf."""
    return [
        name for name, value in model.state_dict().items() if value.is_floating_point() and not value.isfinite().all()
    ]


def data_sizes(metadata: PuzzleDatasetMetadata) -> dict[str, int]:
    """The model config fields that the dataset decides: vocabulary, sequence length and puzzle table."""
    return {
        "vocab_size": metadata.vocab_size,
        "seq_len": metadata.seq_len,
        "num_puzzle_identifiers": metadata.num_puzzle_identifiers,
        "blank_puzzle_id": metadata.blank_identifier_id,
    }


def build_model(config: TrainConfig, metadata: PuzzleDatasetMetadata) -> PreTrainedModel:
    """A freshly initialised model of the config's family, sized for the dataset (or `init_from`'s weights)."""
    model_config = config.model_config(**data_sizes(metadata))
    model = config.family.model_class(model_config)
    if config.init_from:
        checked = [*dataclasses.asdict(config.arch), *data_sizes(metadata)]
        model.load_state_dict(initial_weights(config.init_from, model, checked))
    return model


def puzzle_table_key(model: PreTrainedModel) -> str | None:
    """The state-dict name of the model's puzzle-embedding table, None when it has none."""
    table = getattr(getattr(model, "puzzle_emb", None), "weight", None)
    return next((name for name, buffer in model.named_buffers() if buffer is table), None)


def initial_weights(folder: str, model: PreTrainedModel, checked: list[str]) -> dict[str, torch.Tensor]:
    """The state dict of the model folder `folder`, after checking that the `checked` fields of its config
    (architecture and data sizes) are `model`'s. A puzzle table of another size (another set of puzzles: the
    authors' fine-tuning on new ones) is replaced, as their `load_checkpoint` does, by its mean row in every row of
    `model`'s table."""
    if not (Path(folder) / "config.json").is_file():
        raise FileNotFoundError(
            f"Training config field `init_from`: no model folder (config.json) at {folder!r}; convert an authors' "
            "checkpoint with `hrm convert` first."
        )
    source, wanted = type(model).from_pretrained(folder), model.config
    for name in checked:
        if name not in INIT_FROM_FREE_FIELDS and getattr(source.config, name) != getattr(wanted, name):
            raise ValueError(
                f"Training config field `init_from`: the model at {folder!r} has {name}="
                f"{getattr(source.config, name)!r}, this run {getattr(wanted, name)!r}."
            )
    weights, key = source.state_dict(), puzzle_table_key(model)
    if key is not None and weights[key].shape != model.state_dict()[key].shape:
        shape = model.state_dict()[key].shape
        logger.warning(
            f"init_from: puzzle table of {tuple(weights[key].shape)} reset to its mean row for {tuple(shape)}."
        )
        weights[key] = weights[key].mean(dim=0, keepdim=True).expand(shape).contiguous()
    return weights


def total_steps(config: RunConfig, metadata: PuzzleDatasetMetadata) -> int:
    """`max_steps`, or the release's estimate `epochs * total_groups * mean_puzzle_examples / global_batch_size`."""
    if config.max_steps is not None:
        return config.max_steps
    return max(
        1, int(config.epochs * metadata.total_groups * metadata.mean_puzzle_examples / config.global_batch_size)
    )


class Trainer:
    """Holds the run's objects; `fit()` trains, evaluates, checkpoints and writes the model folder."""

    def __init__(self, config: TrainConfig, dataset=None, command: str = ""):
        self.config, self.command = config, command
        self.accelerator, self.claim = prepare_run(config, command)  # released by `train`, or with the trainer
        try:
            self.start(dataset)
        except BaseException:  # the output folder is free again for the next run
            if self.claim is not None:
                self.claim.release()
            raise

    def start(self, dataset) -> None:
        """The run's data, model, optimizers, counters and pusher, the resumed state, and the trackers."""
        config = self.config
        if dataset is None:
            dataset, metadata, self.set_groups = load_data(config)
        else:  # one dataset, handed in
            (dataset, metadata), self.set_groups = dataset, []
            check_splits(dataset, metadata, config.data_path)
        self.dataset, self.metadata = dataset, metadata
        self.max_steps = total_steps(config, self.metadata["train"])
        self.total_iters = config.epochs // config.eval_interval
        self.prepare_training()
        self.step = self.nonfinite_in_a_row = self.nonfinite_total = 0
        self.nonfinite_pending: list[tuple[int, torch.Tensor]] = []  # (step, skipped?) not yet read back
        self.carry = None
        self.lr = self.schedule_rate()  # the rate of the last step taken
        # Early stopping: the best watched metric so far, its step, evaluations since, and why the run stopped.
        self.best: dict[str, Any] = {"value": None, "step": 0, "evaluations_since": 0}
        self.stop_reason = ""
        self.last_eval: tuple[int, dict[str, float]] = (-1, {})  # step and metrics of the last evaluation
        self.evaluation_due = False  # resumed from a checkpoint taken at an iteration's end before its evaluation
        self.pusher = None
        if config.push_to_hub and self.accelerator.is_main_process:  # creates the repo: a bad token fails now
            self.pusher = prepare_push(
                config.push_to_hub, Path(config.output_dir) / ".push", private=config.private,
                revision=config.revision, in_background=config.push_every_checkpoint,
            )  # fmt: skip
        if config.resume_from_checkpoint:
            self.resume(resolve_checkpoint(config.resume_from_checkpoint, config.output_dir))
        if config.report_to:
            self.accelerator.init_trackers(
                config.project_name, config=tracker_config(config), init_kwargs=tracker_init_kwargs(config)
            )

    def prepare_training(self) -> None:
        """The model, both optimizers with their schedules, the sampler and the EMA, placed by the accelerator; and
        `checkpointed`, the trainer's objects that a checkpoint saves."""
        config, accelerator, train_meta = self.config, self.accelerator, self.metadata["train"]
        set_seed(config.seed)  # identical initialisation on every rank
        model = build_model(config, train_meta)
        self.dense = self.dense_schedule = None
        if config.freeze_weights:
            if not hasattr(model, "puzzle_emb"):
                raise ConfigError(
                    "Training config field `freeze_weights`: the model has no puzzle embeddings to train "
                    f"(arch.puzzle_emb_ndim={model.config.puzzle_emb_ndim!r})."
                )
            # Frozen weights are not parameters being trained: no dense optimizer, no EMA of them, no DDP wrapper.
            model.requires_grad_(False)
            self.model = accelerator.prepare(model)
        else:
            dense = AdamAtan2(
                model.parameters(), lr=config.lr, betas=(config.beta1, config.beta2), weight_decay=config.weight_decay
            )
            self.dense_schedule = make_schedule(dense, config.lr_warmup_steps, self.max_steps, config.lr_min_ratio)
            self.model, self.dense = accelerator.prepare(model, dense)
        self.unwrapped: PreTrainedModel = accelerator.unwrap_model(self.model)
        set_seed(config.seed, device_specific=True)  # halting exploration differs per rank

        self.sampler = TrainBatchSampler(
            self.dataset["train"], train_meta, config.global_batch_size, rank=accelerator.process_index,
            world_size=accelerator.num_processes, seed=config.seed, epochs_per_iter=config.eval_interval,
            set_groups=self.set_groups,
        )  # fmt: skip
        self.sparse = self.sparse_schedule = None
        # Saved by `save_checkpoint` and read back with `weights_only=True`, not registered with Accelerate (which
        # would unpickle them in full on resume).
        self.checkpointed: dict[str, Any] = {"sampler": self.sampler}
        if self.dense_schedule is not None:
            self.checkpointed["dense_schedule"] = self.dense_schedule
        if hasattr(self.unwrapped, "puzzle_emb"):
            # Built after `prepare`, which may have moved the table to another device.
            self.sparse = SparseSignSGD(
                self.unwrapped.puzzle_emb.weight, lr=config.puzzle_emb_lr, weight_decay=config.puzzle_emb_weight_decay
            )
            self.sparse_schedule = make_schedule(
                self.sparse, config.lr_warmup_steps, self.max_steps, config.lr_min_ratio
            )
            self.checkpointed |= {"sparse": self.sparse, "sparse_schedule": self.sparse_schedule}
        self.ema = EMA(self.unwrapped, config.ema_rate) if config.ema else None
        if self.ema is not None:
            self.checkpointed["ema"] = self.ema

    def schedule_rate(self) -> float:
        """The rate the next step takes: the dense optimizer's, or the puzzle table's when the weights are frozen (as
        the authors log the rate of their last optimizer)."""
        schedule = self.dense_schedule if self.dense_schedule is not None else self.sparse_schedule
        return schedule.get_last_lr()[0]

    # ----- state -----
    def trainer_state(self) -> dict[str, Any]:
        return {
            "nonfinite_in_a_row": self.nonfinite_in_a_row,
            "nonfinite_total": self.nonfinite_total,
            "num_processes": self.accelerator.num_processes,
            "best": self.best,
            "stop_reason": self.stop_reason,
            "evaluated_step": self.last_eval[0],
            "dataset_fingerprints": self.dataset_fingerprints(),
        }

    def dataset_fingerprints(self) -> dict[str, str]:
        """The content fingerprint of each split trained and evaluated on (of the first dataset of several)."""
        return {split: metadata.fingerprint for split, metadata in self.metadata.items()}

    def check_same_dataset(self, recorded: dict[str, str], folder: Path) -> None:
        """Refuse a resume on data whose content is not the checkpoint's (a dataset rebuilt in place with other
        puzzles), unless `allow_other_dataset`; a split without a fingerprint (a dataset built before they were
        recorded) is not compared."""
        if self.config.allow_other_dataset:
            return
        for split, now in self.dataset_fingerprints().items():
            then = recorded.get(split, "")
            if then and now and then != now:
                raise ValueError(
                    f"--data-path {self.config.data_path}: its {split} split is not the data checkpoint {folder} was "
                    f"trained on (fingerprint {then[:12]} then, {now[:12]} now; rebuilt?); pass --allow-other-dataset "
                    "to resume on it anyway."
                )

    def checkpoint(self) -> Path:
        self.note_nonfinite_steps()
        folder = save_checkpoint(
            self.accelerator, self.config, self.step, self.trainer_state(), self.carry, self.checkpointed
        )
        if self.pusher is not None:
            self.push_in_background()
        return folder

    def push_in_background(self) -> None:
        """`push_every_checkpoint`: write the model as checkpointed into a folder of its own and queue its upload
        (never a model with non-finite weights)."""
        eval_step, metrics = self.last_eval
        with self.ema.applied() if self.ema is not None else nullcontext():
            self.check_finite()
            folder = save_model_folder(
                self.unwrapped, self.pusher.folder_for(self.step), self.config,
                metrics if eval_step == self.step else {}, self.command, self.metadata["train"],
            )  # fmt: skip
        self.pusher.push(folder, push_message(self.step, self.last_eval))

    def resume(self, folder: Path) -> None:
        state, self.carry = load_checkpoint(self.accelerator, self.config, folder, self.checkpointed)
        if state["num_processes"] != self.accelerator.num_processes:
            raise ValueError(
                f"Checkpoint {folder} was written by {state['num_processes']} processes; resume it with as many "
                f"(this run has {self.accelerator.num_processes})."
            )
        self.check_same_dataset(state.get("dataset_fingerprints") or {}, folder)
        self.step = state["step"]
        self.nonfinite_in_a_row, self.nonfinite_total = state["nonfinite_in_a_row"], state["nonfinite_total"]
        self.best, self.stop_reason = state["best"], state["stop_reason"]
        at_iteration_end = self.sampler.batches_done == 0 and self.sampler.iteration > 0
        self.evaluation_due = at_iteration_end and state["evaluated_step"] != self.step and self.evaluates_now()
        self.lr = self.schedule_rate()
        self.accelerator.print(f"Resumed from {folder} at step {self.step}.")

    # ----- training -----
    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One ACT segment and one update of both optimizers; returns this rank's metric sums (and the loss).

        Nothing is read back to the host: a non-finite loss (on any rank) turns the updates into no-ops on the
        device, its sums into zeros, and is counted and reported by `note_nonfinite_steps` when the loop logs.
        """
        accelerator = self.accelerator
        self.model.train()
        self.unwrapped.size_puzzle_rows(batch["puzzle_identifiers"])  # outside the model, which may be compiled
        out = self.model(**batch, carry=self.carry)
        self.carry = out.carry
        # Summed over ranks, so that every rank skips the same steps.
        skip = accelerator.reduce((~torch.isfinite(out.loss.detach())).float(), reduction="sum") > 0
        self.nonfinite_pending.append((self.step + 1, skip))
        accelerator.backward(out.loss)
        self.lr = self.schedule_rate()
        if self.dense is not None:
            # Called on the wrapped optimizer itself: Accelerate's wrapper passes no arguments on (and, without mixed
            # precision or gradient accumulation, has nothing else to do).
            self.dense.optimizer.step(skip=skip)
            self.dense.zero_grad(set_to_none=True)
            self.dense_schedule.step()
        if self.sparse is not None:
            ids, grads = self.unwrapped.pop_puzzle_emb_grad()
            # Local gradients are of (local sum / local batch); the release's are of (global sum / global batch).
            self.sparse.step(accelerator.gather(ids), accelerator.gather(grads) / accelerator.num_processes, skip)
            self.sparse_schedule.step()
        if self.ema is not None:
            self.ema.update(skip)
        sums = {**out.metrics, "loss": out.loss.detach()}
        return {key: torch.where(skip, 0, value) for key, value in sums.items()}

    def note_nonfinite_steps(self) -> None:
        """Read back which of the steps since the last call had a non-finite loss (one read for all of them), warn
        for each, and stop the run after `max_nonfinite_steps` in a row."""
        if not self.nonfinite_pending:
            return
        steps, flags = zip(*self.nonfinite_pending, strict=True)
        self.nonfinite_pending = []
        for step, was_skipped in zip(steps, torch.stack(flags).tolist(), strict=True):
            if not was_skipped:
                self.nonfinite_in_a_row = 0
                continue
            self.nonfinite_in_a_row += 1
            self.nonfinite_total += 1
            logger.warning(f"Non-finite loss at step {step}: step skipped ({self.nonfinite_in_a_row} in a row).")
            self.accelerator.log({"train/nonfinite_steps": self.nonfinite_total}, step=step - 1)
            if self.nonfinite_in_a_row >= self.config.max_nonfinite_steps:
                raise RuntimeError(
                    f"{self.nonfinite_in_a_row} non-finite losses in a row (max_nonfinite_steps); stopping."
                )

    def log_train(self, sums: dict[str, torch.Tensor], logged_steps: int) -> dict[str, float]:
        """Training metrics since the last log, summed over ranks, normalised as the release's (losses per row of
        the global batch, the others per halted row), averaged over the steps; `train/lr` is the last step's rate."""
        keys = sorted(sums)
        totals = self.accelerator.reduce(torch.stack([sums[k].float() for k in keys]), reduction="sum")
        totals = dict(zip(keys, totals.tolist(), strict=True))
        count = max(totals.pop("count", 0.0), 1.0)
        rows = self.config.global_batch_size * logged_steps
        logs = {
            f"train/{TRAIN_METRICS[k]}": v / (rows if k in PER_BATCH_ROW_METRICS else count)
            for k, v in totals.items()
            if k in TRAIN_METRICS
        }
        logs["train/loss"] = totals.get("loss", 0.0) / logged_steps / self.accelerator.num_processes
        logs["train/lr"] = self.lr
        self.accelerator.log(logs, step=self.step)
        return logs

    def fit(self) -> TrainResult:
        """Train iteration by iteration, evaluating after each, until the iterations or the schedule end (or an
        early-stopping rule fires); then evaluate, checkpoint and write the model folder."""
        config, accelerator = self.config, self.accelerator
        progress = tqdm(
            total=self.max_steps, initial=self.step, disable=not accelerator.is_local_main_process, desc="train"
        )
        sums: dict[str, torch.Tensor] = {}
        logged_steps = 0
        if self.evaluation_due and not self.finished():  # the evaluation a kill after the checkpoint prevented
            self.evaluate_and_save(final=False)
        while not self.finished():
            for batch in self.sampler:
                step_sums = self.train_step({k: v.to(accelerator.device) for k, v in batch.items()})
                self.step += 1
                logged_steps += 1
                for key, value in step_sums.items():
                    sums[key] = sums.get(key, 0) + value
                progress.update(1)
                if self.step % config.log_every == 0:
                    self.note_nonfinite_steps()
                    logs = self.log_train(sums, logged_steps)
                    progress.set_postfix({k.split("/")[1]: f"{v:.3g}" for k, v in logs.items()})
                    self.stop_reason = self.stop_reason or self.threshold_reached(logs)
                    sums, logged_steps = {}, 0
                if config.checkpoint_every and self.step % config.checkpoint_every == 0:
                    self.checkpoint()
                if self.step >= self.max_steps or self.stop_reason:
                    break
            else:  # the sampler has moved on to the next iteration
                if not self.finished() and self.evaluates_now():
                    self.evaluate_and_save(final=False)
        progress.close()
        self.note_nonfinite_steps()
        metrics = self.evaluate_and_save(final=True)
        model_dir = Path(config.output_dir) / "model"
        if self.stop_reason and accelerator.is_main_process:
            self.note_in_card(model_dir, f"Training stopped early at step {self.step}: {self.stop_reason}.")
        try:
            if self.pusher is not None:
                self.push(self.pusher.wait)
            if config.push_to_hub and accelerator.is_main_process:
                self.push(
                    lambda: push_folder(
                        model_dir, config.push_to_hub, private=config.private, revision=config.revision,
                        commit_message=push_message(self.step, self.last_eval),
                    )
                )  # fmt: skip
        finally:
            accelerator.end_training()
        return TrainResult(model_dir=model_dir, metrics=metrics, step=self.step)

    def push(self, upload: Callable[[], Any]) -> None:
        """Run an upload of the model folder; a failure is one `PushFailedError` line saying where the model is and
        how to push it later."""
        config, model_dir = self.config, Path(self.config.output_dir) / "model"
        try:
            upload()
        except Exception as error:  # network, auth or server errors alike: the trained model is safe on disk
            revision = ["--revision", config.revision] if config.revision else []
            later = shlex.join(["hf", "upload", config.push_to_hub, str(model_dir), ".", *revision])
            raise PushFailedError(
                f"training finished but the push to {config.push_to_hub} failed ({one_line_message(error)}); the "
                f"model is saved at {model_dir}; push it later with: {later}"
            ) from error

    def evaluates_now(self) -> bool:
        """Whether the data iteration just finished is evaluated: those from the `min_eval_interval`-th (from 0) on,
        as in the authors' loop."""
        return self.sampler.iteration > self.config.min_eval_interval

    def finished(self) -> bool:
        """Whether the release's loop would have ended (iterations done, schedule done) or a stopping rule fired."""
        return self.step >= self.max_steps or self.sampler.iteration >= self.total_iters or bool(self.stop_reason)

    def threshold_reached(self, logs: dict[str, float]) -> str:
        """Why `stop_when` stops the run given these logged metrics, or "" when it does not."""
        if self.config.stop_when is None:
            return ""
        split, name, relation, value = stop_when_rule(self.config.stop_when)
        logged = logs.get(f"{split}/{name}")
        if logged is None or not (logged >= value if relation == ">=" else logged <= value):
            return ""
        return f"{split}/{name} = {logged:.6g} {relation} {value:g} (stop_when)"

    def evaluate_and_save(self, final: bool) -> dict[str, float]:
        """Evaluate, track the early-stopping metric, checkpoint, and write the model folder when it is due: at the
        end, at every evaluation with `save_model_at_eval`, or (with `early_stopping_metric`) when it improved."""
        if self.last_eval[0] == self.step:  # a stopping rule fired at this step's evaluation: do not repeat it
            metrics, improved = self.last_eval[1], False
        else:
            metrics = self.evaluate()
            self.accelerator.log({f"eval/{k}": v for k, v in metrics.items()}, step=self.step)
            self.accelerator.print(f"step {self.step} eval: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
            improved = self.track_best(metrics)
            self.stop_reason = self.stop_reason or self.threshold_reached({f"eval/{k}": v for k, v in metrics.items()})
            self.last_eval = (self.step, metrics)
            self.checkpoint()
        watched = self.config.early_stopping_metric
        if (improved if watched else final) or self.config.save_model_at_eval:
            note = f"Saved at step {self.step}, the best `eval/{watched}` ({metrics[watched]:.6g}) of the run." if (
                watched and improved) else ""  # fmt: skip
            self.save_model(metrics, note)
        return metrics

    def track_best(self, metrics: dict[str, float]) -> bool:
        """Record `early_stopping_metric`; whether it improved. Sets `stop_reason` once patience runs out."""
        name = self.config.early_stopping_metric
        if not name:
            return False
        if name not in metrics:
            raise ValueError(f"Training config field `early_stopping_metric`: no {name!r} among {sorted(metrics)}.")
        value, best = metrics[name], self.best["value"]
        better = best is None or (value > best if self.config.early_stopping_greater_is_better else value < best)
        if better:
            self.best = {"value": value, "step": self.step, "evaluations_since": 0}
        else:
            self.best["evaluations_since"] += 1
            patience = self.config.early_stopping_patience
            if patience and self.best["evaluations_since"] >= patience:
                self.stop_reason = (
                    f"`eval/{name}` did not improve for {patience} evaluations (best {best:.6g} at step "
                    f"{self.best['step']}, early_stopping_patience)"
                )
        return better

    @staticmethod
    def note_in_card(model_dir: Path, text: str) -> None:
        write_file(model_dir, "README.md", (model_dir / "README.md").read_text() + f"\n{text}\n")

    def save_model(self, metrics: dict[str, float], note: str = "") -> Path | None:
        """Write the model folder (the EMA weights when kept), refusing weights that hold NaN or inf."""
        with self.ema.applied() if self.ema is not None else nullcontext():
            self.check_finite()  # on every rank (they hold the same weights), so that all stop together
            if not self.accelerator.is_main_process:
                return None
            folder = save_model_folder(
                self.unwrapped, Path(self.config.output_dir) / "model", self.config, metrics, self.command,
                self.metadata["train"],
            )  # fmt: skip
        if note:
            self.note_in_card(folder, note)
        return folder

    def check_finite(self) -> None:
        bad = nonfinite_tensors(self.unwrapped)
        if bad:
            total = len(self.unwrapped.state_dict())
            raise NonFiniteModelError(
                f"the trained weights hold NaN or inf at step {self.step} in {len(bad)} of {total} tensors "
                f"({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}): training diverged (lower --lr); the model "
                f"folder was not written or pushed, the checkpoints under {checkpoints_dir(self.config.output_dir)} "
                "are kept."
            )

    # ----- evaluation -----
    def evaluate(self) -> dict[str, float]:
        """The release's evaluation of the test split (every row runs `halt_max_steps` segments) through the same
        `evaluate_split` as `hrm evaluate`, so the tracker, the card and the CLI report the same names (ARC data gets
        pass@k too); the metrics are returned on every rank. Eval losses are not computed (no `lm_loss` here)."""
        accelerator, model = self.accelerator, self.unwrapped
        model.eval()
        with self.ema.applied() if self.ema is not None else nullcontext():
            result = evaluate_split(
                model, self.dataset["test"], self.metadata["test"], accelerator, halting="fixed",
                batch_size=self.config.global_batch_size // accelerator.num_processes,
            )  # fmt: skip
        model.train()
        return result.metrics


def train(config: TrainConfig, dataset=None, command: str = "") -> TrainResult:
    """Train with `config`; `dataset` is an optional in-memory `(DatasetDict, {split: metadata})` to use instead of
    `config.data_path`. Returns the model folder and the final evaluation metrics; the output folder's claim is
    released however the run ends."""
    trainer = Trainer(config, dataset=dataset, command=command)
    try:
        return trainer.fit()
    finally:
        if trainer.claim is not None:
            trainer.claim.release()


__all__ = [
    "NonFiniteModelError",
    "PushFailedError",
    "TrainResult",
    "Trainer",
    "train",
    "create_accelerator",
    "claim_output_dir",
    "prepare_run",
    "build_model",
    "initial_weights",
    "total_steps",
]
