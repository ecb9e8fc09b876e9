"""The training configuration: typed dataclass fields parsed by transformers' `HfArgumentParser`, YAML defaults.

A run's configuration is a preset (`--preset NAME`, a file of `training/presets/`) or a YAML file (`--config
FILE.yaml`) whose values are the defaults that the command line overrides (`--hidden-size 128`, `--ema`,
`--no-ema`). The run's own fields (data, schedule, optimizers, checkpoints, logging) are declared in `RunConfig`;
the architecture fields are `HrmActConfig`'s, declared once there and taken over with their types, defaults, choices
and documentation, and they sit in an `arch:` section of the YAML as in TRM's configs. The resolved configuration is
written beside every checkpoint and into the saved model folder, in the same layout, so `--config` reads it back.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ..configuration_hrm import FORWARD_DTYPES, LOSS_TYPES, POS_ENCODINGS, HrmActConfig
from ..hub import is_repo_id


PRESETS_DIR = Path(__file__).parent / "presets"
STOP_WHEN = re.compile(r"(train|eval)/(\w+)(>=|<=)([-+.\deE]+)")
TRACKERS = ("tensorboard", "trackio", "wandb")
# `HrmActConfig` fields a run chooses; the rest (vocabulary, sequence length, table size) come from the data.
ARCH_FIELDS = (
    "hidden_size", "num_heads", "expansion", "H_layers", "L_layers", "H_cycles", "L_cycles", "pos_encodings",
    "puzzle_emb_ndim", "rope_theta", "rms_norm_eps", "halt_max_steps", "halt_exploration_prob", "forward_dtype",
    "loss_type",
)  # fmt: skip
ARCH_CHOICES = {"pos_encodings": POS_ENCODINGS, "forward_dtype": FORWARD_DTYPES, "loss_type": LOSS_TYPES}
# Fields that may differ between a checkpoint and the run resuming from it; every other one must match.
RESUMABLE_CHANGES = frozenset(
    {"output_dir", "resume_from_checkpoint", "overwrite_output_dir", "report_to", "run_name", "project_name",
     "push_to_hub", "keep_last", "checkpoint_every", "log_every", "save_model_at_eval", "compile", "max_nonfinite_steps",
     "cpu", "num_threads", "push_every_checkpoint", "private", "revision"}
)  # fmt: skip


class ConfigError(ValueError):
    """A training configuration value that cannot be used; the message names the field and the value."""

    exit_code = 2  # `hrm`'s exit code for bad usage


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass
class RunConfig:
    """The run's own fields; `TrainConfig` adds the architecture fields of `HrmActConfig` to them."""

    data_path: str = field(
        default="", metadata=_help("a dataset folder built by `hrm build-dataset`, or a Hub dataset repo id")
    )
    output_dir: str = field(
        default="outputs/run", metadata=_help("where checkpoints/, the model folder model/ and tracker logs go")
    )
    global_batch_size: int = field(
        default=768, metadata=_help("examples per optimizer step over all processes (divisible by their number)")
    )
    epochs: int = field(
        default=20000,
        metadata=_help(
            "training epochs; the run lasts epochs * total_groups * mean_puzzle_examples / global_batch_size "
            "optimizer steps (the authors' estimate) unless --max-steps is given"
        ),
    )
    max_steps: int | None = field(
        default=None, metadata=_help("stop after this many optimizer steps (also the cosine schedule's length)")
    )
    eval_interval: int = field(
        default=2000,
        metadata=_help(
            "epochs per data iteration, as in the authors' trainer: the sampler shuffles and batches this many epochs "
            "as one stream and the model is evaluated after each iteration (and at the end); must divide --epochs"
        ),
    )
    lr: float = field(default=1e-4, metadata=_help("Adam-atan2 base learning rate"))
    lr_min_ratio: float = field(
        default=1.0, metadata=_help("floor of the cosine decay, as a fraction of the base rate (1: constant)")
    )
    lr_warmup_steps: int = field(default=2000, metadata=_help("linear warmup steps of both learning rates"))
    beta1: float = field(default=0.9, metadata=_help("Adam-atan2 beta1"))
    beta2: float = field(default=0.95, metadata=_help("Adam-atan2 beta2"))
    weight_decay: float = field(default=0.1, metadata=_help("Adam-atan2 decoupled weight decay"))
    puzzle_emb_lr: float = field(
        default=1e-2, metadata=_help("base rate of the sparse SignSGD on the puzzle-embedding table")
    )
    puzzle_emb_weight_decay: float = field(default=0.1, metadata=_help("weight decay of the sparse SignSGD"))
    ema: bool = field(
        default=False, metadata=_help("keep an exponential moving average of the dense weights for eval and saving")
    )
    ema_rate: float = field(default=0.999, metadata=_help("EMA update rate"))
    compile: bool = field(default=False, metadata=_help("wrap the model in torch.compile"))
    max_nonfinite_steps: int = field(
        default=10, metadata=_help("stop after this many non-finite losses in a row (each skips its step)")
    )
    checkpoint_every: int = field(
        default=0, metadata=_help("save the whole training state every this many steps (0: only at evaluations)")
    )
    keep_last: int = field(default=2, metadata=_help("checkpoints kept (0 keeps all)"))
    resume_from_checkpoint: str | None = field(
        default=None, metadata=_help("`latest` (the newest checkpoint under --output-dir) or a checkpoint folder")
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata=_help("start a new run in an --output-dir that holds another run's model or checkpoints (dropped)"),
    )
    save_model_at_eval: bool = field(
        default=False, metadata=_help("also write the model folder at each evaluation, not only at the end")
    )
    push_to_hub: str | None = field(default=None, metadata=_help("Hub model repo id to upload the model folder to"))
    push_every_checkpoint: bool = field(
        default=False,
        metadata=_help(
            "also upload the model at every checkpoint, in the background while training goes on (needs "
            "--push-to-hub; the commit message holds the step and exact_accuracy)"
        ),
    )
    private: bool = field(default=False, metadata=_help("create the --push-to-hub repo as private"))
    revision: str | None = field(
        default=None, metadata=_help("branch of the --push-to-hub repo to push to (created if needed; default main)")
    )
    report_to: list[str] = field(
        default_factory=list,
        metadata=_help(f"trackers to log to, any of {', '.join(TRACKERS)} (through Accelerate); none by default"),
    )
    project_name: str = field(default="hrm", metadata=_help("tracker project name"))
    run_name: str | None = field(default=None, metadata=_help("tracker run name (default: the tracker's own)"))
    log_every: int = field(default=10, metadata=_help("log training metrics every this many steps"))
    seed: int = field(
        default=0, metadata=_help("seeds the model initialisation, the sampler and the halting exploration")
    )
    cpu: bool = field(default=False, metadata=_help("train on the CPU even when a GPU is present"))
    num_threads: int = field(default=0, metadata=_help("torch intra-op threads per process (0: torch's default)"))
    init_from: str | None = field(
        default=None,
        metadata=_help(
            "a model folder (one of ours, or the authors' checkpoint converted by `hrm convert`) whose weights and "
            "puzzle table start the run instead of a fresh initialisation; its architecture must match"
        ),
    )
    early_stopping_metric: str | None = field(
        default=None,
        metadata=_help(
            "evaluation metric (exact_accuracy, token_accuracy, ...) watched for improvement; the best evaluated "
            "model is the one saved as the model folder (default: off)"
        ),
    )
    early_stopping_patience: int = field(
        default=0,
        metadata=_help(
            "stop after this many evaluations without improvement of --early-stopping-metric (0: never stop for "
            "that, only keep the best model)"
        ),
    )
    early_stopping_greater_is_better: bool = field(
        default=True, metadata=_help("whether a larger --early-stopping-metric is an improvement")
    )
    stop_when: str | None = field(
        default=None,
        metadata=_help(
            "stop once a metric crosses a threshold, e.g. train/exact_accuracy>=0.99 or eval/exact_accuracy>=0.95 (training "
            "metrics are checked when logged, evaluation ones after each evaluation)"
        ),
    )

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise `ConfigError` naming the first bad field and its value."""
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if isinstance(value, float):
                _require(item.name, value, math.isfinite(value), "must be a finite number")
        positive = ("hidden_size", "num_heads", "H_layers", "L_layers", "H_cycles", "L_cycles", "halt_max_steps",
                    "global_batch_size", "epochs", "eval_interval", "log_every", "ema_rate", "lr_min_ratio",
                    "max_nonfinite_steps", "expansion")  # fmt: skip
        for name in positive:
            _require(name, getattr(self, name), getattr(self, name) > 0, "must be positive")
        for name in ("lr", "puzzle_emb_lr", "weight_decay", "puzzle_emb_weight_decay", "lr_warmup_steps",
                     "checkpoint_every", "keep_last", "num_threads"):  # fmt: skip
            _require(name, getattr(self, name), getattr(self, name) >= 0, "must be >= 0")
        if self.max_steps is not None:
            _require("max_steps", self.max_steps, self.max_steps > 0, "must be positive (or left out)")
        for name in ("beta1", "beta2", "ema_rate", "halt_exploration_prob"):
            _require(name, getattr(self, name), 0 <= getattr(self, name) <= 1, "must lie in [0, 1]")
        _require("lr_min_ratio", self.lr_min_ratio, self.lr_min_ratio <= 1, "must lie in (0, 1]")
        for tracker in self.report_to:
            _require("report_to", tracker, tracker in TRACKERS, f"must name trackers among {TRACKERS}")
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
            _require("stop_when", self.stop_when, STOP_WHEN.fullmatch(self.stop_when) is not None,
                     "must read `train/METRIC>=VALUE` or `eval/METRIC<=VALUE`")  # fmt: skip
        try:
            HrmActConfig(**self.model_kwargs())
        except (ValueError, TypeError) as error:  # the model's own checks, e.g. heads that do not divide the width
            raise ConfigError(f"Training config: {error}") from None

    def model_kwargs(self) -> dict[str, Any]:
        """The architecture fields, as `HrmActConfig` keyword arguments."""
        return {name: getattr(self, name) for name in ARCH_FIELDS}

    def to_dict(self) -> dict[str, Any]:
        """The run's fields, then the architecture under `arch`: the layout of presets and `--config` files."""
        values = dataclasses.asdict(self)
        return {k: v for k, v in values.items() if k not in ARCH_FIELDS} | {"arch": self.model_kwargs()}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """A config from preset-layout values (architecture under `arch`, or flat); types are checked, strings from
        the command line converted; unknown fields are refused with the closest known name."""
        if not isinstance(values, dict):
            raise ConfigError(f"A training config must map field names to values, got a {type(values).__name__}.")
        values = flatten(values)
        known = [f.name for f in dataclasses.fields(cls)]
        for name in values:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"; did you mean `{close[0]}`?" if close else ""
                raise ConfigError(f"Unknown training config field `{name}`{hint}")
        return cls(**{name: _coerce(name, value) for name, value in values.items()})

    def differences(self, other: RunConfig) -> list[str]:
        """`field: other -> self` for every field, except those in `RESUMABLE_CHANGES`, that differs."""
        mine, theirs = flatten(self.to_dict()), flatten(other.to_dict())
        return [
            f"{name}: {theirs[name]!r} -> {mine[name]!r}"
            for name in mine
            if name not in RESUMABLE_CHANGES and mine[name] != theirs[name]
        ]


