"""The training configuration: plain dataclasses parsed by transformers' `HfArgumentParser`, YAML defaults.

A run's configuration is a preset (`--preset NAME`, a file of `training/presets/`) or a YAML file (`--config
FILE.yaml`) whose values are the defaults that the command line overrides (`--hidden-size 128`, `--ema`,
`--no-ema`). As in TRL's scripts, one `HfArgumentParser` parses two plain dataclasses whose `metadata["help"]` is the
`--help` text: `RunConfig`, the run's own fields (data, schedule, optimizers, checkpoints, logging), and the fields of
the model family that the YAML's `arch:` section names (`arch: name: hrm`, as in TRM's configs; see `families.py`).
The family's own config checks the architecture. The resolved configuration is written beside every checkpoint and
into the saved model folder, in the preset layout, so `--config` reads it back.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import math
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from huggingface_hub.errors import StrictDataclassError
from transformers import HfArgumentParser, PreTrainedConfig

from ..hub import is_repo_id
from .families import DEFAULT_FAMILY, MODEL_FAMILIES, HrmArguments, ModelFamily


PRESETS_DIR = Path(__file__).parent / "presets"
STOP_WHEN = re.compile(r"(train|eval)/([\w@]+)(>=|<=)([-+.\deE]+)")
# The model's metric sums under the names the trainer logs them (`train/NAME`), those of `hrm evaluate`'s report.
TRAIN_METRICS = {
    "accuracy": "token_accuracy", "exact_accuracy": "exact_accuracy", "q_halt_accuracy": "q_halt_accuracy",
    "steps": "mean_steps", "lm_loss": "lm_loss", "q_halt_loss": "q_halt_loss", "q_continue_loss": "q_continue_loss",
}  # fmt: skip
# What each split logs: the training metrics, the loss and the learning rate; an evaluation's scores
# (`evaluation.scoring.puzzle_metrics`, and ARC's voted `pass@k` with its counts of puzzles and test inputs).
LOGGED_METRICS = {
    "train": (*TRAIN_METRICS.values(), "loss", "lr"),
    "eval": ("exact_accuracy", "token_accuracy", "q_halt_accuracy", "mean_steps", "total_steps", "count", "puzzles",
             "test_inputs"),
}  # fmt: skip
PASS_AT_K = re.compile(r"pass@[1-9]\d*")
# Fields naming datasets: a checkpoint's and a resuming run's are compared by where they resolve.
DATASET_FIELDS = ("data_path", "extra_data_paths", "test_data_paths")
TRACKERS = ("tensorboard", "trackio", "wandb")
# Fields that may differ between a checkpoint and the run resuming from it; every other one must match.
RESUMABLE_CHANGES = frozenset(
    {"output_dir", "resume_from_checkpoint", "overwrite_output_dir", "report_to", "run_name", "project_name",
     "push_to_hub", "keep_last", "checkpoint_every", "log_every", "save_model_at_eval", "compile", "max_nonfinite_steps",
     "cpu", "num_threads", "push_every_checkpoint", "private", "revision", "min_eval_interval",
     "allow_other_dataset"}
)  # fmt: skip


class ConfigError(ValueError):
    """A training configuration value that cannot be used; the message names the field and the value."""

    exit_code = 2  # `hrm`'s exit code for bad usage


@dataclass
class RunConfig:
    """The run's own fields: data, schedule, optimizers, checkpoints, logging and the Hub (see each field's help)."""

    data_path: str = field(
        default="", metadata={"help": "a dataset folder built by `hrm build-dataset`, or a Hub dataset repo id"}
    )
    extra_data_paths: list[str] = field(
        default_factory=list,
        metadata={
            "help": "more datasets (folders or Hub repo ids) to train on after data_path, as the authors' further "
            "data_paths: each is shuffled and batched on its own in every data iteration, in order; all share "
            "data_path's vocabulary and sequence length, and the puzzle ids of each follow the tables of those before"
        },
    )
    test_data_paths: list[str] = field(
        default_factory=list,
        metadata={
            "help": "datasets whose test splits are evaluated instead of those of the training datasets (the authors' "
            "data_paths_test), their puzzle ids numbered by the same rule as the training datasets'"
        },
    )
    output_dir: str = field(
        default="outputs/run", metadata={"help": "where checkpoints/, the model folder model/ and tracker logs go"}
    )
    global_batch_size: int = field(
        default=768, metadata={"help": "examples per optimizer step over all processes (divisible by their number)"}
    )
    epochs: int = field(
        default=20000,
        metadata={
            "help": "training epochs; the run lasts epochs * total_groups * mean_puzzle_examples / global_batch_size "
            "optimizer steps (the authors' estimate) unless --max-steps is given"
        },
    )
    max_steps: int | None = field(
        default=None, metadata={"help": "stop after this many optimizer steps (also the cosine schedule's length)"}
    )
    eval_interval: int = field(
        default=2000,
        metadata={
            "help": "epochs per data iteration, as in the authors' trainer: the sampler shuffles and batches this many epochs "
            "as one stream and the model is evaluated after each iteration (and at the end); must divide --epochs"
        },
    )
    lr: float = field(default=1e-4, metadata={"help": "Adam-atan2 base learning rate"})
    lr_min_ratio: float = field(
        default=1.0, metadata={"help": "floor of the cosine decay, as a fraction of the base rate (1: constant)"}
    )
    lr_warmup_steps: int = field(default=2000, metadata={"help": "linear warmup steps of both learning rates"})
    beta1: float = field(default=0.9, metadata={"help": "Adam-atan2 beta1"})
    beta2: float = field(default=0.95, metadata={"help": "Adam-atan2 beta2"})
    weight_decay: float = field(default=0.1, metadata={"help": "Adam-atan2 decoupled weight decay"})
    puzzle_emb_lr: float = field(
        default=1e-2, metadata={"help": "base rate of the sparse SignSGD on the puzzle-embedding table"}
    )
    puzzle_emb_weight_decay: float = field(default=0.1, metadata={"help": "weight decay of the sparse SignSGD"})
    ema: bool = field(
        default=False,
        metadata={
            "help": "keep an exponential moving average of the trained weights, as the TRM authors' recipes do: every "
            "evaluation and the saved model use it (the puzzle table stays live)"
        },
    )
    ema_rate: float = field(
        default=0.999,
        metadata={"help": "EMA decay: after every step, average = (1 - rate) * weights + rate * average"},
    )
    freeze_weights: bool = field(
        default=False,
        metadata={
            "help": "train only the puzzle embeddings (sparse SignSGD at --puzzle-emb-lr), every dense weight frozen: "
            "the authors' test-time adaptation to new puzzles, from --init-from"
        },
    )
    min_eval_interval: int = field(
        default=0,
        metadata={"help": "data iterations to train before the first evaluation (the final one always runs)"},
    )
    compile: bool = field(default=False, metadata={"help": "wrap the model in torch.compile"})
    max_nonfinite_steps: int = field(
        default=10, metadata={"help": "stop after this many non-finite losses in a row (each skips its step)"}
    )
    checkpoint_every: int = field(
        default=0, metadata={"help": "save the whole training state every this many steps (0: only at evaluations)"}
    )
    keep_last: int = field(default=2, metadata={"help": "checkpoints kept (0 keeps all)"})
    resume_from_checkpoint: str | None = field(
        default=None, metadata={"help": "`latest` (the newest checkpoint under --output-dir) or a checkpoint folder"}
    )
    allow_other_dataset: bool = field(
        default=False,
        metadata={
            "help": "resume although the dataset's content (its fingerprint) is not the one the checkpoint was "
            "trained on, e.g. a dataset rebuilt in place on purpose"
        },
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata={
            "help": "start a new run in an --output-dir that holds another run's model or checkpoints (dropped)"
        },
    )
    save_model_at_eval: bool = field(
        default=False, metadata={"help": "also write the model folder at each evaluation, not only at the end"}
    )
    push_to_hub: str | None = field(default=None, metadata={"help": "Hub model repo id to upload the model folder to"})
    push_every_checkpoint: bool = field(
        default=False,
        metadata={
            "help": "also upload the model at every checkpoint, in the background while training goes on (needs "
            "--push-to-hub; the commit message holds the step and exact_accuracy)"
        },
    )
    private: bool = field(default=False, metadata={"help": "create the --push-to-hub repo as private"})
    revision: str | None = field(
        default=None,
        metadata={"help": "branch of the --push-to-hub repo to push to (created if needed; default main)"},
    )
    report_to: list[str] = field(
        default_factory=list,
        metadata={"help": f"trackers to log to, any of {', '.join(TRACKERS)} (through Accelerate); none by default"},
    )
    project_name: str = field(default="hrm", metadata={"help": "tracker project name"})
    run_name: str | None = field(default=None, metadata={"help": "tracker run name (default: the tracker's own)"})
    log_every: int = field(default=10, metadata={"help": "log training metrics every this many steps"})
    seed: int = field(
        default=0, metadata={"help": "seeds the model initialisation, the sampler and the halting exploration"}
    )
    cpu: bool = field(default=False, metadata={"help": "train on the CPU even when a GPU is present"})
    num_threads: int = field(default=0, metadata={"help": "torch intra-op threads per process (0: torch's default)"})
    init_from: str | None = field(
        default=None,
        metadata={
            "help": "a model folder (one of ours, or the authors' checkpoint converted by `hrm convert`) whose weights and "
            "puzzle table start the run instead of a fresh initialisation; its architecture must match. A puzzle table of "
            "another size (new puzzles) starts as the mean of its rows in every row, as the authors' load_checkpoint does"
        },
    )
    early_stopping_metric: str | None = field(
        default=None,
        metadata={
            "help": "evaluation metric (exact_accuracy, token_accuracy, ...) watched for improvement; the best evaluated "
            "model is the one saved as the model folder (default: off)"
        },
    )
    early_stopping_patience: int = field(
        default=0,
        metadata={
            "help": "stop after this many evaluations without improvement of --early-stopping-metric (0: never stop for "
            "that, only keep the best model)"
        },
    )
    early_stopping_greater_is_better: bool = field(
        default=True, metadata={"help": "whether a larger --early-stopping-metric is an improvement"}
    )
    stop_when: str | None = field(
        default=None,
        metadata={
            "help": "stop once a metric crosses a threshold, e.g. train/exact_accuracy>=0.99 or eval/exact_accuracy>=0.95 (training "
            "metrics are checked when logged, evaluation ones after each evaluation)"
        },
    )

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise `ConfigError` naming the first bad run field and its value (the architecture is its family's)."""
        for item in dataclasses.fields(RunConfig):
            value = getattr(self, item.name)
            if isinstance(value, float):
                _require(item.name, value, math.isfinite(value), "must be a finite number")
        for name in ("global_batch_size", "epochs", "eval_interval", "log_every", "ema_rate", "lr_min_ratio",
                     "max_nonfinite_steps"):  # fmt: skip
            _require(name, getattr(self, name), getattr(self, name) > 0, "must be positive")
        for name in ("lr", "puzzle_emb_lr", "weight_decay", "puzzle_emb_weight_decay", "lr_warmup_steps",
                     "checkpoint_every", "keep_last", "num_threads", "min_eval_interval"):  # fmt: skip
            _require(name, getattr(self, name), getattr(self, name) >= 0, "must be >= 0")
        if self.max_steps is not None:
            _require("max_steps", self.max_steps, self.max_steps > 0, "must be positive (or left out)")
        for name in ("beta1", "beta2", "ema_rate"):
            _require(name, getattr(self, name), 0 <= getattr(self, name) <= 1, "must lie in [0, 1]")
        _require("lr_min_ratio", self.lr_min_ratio, self.lr_min_ratio <= 1, "must lie in (0, 1]")
        for tracker in self.report_to:
            _require("report_to", tracker, tracker in TRACKERS, f"must name trackers among {TRACKERS}")
        for name in ("extra_data_paths", "test_data_paths"):
            paths = getattr(self, name)
            _require(name, paths, all(paths), "must name dataset folders or Hub repo ids")
        wanted = bool(self.push_to_hub) or not self.push_every_checkpoint
        _require("push_to_hub", self.push_to_hub, wanted, "must name a Hub repo for --push-every-checkpoint")
        _require("data_path", self.data_path, bool(self.data_path), "must name a dataset folder or Hub repo id")
        if self.push_to_hub is not None:
            _require("push_to_hub", self.push_to_hub, is_repo_id(self.push_to_hub), "must be a Hub repo id owner/name")
        _require("epochs", self.epochs, self.epochs % self.eval_interval == 0, "must be a multiple of eval_interval")
        _require("early_stopping_patience", self.early_stopping_patience, self.early_stopping_patience >= 0,
                 "must be >= 0")  # fmt: skip
        if self.early_stopping_patience:
            _require("early_stopping_metric", self.early_stopping_metric, bool(self.early_stopping_metric),
                     "must name an evaluation metric when early_stopping_patience is set")  # fmt: skip
        if self.stop_when is not None:
            stop_when_rule(self.stop_when)
        if self.early_stopping_metric:
            _require("early_stopping_metric", self.early_stopping_metric,
                     is_logged_metric("eval", self.early_stopping_metric),
                     f"must name an evaluation metric among {', '.join(LOGGED_METRICS['eval'])} or pass@K")  # fmt: skip


