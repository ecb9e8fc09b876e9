# Copyright 2025 Sapient Inc. and the hrm-hf authors. All rights reserved.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""Configuration of HRM-ACT-v1, the Hierarchical Reasoning Model with Adaptive Computation Time.

This file travels with every saved model (``trust_remote_code``), so it imports only transformers and the
standard library. Field names are the authors' release config names (``all_config.yaml``'s ``arch`` section).
"""

import dataclasses
import difflib
import math
import os

from huggingface_hub.dataclasses import strict
from transformers import GenerationConfig, PreTrainedConfig


POS_ENCODINGS = ("rope", "learned")
FORWARD_DTYPES = ("float32", "bfloat16", "float16")
LOSS_TYPES = ("stablemax_cross_entropy", "softmax_cross_entropy")
# Keys that transformers itself writes into a config.json or passes to every config's constructor; any other key
# outside the fields is a typo or another model's setting, which a plain PreTrainedConfig would keep silently.
TRANSFORMERS_KEYS = frozenset({
    "auto_map", "model_type", "name_or_path", "_name_or_path", "_commit_hash", "torch_dtype", "num_labels",
    "output_attentions", "attn_implementation", "experts_implementation", "per_layer_config",
    "_attn_implementation_internal", "_experts_implementation_internal", "custom_pipelines",
})  # fmt: skip
FLOAT32_BYTES = 4  # every parameter and buffer of the model is stored in float32


@strict
class HrmActConfig(PreTrainedConfig):
    r"""
    Configuration of [`HrmActModel`], the puzzle-solving HRM with ACT halting of Wang et al. (2025).

    vocab_size (`int`, defaults to 11):
        Token ids are `0..vocab_size-1`; id 0 is PAD in every dataset.
    seq_len (`int`, defaults to 81):
        Tokens per puzzle (81 for Sudoku, 900 for Maze and ARC).
    num_puzzle_identifiers (`int`, defaults to 1):
        Rows of the puzzle-embedding table; id `blank_puzzle_id` is the blank puzzle.
    puzzle_emb_ndim (`int`, *optional*):
        Width of a puzzle embedding; 0 turns them off. Defaults to `hidden_size`.
    H_cycles (`int`, defaults to 2):
        High-level steps per ACT segment.
    L_cycles (`int`, defaults to 2):
        Low-level steps per high-level step.
    H_layers (`int`, defaults to 4):
        Transformer blocks in the high-level module.
    L_layers (`int`, defaults to 4):
        Transformer blocks in the low-level module.
    hidden_size (`int`, defaults to 512):
        Width of every token's state.
    num_heads (`int`, defaults to 8):
        Attention heads (`head_dim = hidden_size / num_heads`).
    expansion (`float`, defaults to 4.0):
        SwiGLU width factor.
    pos_encodings (`str`, defaults to `"rope"`):
        `"rope"` or `"learned"`.
    rope_theta (`float`, defaults to 10000.0):
        RoPE base period.
    rms_norm_eps (`float`, defaults to 1e-5):
        Epsilon of the weightless RMS norms.
    halt_max_steps (`int`, defaults to 16):
        Most ACT segments per puzzle.
    halt_exploration_prob (`float`, defaults to 0.1):
        Chance, in training, of drawing a random minimum segment count for a row.
    forward_dtype (`str`, defaults to `"bfloat16"`):
        Compute dtype of activations and of the carry; parameters stay in float32.
    loss_type (`str`, defaults to `"stablemax_cross_entropy"`):
        `"stablemax_cross_entropy"` (the release's) or `"softmax_cross_entropy"`.
    blank_puzzle_id (`int`, defaults to 0):
        Puzzle identifier of padding rows.
    tie_word_embeddings (`bool`, defaults to `False`):
        Must stay False: the token embedding and the LM head are separate weights, as in the release.

    `num_attention_heads`, the name most tools read, is an alias of `num_heads`.
    """

    model_type = "hrm_act_v1"
    attribute_map = {"num_attention_heads": "num_heads"}
    # Class attributes, not fields: what `_check_values` requires, which a family that shares these checks may change.
    positive_fields = (
        "vocab_size", "seq_len", "num_puzzle_identifiers", "H_cycles", "L_cycles", "H_layers", "L_layers",
        "hidden_size", "num_heads", "halt_max_steps",
    )  # fmt: skip
    pos_encodings_allowed = POS_ENCODINGS

    vocab_size: int = 11
    seq_len: int = 81
    num_puzzle_identifiers: int = 1
    puzzle_emb_ndim: int | None = None
    H_cycles: int = 2
    L_cycles: int = 2
    H_layers: int = 4
    L_layers: int = 4
    hidden_size: int = 512
    num_heads: int = 8
    expansion: float | int = 4.0
    pos_encodings: str = "rope"
    rope_theta: float | int = 10000.0
    rms_norm_eps: float = 1e-5
    halt_max_steps: int = 16
    halt_exploration_prob: float | int = 0.1
    forward_dtype: str = "bfloat16"
    loss_type: str = "stablemax_cross_entropy"
    pad_token_id: int | None = 0
    blank_puzzle_id: int = 0
    tie_word_embeddings: bool = False

    def __post_init__(self, **kwargs):
        self._refuse_unknown_keys(kwargs)
        if self.puzzle_emb_ndim is None:
            self.puzzle_emb_ndim = self.hidden_size
        self._check_values()
        self._check_fits_in_memory()
        super().__post_init__(**kwargs)

    def _refuse_unknown_keys(self, kwargs: dict) -> None:
        """A `ValueError` naming every key that is neither a field nor transformers' own, with the closest field."""
        known = (
            TRANSFORMERS_KEYS | self.attribute_map.keys() | GenerationConfig._get_default_generation_params().keys()
        )
        unknown = sorted(key for key in kwargs if key not in known)
        if not unknown:
            return
        fields = [field.name for field in dataclasses.fields(self)]
        hints = []
        for key in unknown:
            closest = difflib.get_close_matches(key, fields, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {closest[0]!r}?)" if closest else ""))
        raise ValueError(f"{type(self).__name__}: unknown keys {', '.join(hints)}.")

    def _check_values(self) -> None:
        for name in self.positive_fields:
            if getattr(self, name) <= 0:
                raise ValueError(f"`{name}` must be a positive integer, got {getattr(self, name)!r}.")
        if self.puzzle_emb_ndim < 0:
            raise ValueError(
                f"`puzzle_emb_ndim` must be >= 0 (0 disables puzzle embeddings), got {self.puzzle_emb_ndim!r}."
            )
        for name in ("expansion", "rope_theta", "rms_norm_eps"):
            if not 0 < getattr(self, name) < math.inf:  # also false for NaN
                raise ValueError(f"`{name}` must be positive and finite, got {getattr(self, name)!r}.")
        if self.hidden_size % self.num_heads != 0:
            raise ValueError(
                f"`hidden_size` ({self.hidden_size}) must be divisible by `num_heads` ({self.num_heads})."
            )
        if (self.hidden_size // self.num_heads) % 2 != 0 and self.pos_encodings == "rope":
            raise ValueError(
                f"RoPE needs an even head_dim; `hidden_size / num_heads` is {self.hidden_size // self.num_heads}."
            )
        for name, allowed in (
            ("pos_encodings", self.pos_encodings_allowed),
            ("forward_dtype", FORWARD_DTYPES),
            ("loss_type", LOSS_TYPES),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"`{name}` must be one of {allowed}, got {getattr(self, name)!r}.")
        if not 0.0 <= self.halt_exploration_prob <= 1.0:
            raise ValueError(f"`halt_exploration_prob` must be in [0, 1], got {self.halt_exploration_prob!r}.")
        if self.tie_word_embeddings:
            raise ValueError(
                "`tie_word_embeddings` must be False: HRM's token embedding and LM head are separate weights, "
                f"got {self.tie_word_embeddings!r}."
            )
        if not 0 <= self.blank_puzzle_id < self.num_puzzle_identifiers:
            raise ValueError(
                f"`blank_puzzle_id` must be in [0, num_puzzle_identifiers={self.num_puzzle_identifiers}), "
                f"got {self.blank_puzzle_id!r}."
            )
        check_swiglu_width(self.expansion, self.hidden_size, "hidden_size")

    def _check_fits_in_memory(self) -> None:
        """Sizes whose weights alone exceed this machine's memory are refused here, with the estimate, before any
        tensor is allocated (a model is always built in host memory first)."""
        needed = FLOAT32_BYTES * self.parameter_count()
        available = physical_memory()
        if available is not None and needed > available:
            raise ValueError(
                f"{type(self).__name__}: these sizes make a model of about {self.parameter_count():,} float32 values "
                f"({needed / 2**30:,.1f} GiB), more than this machine's {available / 2**30:,.1f} GiB of memory."
            )

    @property
    def num_blocks(self) -> int:
        """Transformer blocks the model holds: `H_layers + L_layers`."""
        return self.H_layers + self.L_layers

    def block_parameter_count(self) -> int:
        """Weights of one block: attention (fused QKV and output projections) and the SwiGLU."""
        width = self.hidden_size
        return 4 * width * width + 3 * width * self.intermediate_size

    def parameter_count(self) -> int:
        """Values of the model's saved parameters and buffers, counted from the sizes (the puzzle table included)."""
        width = self.hidden_size
        count = 2 * self.vocab_size * width + 2 * width + 2  # token embedding, LM head, Q head with its bias
        count += 2 * width  # the initial states `H_init` and `L_init`
        count += self.num_puzzle_identifiers * self.puzzle_emb_ndim
        if self.pos_encodings == "learned":
            count += self.num_positions * width
        return count + self.num_blocks * self.block_parameter_count()

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def num_hidden_layers(self) -> int:
        """Block applications in one forward (one ACT segment), each recording a hidden state, as in transformers'
        `hrm_text`: `H_cycles * (L_cycles * L_layers + H_layers)`."""
        return self.H_cycles * (self.L_cycles * self.L_layers + self.H_layers)

    @property
    def puzzle_emb_len(self) -> int:
        """Prefix positions taken by the puzzle embedding: `ceil(puzzle_emb_ndim / hidden_size)`."""
        return -(self.puzzle_emb_ndim // -self.hidden_size)

    @property
    def num_positions(self) -> int:
        """Positions a block sees: the puzzle embedding's prefix, then the puzzle's tokens."""
        return self.puzzle_emb_len + self.seq_len

    @property
    def intermediate_size(self) -> int:
        """SwiGLU width of the channel MLP (see `swiglu_width`)."""
        return swiglu_width(self.expansion, self.hidden_size)


def physical_memory() -> int | None:
    """Bytes of this machine's physical memory, or None where the system does not tell."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows), or a name this system lacks
        return None


def check_swiglu_width(expansion: float, width: int, name: str) -> None:
    """A `ValueError` when `expansion` gives a SwiGLU over `width` features (`name`) no inner width at all."""
    if swiglu_width(expansion, width) == 0:
        raise ValueError(
            f"`expansion` ({expansion!r}) gives the SwiGLU over {name}={width} an inner width of 0; "
            f"it must be more than {0.75 / width:.3g}."
        )


def swiglu_width(expansion: float, width: int) -> int:
    """SwiGLU inner width for inputs of `width` features: `round(expansion * width * 2/3)` rounded up to a multiple
    of 256, as in the release (`models/layers.py`)."""
    inner = round(expansion * width * 2 / 3)
    return -(inner // -256) * 256


HrmActConfig.register_for_auto_class()

__all__ = ["HrmActConfig", "check_swiglu_width", "physical_memory", "swiglu_width"]
