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
"""TRM, the Tiny Recursive Model (Jolicoeur-Martineau 2025, "Less is More: Recursive Reasoning with Tiny Networks"), as
a transformers `PreTrainedModel`.

TRM is HRM with one small network instead of two and a wider gradient window, so [`TrmModel`] is an [`HrmActModel`]:
the embeddings, the puzzle table, attention (and its registry entries), the carry, the ACT forward, the loss and
metrics, `solve()` and the dtype rules are HRM's. What differs is the authors' `models/recursive_reasoning/trm.py`:
- one stack of `L_layers` blocks updates both states: `z_L = net(z_L, z_H + x)` `L_cycles` times, then
  `z_H = net(z_H, z_L)`; a segment runs `H_cycles - 1` such recursions without gradients and the last one with them;
- a block may replace its attention by a SwiGLU across the sequence (`mlp_t`);
- the puzzle prefix has `puzzle_emb_len` positions and the Q head reads the first;
- with `no_ACT_continue` (the authors' default) a row halts when `q_halt > 0`, with no Q-continue target or loss.

This file travels with every saved TRM model (`trust_remote_code`) together with `modeling_hrm.py`,
`configuration_hrm.py` and `configuration_trm.py`, which it imports; it imports nothing else but torch and
transformers.
"""

from contextlib import nullcontext

import torch
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.utils.output_capturing import OutputRecorder

from .configuration_hrm import swiglu_width
from .configuration_trm import TrmConfig
from .modeling_hrm import (
    HrmActAttention,
    HrmActMLP,
    HrmActModel,
    HrmActReasoningModule,
    rms_norm,
)


class TrmBlock(GradientCheckpointingLayer):
    """A post-norm block: `h = norm(h + mix(h)); h = norm(h + mlp(h))`, where `mix` is attention across positions or,
    with `mlp_t`, a SwiGLU across positions applied per channel and normalised over the positions.

    Returns the new hidden states and the attention map (None unless `output_attentions` with attention).
    """

    def __init__(self, config: TrmConfig, layer_idx: int):
        super().__init__()
        self.eps = config.rms_norm_eps
        positions = config.num_positions
        self.mlp_t = HrmActMLP(positions, swiglu_width(config.expansion, positions)) if config.mlp_t else None
        self.self_attn = None if config.mlp_t else HrmActAttention(config, layer_idx)
        self.mlp = HrmActMLP(config.hidden_size, config.intermediate_size)

    def forward(
        self,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attn_weights = None
        if self.mlp_t is not None:
            by_channel = hidden_states.transpose(1, 2)  # [batch, hidden, positions]
            hidden_states = rms_norm(by_channel + self.mlp_t(by_channel), self.eps).transpose(1, 2)
        else:
            attn_output, attn_weights = self.self_attn(hidden_states, position_embeddings, output_attentions)
            hidden_states = rms_norm(hidden_states + attn_output, self.eps)
        return rms_norm(hidden_states + self.mlp(hidden_states), self.eps), attn_weights


class TrmModel(HrmActModel):
    """TRM: one recursive network refines a latent `z_L` and an answer state `z_H`, run one ACT segment per call.

    Called, solved, saved and loaded exactly like [`HrmActModel`] (see there for the carry protocol and the dtypes):

    ```python
    out = model(input_ids=x, puzzle_identifiers=p, labels=y)  # one ACT segment; every row starts fresh
    out = model(input_ids=x2, puzzle_identifiers=p2, labels=y2, carry=out.carry)  # halted rows take new puzzles
    ```
    """

    config: TrmConfig
    config_class = TrmConfig
    _no_split_modules = ["TrmBlock"]
    # HRM's recorders, with TRM's block: a hidden state per block application (`config.num_hidden_layers` of them).
    _can_record_outputs = {
        "hidden_states": TrmBlock,
        "attentions": OutputRecorder(HrmActAttention, index=1),
        "cycle_states": OutputRecorder(HrmActReasoningModule, index=0),
    }

    def build_reasoning_modules(self, config: TrmConfig) -> None:
        """The one network that updates both states (the authors' `L_level`; `H_layers` is ignored, as they do)."""
        self.L_module = HrmActReasoningModule(config, config.L_layers, block=TrmBlock)

    @property
    def learns_q_continue(self) -> bool:
        """Whether training bootstraps a Q-continue target (and adds its loss): only without `no_ACT_continue`."""
        return not self.config.no_ACT_continue

    def q_halts(self, q_halt: torch.Tensor, q_continue: torch.Tensor) -> torch.Tensor:
        """Rows whose Q head chooses to stop: `q_halt > 0` with `no_ACT_continue`, else `q_halt > q_continue`."""
        return q_halt > 0 if self.config.no_ACT_continue else q_halt > q_continue

    def run_segment(
        self, z_H: torch.Tensor, z_L: torch.Tensor, data: dict[str, torch.Tensor], output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One segment: `H_cycles` recursions of `L_cycles` latent updates and one answer update, of which only the
        last recursion, all of it, carries gradients (the input embedding is computed once, with gradients).

        Returns the new (detached) `z_H`, `z_L`, the logits and the Q (halt, continue) logits in float32;
        `output_attentions` makes every block compute its attention map (the eager path), for a recorder to take.
        """
        config = self.config
        position_embeddings = self.rotary_emb() if config.pos_encodings == "rope" else None
        injection = self.embed_inputs(data["input_ids"], data["puzzle_identifiers"])
        for h_step in range(config.H_cycles):
            with nullcontext() if h_step == config.H_cycles - 1 else torch.no_grad():
                for _ in range(config.L_cycles):
                    z_L = self.L_module(z_L, z_H + injection, position_embeddings, output_attentions)
                z_H = self.L_module(z_H, z_L, position_embeddings, output_attentions)
        logits = self.lm_head(z_H)[:, self.puzzle_emb_len :]
        q_logits = self.q_head(z_H[:, 0]).float()
        return z_H.detach(), z_L.detach(), logits, q_logits[..., 0], q_logits[..., 1]


# `save_pretrained` then writes `auto_map` and copies this file and the files it imports beside the weights.
TrmModel.register_for_auto_class("AutoModel")

__all__ = ["TrmBlock", "TrmModel"]