def is_logged_metric(split: str, name: str) -> bool:
    """Whether the trainer logs `split/name`."""
    return name in LOGGED_METRICS[split] or (split == "eval" and PASS_AT_K.fullmatch(name) is not None)


def stop_when_rule(text: str) -> tuple[str, str, str, float]:
    """`(split, metric, relation, threshold)` of a `stop_when` rule; a `ConfigError` when it is malformed, names a
    metric the split never logs (it would never fire) or a threshold that is not a number."""
    match = STOP_WHEN.fullmatch(text)
    _require("stop_when", text, match is not None, "must read `train/METRIC>=VALUE` or `eval/METRIC<=VALUE`")
    split, name, relation, value = match.groups()
    _require("stop_when", text, is_logged_metric(split, name),
             f"names no {split} metric: {split} logs {', '.join(LOGGED_METRICS[split])}"
             + (" and pass@K" if split == "eval" else ""))  # fmt: skip
    try:
        threshold = float(value)
    except ValueError:
        threshold = math.nan
    _require("stop_when", text, math.isfinite(threshold), f"threshold {value!r} is not a finite number")
    return split, name, relation, threshold


@dataclass
class TrainConfig(RunConfig):
    """A training run: `RunConfig`'s fields, and `arch`, the architecture fields of its model family.

    The model's own config is built apart (`model_config`), from `arch` and what the data decides; the family's
    config checks the architecture, here already with its own defaults for the data's sizes, so that a bad value
    fails before any data is read.
    """

    arch: Any = field(default_factory=HrmArguments)  # the arguments dataclass of a family of `MODEL_FAMILIES`

    def __post_init__(self) -> None:
        super().__post_init__()
        self.model_config()

    @property
    def family(self) -> ModelFamily:
        return MODEL_FAMILIES[self.arch.name]

    def model_config(self, **data_sizes: int) -> PreTrainedConfig:
        """The family's config of `arch` and `data_sizes` (`vocab_size`, `seq_len`, `num_puzzle_identifiers`,
        `blank_puzzle_id`); a value it refuses is one `ConfigError` line."""
        try:
            return self.family.config_class(**dataclasses.asdict(self.arch), **data_sizes)
        except (ValueError, TypeError, StrictDataclassError) as error:
            raise ConfigError(f"Training config section `arch`: {' '.join(str(error).split())}") from None

    def to_dict(self) -> dict[str, Any]:
        """The run's fields, then the architecture under `arch`, led by its family's `name`: the layout of presets
        and `--config` files."""
        values = dataclasses.asdict(self)
        return values | {"arch": {"name": self.arch.name, **values["arch"]}}

    def to_flat_dict(self) -> dict[str, Any]:
        """The run's fields and the architecture's as `arch.FIELD`, all on one level."""
        values = self.to_dict()
        arch = values.pop("arch")
        return values | {f"arch.{name}": value for name, value in arch.items()}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """A config from preset-layout values: the run's fields, and the architecture under `arch` (whose `name`
        is HRM's when it names none). Each value's type is checked; an unknown field is refused with the closest
        known name."""
        if not isinstance(values, dict):
            raise ConfigError(f"A training config must map field names to values, got a {type(values).__name__}.")
        run = dict(values)
        arch = run.pop("arch", None) or {}
        if not isinstance(arch, dict):
            raise ConfigError(f"Training config field `arch` must be a mapping of architecture fields, got {arch!r}.")
        arch = dict(arch)
        arguments = model_family(arch.pop("name", DEFAULT_FAMILY)).arguments
        misplaced = [f"arch.{item.name}" for item in dataclasses.fields(arguments)]  # hints for a flat layout
        run = typed_values(RunConfig, run, hints=misplaced)
        return cls(**run, arch=arguments(**typed_values(arguments, arch, section="arch")))

    def differences(self, other: TrainConfig) -> list[str]:
        """`field: other -> self` for every field, except those in `RESUMABLE_CHANGES`, that differs."""
        mine, theirs = self.to_flat_dict(), other.to_flat_dict()
        for values in (mine, theirs):
            values.update({name: dataset_location(values[name]) for name in DATASET_FIELDS})
        return [
            f"{name}: {theirs.get(name)!r} -> {mine[name]!r}"
            for name in mine
            if name not in RESUMABLE_CHANGES and mine[name] != theirs.get(name)
        ]


