"""The training configuration: one flat dataclass, YAML presets, command-line overrides, and validation.

A run's configuration is the preset (a name from `training/presets/` or a YAML path) with any field overridden on the
command line (`--hidden-size 128`, `--ema`, `--max-steps none`). The resolved configuration is written next to every
checkpoint and into the saved model folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


PRESETS_DIR = Path(__file__).parent / "presets"
STOP_WHEN = re.compile(r"(train|eval)/(\w+)(>=|<=)([-+.\deE]+)")
REPORT_TO = ("none", "tensorboard", "trackio", "wandb")
# Fields of `HrmActConfig` a preset may set; the rest (vocabulary, sequence length, table size) come from the data.
MODEL_FIELDS = (
    "hidden_size", "num_heads", "expansion", "H_layers", "L_layers", "H_cycles", "L_cycles", "pos_encodings",
    "puzzle_emb_ndim", "halt_max_steps", "halt_exploration_prob", "forward_dtype", "loss_type", "rope_theta",
)  # fmt: skip
# Fields that may differ between a checkpoint and the run resuming from it; every other one must match.
RESUMABLE_CHANGES = frozenset(
    {"output_dir", "resume_from_checkpoint", "report_to", "push_to_hub", "keep_last", "checkpoint_every", "log_every",
     "save_model_at_eval", "compile", "max_nonfinite_steps", "cpu", "num_threads"}
)  # fmt: skip


@dataclass
class TrainConfig:
    """Everything a training run needs. Field names follow the authors' `all_config.yaml` where one exists.

    Attributes:
        data_path: a dataset folder written by `data/`, or a Hub dataset repo id.
        output_dir: where checkpoints (`checkpoints/`), the model folder (`model/`) and tracker logs go.
        hidden_size, num_heads, expansion, H_layers, L_layers, H_cycles, L_cycles, pos_encodings, puzzle_emb_ndim,
            halt_max_steps, halt_exploration_prob, forward_dtype, loss_type, rope_theta: the model architecture (see
            `HrmActConfig`); vocabulary, sequence length and puzzle-table size come from the dataset's metadata.
        global_batch_size: examples per optimizer step over all processes (must divide by the process count).
        epochs: training epochs; the run lasts `epochs * total_groups * mean_puzzle_examples / global_batch_size`
            optimizer steps (the release's estimate) unless `max_steps` is set.
        max_steps: stop after this many optimizer steps (also the length of the cosine schedule).
        eval_interval: epochs per data iteration, as in the release: the sampler shuffles and batches this many
            epochs as one stream, and the model is evaluated after each iteration (and at the end); must divide
            `epochs`.
        lr, lr_min_ratio, lr_warmup_steps: Adam-atan2 base rate, cosine floor (ratio of the base), linear warmup.
        beta1, beta2, weight_decay: Adam-atan2's betas and decoupled weight decay.
        puzzle_emb_lr, puzzle_emb_weight_decay: the sparse SignSGD's base rate and decay (same schedule shape).
        ema, ema_rate: keep an exponential moving average of the dense weights, used for evaluation and the saved
            model.
        compile: wrap the model in `torch.compile`.
        max_nonfinite_steps: stop the run after this many non-finite losses in a row (each one skips its step).
        checkpoint_every: save the whole training state every this many steps (0: only at evaluations).
        keep_last: keep this many checkpoints (0 keeps all).
        resume_from_checkpoint: `latest` (newest checkpoint under `output_dir`) or a checkpoint folder.
        save_model_at_eval: also write the Hub-ready model folder at each evaluation, not only at the end.
        push_to_hub: a Hub model repo id to upload the final model folder to.
        report_to: `none`, `tensorboard`, `trackio` or `wandb` (all through Accelerate's trackers).
        log_every: log training metrics every this many steps.
        seed: seeds the model initialisation, the sampler and the halting exploration.
        cpu: train on the CPU even if a GPU is present (always on when there is none).
        num_threads: torch intra-op threads per process (0 leaves torch's default).
        init_from: a model folder (one of ours, or an authors' checkpoint converted with `hrm convert`) whose weights
            and puzzle table start the run instead of a fresh initialisation; its architecture must match.
        early_stopping_metric: the evaluation metric (`exact_accuracy`, `lm_loss`, ...) watched for improvement;
            the best evaluated model is the one saved as the model folder. None: off.
        early_stopping_patience: stop after this many evaluations without improvement of `early_stopping_metric`
            (0: never stop for that, only keep the best model).
        early_stopping_greater_is_better: whether a larger `early_stopping_metric` is an improvement.
        stop_when: stop once a metric crosses a threshold, `train/exact_accuracy>=0.99` or
            `eval/lm_loss<=0.1` (training metrics are checked when logged, evaluation ones after each evaluation).
    """

    data_path: str = ""
    output_dir: str = "outputs/run"
    # Architecture.
    hidden_size: int = 512
    num_heads: int = 8
    expansion: float = 4.0
    H_layers: int = 4
    L_layers: int = 4
    H_cycles: int = 2
    L_cycles: int = 2
    pos_encodings: str = "rope"
    puzzle_emb_ndim: int | None = None
    halt_max_steps: int = 16
    halt_exploration_prob: float = 0.1
    forward_dtype: str = "bfloat16"
    loss_type: str = "stablemax_cross_entropy"
    rope_theta: float = 10000.0
    # Schedule and optimizers.
    global_batch_size: int = 768
    epochs: int = 20000
    max_steps: int | None = None
    eval_interval: int = 2000
    lr: float = 1e-4
    lr_min_ratio: float = 1.0
    lr_warmup_steps: int = 2000
    beta1: float = 0.9
    beta2: float = 0.95
    weight_decay: float = 0.1
    puzzle_emb_lr: float = 1e-2
    puzzle_emb_weight_decay: float = 0.1
    ema: bool = False
    ema_rate: float = 0.999
    compile: bool = False
    max_nonfinite_steps: int = 10
    # Checkpoints, output, logging.
    checkpoint_every: int = 0
    keep_last: int = 2
    resume_from_checkpoint: str | None = None
    save_model_at_eval: bool = False
    push_to_hub: str | None = None
    report_to: str = "none"
    log_every: int = 10
    seed: int = 0
    cpu: bool = False
    num_threads: int = 0
    # Initial weights and early stopping.
    init_from: str | None = None
    early_stopping_metric: str | None = None
    early_stopping_patience: int = 0
    early_stopping_greater_is_better: bool = True
    stop_when: str | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise `ValueError` naming the first bad field and its value."""
        positive = ("hidden_size", "num_heads", "H_layers", "L_layers", "H_cycles", "L_cycles", "halt_max_steps",
                    "global_batch_size", "epochs", "eval_interval", "log_every", "ema_rate", "lr_min_ratio",
                    "max_nonfinite_steps", "expansion")  # fmt: skip
        for name in positive:
            _require(name, getattr(self, name), getattr(self, name) > 0, "must be positive")
        for name in ("lr", "puzzle_emb_lr", "weight_decay", "puzzle_emb_weight_decay", "lr_warmup_steps",
                     "checkpoint_every", "keep_last", "num_threads"):  # fmt: skip
            _require(name, getattr(self, name), getattr(self, name) >= 0, "must be >= 0")
        if self.max_steps is not None:
            _require("max_steps", self.max_steps, self.max_steps > 0, "must be positive (or none)")
        for name in ("beta1", "beta2", "ema_rate", "halt_exploration_prob"):
            _require(name, getattr(self, name), 0 <= getattr(self, name) <= 1, "must lie in [0, 1]")
        _require("lr_min_ratio", self.lr_min_ratio, self.lr_min_ratio <= 1, "must lie in (0, 1]")
        _require("report_to", self.report_to, self.report_to in REPORT_TO, f"must be one of {REPORT_TO}")
        _require("data_path", self.data_path, bool(self.data_path), "must name a dataset folder or Hub repo id")
        _require("epochs", self.epochs, self.epochs % self.eval_interval == 0, "must be a multiple of eval_interval")
        _require("early_stopping_patience", self.early_stopping_patience, self.early_stopping_patience >= 0,
                 "must be >= 0")  # fmt: skip
        if self.early_stopping_patience:
            _require("early_stopping_metric", self.early_stopping_metric, bool(self.early_stopping_metric),
                     "must name an evaluation metric when early_stopping_patience is set")  # fmt: skip
        if self.stop_when is not None:
            _require("stop_when", self.stop_when, STOP_WHEN.fullmatch(self.stop_when) is not None,
                     "must read `train/METRIC>=VALUE` or `eval/METRIC<=VALUE`")  # fmt: skip

    def model_kwargs(self) -> dict[str, Any]:
        """The architecture fields, as `HrmActConfig` keyword arguments."""
        return {name: getattr(self, name) for name in MODEL_FIELDS}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"Unknown training config field(s) {unknown}; known fields: {sorted(known)}.")
        return cls(**{name: _coerce(name, value) for name, value in values.items()})

    def differences(self, other: TrainConfig) -> list[str]:
        """`field: other -> self` for every field, except those in `RESUMABLE_CHANGES`, that differs."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [
            f"{name}: {theirs[name]!r} -> {mine[name]!r}"
            for name in mine
            if name not in RESUMABLE_CHANGES and mine[name] != theirs[name]
        ]


def _require(name: str, value: Any, ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(f"Training config field `{name}` {message}, got {value!r}.")


def _field_types() -> dict[str, type]:
    hints = typing.get_type_hints(TrainConfig)
    return {name: hints[name] for name in (f.name for f in dataclasses.fields(TrainConfig))}


def _coerce(name: str, value: Any) -> Any:
    """Check a YAML or command-line value against the field's type, converting strings from the command line."""
    annotation = _field_types()[name]
    args = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null") and type(None) in args):
        if type(None) in args:
            return None
        raise ValueError(f"Training config field `{name}` may not be none.")
    base = next(arg for arg in args if arg is not type(None))
    if base is bool:
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
    raise ValueError(f"Training config field `{name}` must be of type {base.__name__}, got {value!r}.")


def available_presets() -> list[str]:
    return sorted(path.stem for path in PRESETS_DIR.glob("*.yaml"))


def load_preset(name_or_path: str) -> dict[str, Any]:
    """The field values of a preset: a name from `training/presets/` or a YAML file path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PRESETS_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ValueError(f"Unknown preset {name_or_path!r}: not a YAML file, nor one of {available_presets()}.")
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ValueError(f"Preset {path} must be a YAML mapping of training config fields.")
    return values


def build_parser() -> argparse.ArgumentParser:
    """`--preset` plus one `--field-name VALUE` option per `TrainConfig` field, each documented."""
    parser = argparse.ArgumentParser(
        description="Train HRM-ACT-v1 with Accelerate. Run as `hrm train` or "
        "`accelerate launch -m hrm_hf.scripts train`. Any option overrides the preset's value.",
    )
    parser.add_argument(
        "--preset", default="cpu-demo", help=f"a YAML path or one of {available_presets()} (default: cpu-demo)"
    )
    docs = _field_docs()
    for name, annotation in _field_types().items():
        flag = "--" + name.replace("_", "-")
        help_text = f"{docs.get(name, '')} [{_type_name(annotation)}]".strip()
        parser.add_argument(flag, dest=name, default=None, metavar=name.upper(), help=help_text)
    return parser


def _type_name(annotation: Any) -> str:
    args = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    return " or ".join("none" if arg is type(None) else arg.__name__ for arg in args)


def _field_docs() -> dict[str, str]:
    """One line per field from the class docstring's `Attributes:` section."""
    docs, current = {}, None
    for line in (TrainConfig.__doc__ or "").split("Attributes:")[-1].splitlines():
        stripped = line.strip()
        head, _, text = stripped.partition(": ")
        if text and line.startswith(" " * 8) and not line.startswith(" " * 12):
            current = head.split(", ")
            docs.update(dict.fromkeys(current, text))
        elif current and stripped:
            for name in current:
                docs[name] += " " + stripped
    return docs


def parse_config(argv: list[str] | None = None) -> TrainConfig:
    """The preset named by `--preset`, overridden by every other option given."""
    args = build_parser().parse_args(argv)
    values = load_preset(args.preset)
    values.update({name: value for name, value in vars(args).items() if name != "preset" and value is not None})
    return TrainConfig.from_dict(values)