def _arch_field(item: dataclasses.Field, docs: dict[str, str]) -> tuple[str, Any, dataclasses.Field]:
    """One `HrmActConfig` field as a run field: the same default and documentation, a type argparse can parse."""
    annotation: Any = item.type
    if item.name in ARCH_CHOICES:
        annotation = Literal[ARCH_CHOICES[item.name]]
    elif annotation == float | int:
        annotation = float
    return item.name, annotation, field(default=item.default, metadata=_help(docs[item.name]))


def _arch_docs() -> dict[str, str]:
    """Each field's text in `HrmActConfig`'s docstring, whose entries read `name (`type`, defaults to X):` or
    `a, b (...):` at four spaces, followed by their text at eight; an entry shared by several names documents each."""
    docs: dict[str, str] = {}
    for entry in re.split(r"\n {4}(?=[A-Za-z_][A-Za-z_, ]* \(`)", HrmActConfig.__doc__ or "")[1:]:
        head, _, text = entry.partition("\n")
        names = head.split(" (`")[0].split(", ")
        docs.update(dict.fromkeys(names, " ".join(text.split()) or names[0]))
    return docs


_HRM_FIELDS = {item.name: item for item in dataclasses.fields(HrmActConfig)}
_ARCH_DOCS = _arch_docs()
TrainConfig = dataclasses.make_dataclass(
    "TrainConfig",
    [_arch_field(_HRM_FIELDS[name], _ARCH_DOCS) for name in ARCH_FIELDS],
    bases=(RunConfig,),
    namespace={"__module__": __name__},
)
TrainConfig.__doc__ = """Everything a training run needs: `RunConfig`'s fields and the architecture fields of `HrmActConfig`
(see each field's `metadata["help"]`, or `hrm train --help`)."""