def dataset_location(value: str | list[str]) -> str | list[str]:
    """Where a dataset field's value(s) point: an existing local path as its resolved absolute path (so that
    `data/x`, `data/x/` and a link to it are one dataset), anything else (a Hub repo id) as written."""
    if isinstance(value, list):
        return [dataset_location(item) for item in value]
    return str(Path(value).resolve()) if value and Path(value).exists() else value


def model_family(name: Any) -> ModelFamily:
    """The family that an `arch:` section names, or a `ConfigError` naming the known ones."""
    if not isinstance(name, str) or name not in MODEL_FAMILIES:
        close = difflib.get_close_matches(str(name), list(MODEL_FAMILIES), n=1)
        hint = f"did you mean `{close[0]}`?" if close else f"known: {', '.join(MODEL_FAMILIES)}"
        raise ConfigError(f"Training config field `arch.name`: unknown model family {name!r}; {hint}")
    return MODEL_FAMILIES[name]


def _require(name: str, value: Any, ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(f"Training config field `{name}` {message}, got {value!r}.")


def typed_values(cls: type, values: dict[str, Any], section: str = "", hints: Sequence[str] = ()) -> dict[str, Any]:
    """YAML `values` for the dataclass `cls`, each checked against its field's type (`HfArgumentParser` does that
    for command-line strings, not for YAML values); an unknown field is refused with the closest name among the
    fields and `hints`."""
    types_of = typing.get_type_hints(cls)
    known = [item.name for item in dataclasses.fields(cls)]
    prefix = f"{section}." if section else ""
    for name in values:
        if name not in known:
            close = difflib.get_close_matches(name, [*known, *hints], n=1)
            hint = f"; did you mean `{close[0]}`?" if close else f"; known: {', '.join(known)}" if section else ""
            kind = "architecture field" if section else "training config field"
            raise ConfigError(f"Unknown {kind} `{prefix}{name}`{hint}")
    return {name: typed_value(prefix + name, value, types_of[name]) for name, value in values.items()}


def typed_value(name: str, value: Any, annotation: Any) -> Any:
    """`value` as the field `name` of type `annotation` holds it, or a `ConfigError` naming both."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    options = typing.get_args(annotation) if union else (annotation,)
    if value is None and type(None) in options:
        return None
    kind = next(option for option in options if option is not type(None))
    if typing.get_origin(kind) is Literal:
        if value in typing.get_args(kind):
            return value
        raise ConfigError(f"Training config field `{name}` must be one of {typing.get_args(kind)}, got {value!r}.")
    if typing.get_origin(kind) is list:
        ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
    elif kind is float and isinstance(value, int | float | str) and not isinstance(value, bool):
        try:  # YAML reads `1` as an int and `1e-4` as a string
            return float(value)
        except ValueError:
            ok = False
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise ConfigError(f"Training config field `{name}` must be of type {kind.__name__}, got {value!r}.")
    return value


def available_presets() -> list[str]:
    return sorted(path.stem for path in PRESETS_DIR.glob("*.yaml"))


def load_preset(name_or_path: str) -> dict[str, Any]:
    """The values of a preset name from `training/presets/` or of a YAML file path (preset layout)."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PRESETS_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ConfigError(f"Unknown preset {name_or_path!r}: not a YAML file, nor one of {available_presets()}.")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(error).split())}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path} must be a YAML mapping of training config fields.")
    return values


