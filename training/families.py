"""The model families `hrm train` can train, by the name a config's `arch:` section gives (`arch: name: hrm`).

A family is its `PreTrainedConfig`, its `PreTrainedModel`, and a plain dataclass of the architecture fields a run
chooses: the `arch:` section's fields and their command-line options. The family's config checks their values (once,
there); the vocabulary, sequence length and puzzle-table size come from the dataset. A new family is one entry in
`MODEL_FAMILIES`: the training loop builds whatever model the entry names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from transformers import PreTrainedConfig, PreTrainedModel

from ..configuration_hrm import FORWARD_DTYPES, LOSS_TYPES, POS_ENCODINGS, HrmActConfig
from ..configuration_trm import TRM_POS_ENCODINGS, TrmConfig
from ..modeling_hrm import HrmActModel
from ..modeling_trm import TrmModel


@dataclass
class HrmArguments:
    """The HRM-ACT-v1 fields a run chooses, with `HrmActConfig`'s defaults (`arch: name: hrm`)."""

    name: ClassVar[str] = "hrm"

    hidden_size: int = field(default=HrmActConfig.hidden_size, metadata={"help": "Width of every token's state."})
    num_heads: int = field(
        default=HrmActConfig.num_heads, metadata={"help": "Attention heads (head_dim = hidden_size / num_heads)."}
    )
    expansion: float = field(default=HrmActConfig.expansion, metadata={"help": "SwiGLU width factor."})
    H_layers: int = field(
        default=HrmActConfig.H_layers, metadata={"help": "Transformer blocks in the high-level module."}
    )
    L_layers: int = field(
        default=HrmActConfig.L_layers, metadata={"help": "Transformer blocks in the low-level module."}
    )
    H_cycles: int = field(default=HrmActConfig.H_cycles, metadata={"help": "High-level steps per ACT segment."})
    L_cycles: int = field(default=HrmActConfig.L_cycles, metadata={"help": "Low-level steps per high-level step."})
    pos_encodings: Literal[POS_ENCODINGS] = field(
        default=HrmActConfig.pos_encodings, metadata={"help": "Rotary (rope) or learned position encodings."}
    )
    puzzle_emb_ndim: int | None = field(
        default=HrmActConfig.puzzle_emb_ndim,
        metadata={"help": "Width of a puzzle embedding; 0 turns them off. Defaults to hidden_size."},
    )
    rope_theta: float = field(default=HrmActConfig.rope_theta, metadata={"help": "RoPE base period."})
    rms_norm_eps: float = field(
        default=HrmActConfig.rms_norm_eps, metadata={"help": "Epsilon of the weightless RMS norms."}
    )
    halt_max_steps: int = field(
        default=HrmActConfig.halt_max_steps, metadata={"help": "Most ACT segments per puzzle."}
    )
    halt_exploration_prob: float = field(
        default=HrmActConfig.halt_exploration_prob,
        metadata={"help": "Chance, in training, of drawing a random minimum segment count for a row."},
    )
    forward_dtype: Literal[FORWARD_DTYPES] = field(
        default=HrmActConfig.forward_dtype,
        metadata={"help": "Compute dtype of activations and of the carry; parameters stay in float32."},
    )
    loss_type: Literal[LOSS_TYPES] = field(
        default=HrmActConfig.loss_type,
        metadata={"help": "stablemax_cross_entropy (the release's) or softmax_cross_entropy."},
    )


@dataclass
class TrmArguments(HrmArguments):
    """The TRM fields a run chooses, with `TrmConfig`'s defaults (`arch: name: trm`): HRM's, and the three of TRM."""

    name: ClassVar[str] = "trm"

    H_layers: int = field(default=TrmConfig.H_layers, metadata={"help": "Ignored, as the authors' TRM ignores it."})
    L_layers: int = field(
        default=TrmConfig.L_layers, metadata={"help": "Blocks of the one network that updates both states."}
    )
    H_cycles: int = field(
        default=TrmConfig.H_cycles,
        metadata={"help": "Recursions per ACT segment; only the last one carries gradients."},
    )
    L_cycles: int = field(default=TrmConfig.L_cycles, metadata={"help": "Latent updates per recursion."})
    pos_encodings: Literal[TRM_POS_ENCODINGS] = field(
        default=TrmConfig.pos_encodings, metadata={"help": "Rotary (rope), learned or no (none) position encodings."}
    )
    mlp_t: bool = field(
        default=TrmConfig.mlp_t,
        metadata={"help": "Replace attention by a SwiGLU across the sequence (the authors' Sudoku recipe)."},
    )
    puzzle_emb_len: int = field(
        default=TrmConfig.puzzle_emb_len,
        metadata={"help": "Prefix positions of the puzzle embedding; 0 means ceil(puzzle_emb_ndim / hidden_size)."},
    )
    no_ACT_continue: bool = field(
        default=TrmConfig.no_ACT_continue,
        metadata={"help": "Halt when q_halt > 0, with no Q-continue loss (the authors' default)."},
    )


@dataclass(frozen=True)
class ModelFamily:
    """What the training loop needs of a model family: its config and model classes, and the fields a run sets."""

    config_class: type[PreTrainedConfig]
    model_class: type[PreTrainedModel]
    arguments: type


MODEL_FAMILIES = {
    HrmArguments.name: ModelFamily(HrmActConfig, HrmActModel, HrmArguments),
    TrmArguments.name: ModelFamily(TrmConfig, TrmModel, TrmArguments),
}
DEFAULT_FAMILY = HrmArguments.name  # the family of an `arch:` section that names none


__all__ = ["DEFAULT_FAMILY", "MODEL_FAMILIES", "HrmArguments", "ModelFamily", "TrmArguments"]
