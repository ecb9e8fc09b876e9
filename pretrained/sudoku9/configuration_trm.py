# Copyright 2025 Samsung SAIL Montreal and the hrm-hf authors. All rights reserved.
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
"""Configuration of TRM, the Tiny Recursive Model (Jolicoeur-Martineau 2025, "Less is More: Recursive Reasoning with
Tiny Networks").

TRM keeps HRM's fields, checks and puzzle set-up and adds three of its own, so its config extends HRM's. This file
travels with every saved TRM model (``trust_remote_code``) together with ``configuration_hrm.py``, which it imports;
field names are the authors' (``config/arch/trm.yaml`` of their TinyRecursiveModels repository).
"""

from huggingface_hub.dataclasses import strict

from .configuration_hrm import HrmActConfig, check_swiglu_width, swiglu_width


TRM_POS_ENCODINGS = ("rope", "learned", "none")


@strict
class TrmConfig(HrmActConfig):
    r"""
    Configuration of [`TrmModel`], the Tiny Recursive Model with ACT halting. It takes every field of
    [`HrmActConfig`], with the authors' TRM defaults, and these differences:

    H_cycles (`int`, defaults to 3):
        Full recursions per ACT segment (each: `L_cycles` updates of `z_L`, then one of `z_H`); only the last carries
        gradients.
    L_cycles (`int`, defaults to 6):
        Updates of the latent `z_L` per recursion.
    H_layers (`int`, defaults to 0):
        Ignored, as the authors' code ignores it: one network of `L_layers` blocks updates both states.
    L_layers (`int`, defaults to 2):
        Blocks of the one network.
    pos_encodings (`str`, defaults to `"rope"`):
        `"rope"`, `"learned"` or `"none"`.
    mlp_t (`bool`, defaults to `False`):
        Replace each block's attention by a SwiGLU across the sequence (the authors' Sudoku recipe).
    puzzle_emb_len (`int`, defaults to 16):
        Prefix positions of the puzzle embedding (zero-padded past `puzzle_emb_ndim` values); 0 means
        `ceil(puzzle_emb_ndim / hidden_size)` and is stored so. Must be 0 when `puzzle_emb_ndim` is 0.
    no_ACT_continue (`bool`, defaults to `True`):
        Halt in training when `q_halt > 0`, with no Q-continue target or loss; False halts when
        `q_halt > q_continue` and learns a bootstrapped Q-continue target as HRM does.
    """

    model_type = "trm"
    positive_fields = tuple(name for name in HrmActConfig.positive_fields if name != "H_layers")
    pos_encodings_allowed = TRM_POS_ENCODINGS

    H_cycles: int = 3
    L_cycles: int = 6
    H_layers: int = 0
    L_layers: int = 2
    mlp_t: bool = False
    puzzle_emb_len: int = 16
    no_ACT_continue: bool = True

    def _check_values(self) -> None:
        super()._check_values()
        if self.H_layers < 0:
            raise ValueError(f"`H_layers` must be >= 0 (TRM ignores it), got {self.H_layers!r}.")
        if self.puzzle_emb_len < 0:
            raise ValueError(f"`puzzle_emb_len` must be >= 0, got {self.puzzle_emb_len!r}.")
        if self.puzzle_emb_ndim == 0 and self.puzzle_emb_len != 0:
            raise ValueError(
                "`puzzle_emb_len` must be 0 when `puzzle_emb_ndim` is 0 (no puzzle embedding), "
                f"got {self.puzzle_emb_len!r}."
            )
        if self.puzzle_emb_len == 0:  # the authors' "ceil(puzzle_emb_ndim / hidden_size)" positions, stored as such
            self.puzzle_emb_len = -(self.puzzle_emb_ndim // -self.hidden_size)
        if self.puzzle_emb_ndim > self.puzzle_emb_len * self.hidden_size:
            raise ValueError(
                f"`puzzle_emb_ndim` ({self.puzzle_emb_ndim}) must fit in `puzzle_emb_len * hidden_size` "
                f"({self.puzzle_emb_len} * {self.hidden_size})."
            )
        if self.mlp_t:
            check_swiglu_width(self.expansion, self.num_positions, "puzzle_emb_len + seq_len")

    @property
    def num_blocks(self) -> int:
        """Blocks of the one network: `L_layers` (`H_layers` is ignored)."""
        return self.L_layers

    def block_parameter_count(self) -> int:
        """Weights of one block: attention, or with `mlp_t` a SwiGLU across positions, then the SwiGLU."""
        width, positions = self.hidden_size, self.num_positions
        mixing = 3 * positions * swiglu_width(self.expansion, positions) if self.mlp_t else 4 * width * width
        return mixing + 3 * width * self.intermediate_size

    @property
    def num_hidden_layers(self) -> int:
        """Block applications in one forward (one ACT segment): `H_cycles * (L_cycles + 1) * L_layers`."""
        return self.H_cycles * (self.L_cycles + 1) * self.L_layers


TrmConfig.register_for_auto_class()

__all__ = ["TrmConfig"]