def build_parser(arguments: type = HrmArguments, defaults: dict[str, Any] | None = None) -> HfArgumentParser:
    """`--preset`/`--config` and one documented option per field of `RunConfig` and of a model family's
    `arguments`, with `defaults` (a preset's values, the architecture's among them) shown as the defaults."""
    parser = HfArgumentParser(
        (RunConfig, arguments),
        prog="hrm train",
        description="Train a puzzle-solving model (HRM-ACT-v1 or TRM, as `arch: name:` says) with Accelerate. Values "
        "come from --preset or --config, and any option overrides them. Several processes: accelerate launch "
        "[options] -m hrm_hf.scripts train ...",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", choices=available_presets(), help="a preset of the authors' recipes or the demo")
    source.add_argument("--config", metavar="FILE.yaml", help="a YAML file in the preset layout (e.g. a run's saved "
                        "train_config.yaml)")  # fmt: skip
    # HfArgumentParser gives `--no-FIELD` only to booleans that default to true; a preset may turn the others on.
    for item in (*dataclasses.fields(RunConfig), *dataclasses.fields(arguments)):
        if item.type in (bool, "bool") and item.default is False:
            flag = item.name.replace("_", "-")
            parser.add_argument(f"--no-{flag}", dest=item.name, action="store_false", default=argparse.SUPPRESS,
                                help=f"turn --{flag} off")  # fmt: skip
    if defaults:
        parser.set_defaults(**defaults)
    return parser


def parse_config(argv: list[str] | None = None) -> TrainConfig:
    """The preset named by `--preset` (or the file of `--config`), overridden by every other option given."""
    chosen, _ = _source_parser().parse_known_args(argv)
    if chosen.preset is None and chosen.config is None:
        if "-h" in (argv or []) or "--help" in (argv or []):
            build_parser().parse_args(argv)  # prints the help and exits
        raise ConfigError(f"Give --preset (one of {', '.join(available_presets())}) or --config FILE.yaml.")
    preset = TrainConfig.from_dict(load_preset(chosen.preset or chosen.config))
    defaults = dataclasses.asdict(preset)
    defaults |= defaults.pop("arch")  # one option per field, the architecture's among them
    parser = build_parser(type(preset.arch), defaults)
    run, arch, _, unknown = parser.parse_args_into_dataclasses(
        argv, return_remaining_strings=True, look_for_args_file=False
    )
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return TrainConfig(**vars(run), arch=arch)


def _source_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--preset")
    parser.add_argument("--config")
    return parser


__all__ = ["ConfigError", "RunConfig", "TrainConfig", "available_presets", "build_parser", "load_preset",
           "model_family", "parse_config"]  # fmt: skip