def _require(name: str, value: Any, ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(f"Training config field `{name}` {message}, got {value!r}.")


def flatten(values: dict[str, Any]) -> dict[str, Any]:
    """Preset-layout values with the `arch` section merged into the top level."""
    values = dict(values)
    arch = values.pop("arch", None) or {}
    if not isinstance(arch, dict):
        raise ConfigError(f"Training config field `arch` must be a mapping of architecture fields, got {arch!r}.")
    for name in arch:
        if name not in ARCH_FIELDS:
            close = difflib.get_close_matches(name, ARCH_FIELDS, n=1)
            hint = f"; did you mean `{close[0]}`?" if close else f"; known: {', '.join(ARCH_FIELDS)}"
            raise ConfigError(f"Unknown architecture field `arch.{name}`{hint}")
    return values | arch


def _coerce(name: str, value: Any) -> Any:
    """Check a YAML or command-line value against the field's type, converting strings from the command line."""
    annotation = typing.get_type_hints(TrainConfig)[name]
    args = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null") and type(None) in args):
        if type(None) in args:
            return None
        raise ConfigError(f"Training config field `{name}` may not be none.")
    base = next(arg for arg in args if arg is not type(None))
    if typing.get_origin(base) is Literal:
        if value in typing.get_args(base):
            return value
        raise ConfigError(f"Training config field `{name}` must be one of {typing.get_args(base)}, got {value!r}.")
    if typing.get_origin(base) is list:
        items = value.split(",") if isinstance(value, str) else value
        if isinstance(items, list) and all(isinstance(item, str) for item in items):
            return [item for item in items if item and item != "none"]
    elif base is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
    elif base is float and isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            return float(value)
        except ValueError:
            pass
    elif base is int and not isinstance(value, bool | float):
        try:
            return int(value)
        except ValueError:
            pass
    elif base is str:
        return str(value)
    raise ConfigError(f"Training config field `{name}` must be of type {_type_name(base)}, got {value!r}.")


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", str(annotation))


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


def build_parser(defaults: dict[str, Any] | None = None) -> argparse.ArgumentParser:
    """`--preset`/`--config` plus one documented option per `TrainConfig` field (`--no-FIELD` for booleans), with
    `defaults` (a preset's values) shown as the defaults."""
    from transformers import HfArgumentParser  # only here: `hrm` and `hrm --help` start without transformers

    parser = HfArgumentParser(
        TrainConfig,
        prog="hrm train",
        description="Train HRM-ACT-v1 with Accelerate. Values come from --preset or --config, and any option "
        "overrides them. Several processes: accelerate launch [options] -m hrm_hf.scripts train ...",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", choices=available_presets(), help="a preset of the authors' recipes or the demo")
    source.add_argument("--config", metavar="FILE.yaml", help="a YAML file in the preset layout (e.g. a run's saved "
                        "train_config.yaml)")  # fmt: skip
    for item in dataclasses.fields(TrainConfig):
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
    values = vars(build_parser(dataclasses.asdict(preset)).parse_args(argv))
    values.pop("preset"), values.pop("config")
    return TrainConfig.from_dict(values)


def _source_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--preset")
    parser.add_argument("--config")
    return parser


__all__ = ["ConfigError", "RunConfig", "TrainConfig", "available_presets", "build_parser", "load_preset",
           "parse_config"]  # fmt: skip
