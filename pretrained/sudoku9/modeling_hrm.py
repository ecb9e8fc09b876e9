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
"""HRM-ACT-v1 (Wang et al. 2025) as a transformers `PreTrainedModel`.

One call of [`HrmActModel`] is one ACT segment: rows whose previous segment halted start a fresh puzzle from the
batch, the others keep thinking on theirs; the returned carry goes into the next call. The numbers are those of the
authors' release (`models/hrm/hrm_act_v1.py`, `models/layers.py`, `models/losses.py`).

This file travels with every saved model (`trust_remote_code`): it imports only torch, transformers and
`configuration_hrm`.
"""

import math
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS, AttentionInterface
from transformers.utils import ModelOutput, can_return_tuple, logging
from transformers.utils.output_capturing import OutputRecorder, capture_outputs

from .configuration_hrm import HrmActConfig


logger = logging.get_logger(__name__)

try:
    from flash_attn.cute import flash_attn_func as fa4_func
except Exception:  # not installed, or installed for another CUDA: either way FlashAttention 4 is unavailable
    fa4_func = None

IGNORE_LABEL_ID = -100
NO_TOKEN = -1  # the prediction at a position whose logits are not finite: no token id, no label
HALTING_MODES = ("adaptive", "fixed")  # `solve`: stop a row when its Q head says so, or after `max_steps`
# Named without "flash" and without a "/" so that transformers neither treats it as one of its own FlashAttention
# flavours nor tries to fetch a Hub kernel for it.
FA4_ATTENTION = "hrm_fa4"


def fa4_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    """Non-causal FlashAttention 4 (`flash_attn.cute`) behind the transformers attention interface.

    Takes `[batch, heads, seq, head_dim]` like every registered function and returns `[batch, seq, heads, head_dim]`.
    """
    if attention_mask is not None or dropout:
        raise ValueError(f"`{FA4_ATTENTION}` supports neither attention masks nor dropout.")
    out = fa4_func(
        query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2), softmax_scale=scaling, causal=False
    )
    out = out[0] if isinstance(out, tuple) else out
    return out.contiguous(), None


AttentionInterface.register(FA4_ATTENTION, fa4_attention_forward)


FA4_NOT_INSTALLED = "flash_attn.cute (pip install flash-attn-4) does not import"


def fa4_unavailable_reason(forward_dtype: torch.dtype) -> str | None:
    """Why FlashAttention 4 cannot run here, or None when it can; `FA4_NOT_INSTALLED` only where everything else
    (a Hopper or newer GPU, a half-precision `forward_dtype`) would let it run."""
    if forward_dtype not in (torch.bfloat16, torch.float16):
        return f"forward_dtype is {forward_dtype}, FlashAttention needs bfloat16 or float16"
    if not torch.cuda.is_available():
        return "no CUDA GPU"
    if torch.cuda.get_device_capability()[0] < 9:
        return "FlashAttention 4 needs a Hopper or newer GPU"
    if fa4_func is None:
        return FA4_NOT_INSTALLED
    return None


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    # Float32 scores and products, as FlashAttention (the release's kernel) accumulates them, even for bfloat16 inputs.
    attn_weights = torch.matmul(query.float(), key.float().transpose(2, 3)) * scaling
    if attention_mask is not None:
        attn_weights = attn_weights + attention_mask
    attn_weights = F.dropout(F.softmax(attn_weights, dim=-1), p=dropout, training=module.training)
    attn_output = torch.matmul(attn_weights, value.float()).to(query.dtype).transpose(1, 2).contiguous()
    return attn_output, attn_weights


def rms_norm(hidden_states: torch.Tensor, eps: float) -> torch.Tensor:
    """Weightless RMS norm computed in float32 and cast back."""
    x = hidden_states.float()
    return (x * torch.rsqrt(x.square().mean(-1, keepdim=True) + eps)).to(hidden_states.dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(
    q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate `[batch, seq, heads, head_dim]` queries and keys in the dtype of `cos` (float32), then cast back.

    q and k are cast once and both terms added in float32, as the release does: in bfloat16 the backward then rounds
    one gradient per tensor instead of adding two rounded ones, which changes the weights from the first step.
    """
    dtype = q.dtype
    cos, sin = cos.unsqueeze(-2), sin.unsqueeze(-2)
    q, k = q.to(cos.dtype), k.to(cos.dtype)
    return (q * cos + rotate_half(q) * sin).to(dtype), (k * cos + rotate_half(k) * sin).to(dtype)


def jax_trunc_normal_(tensor: torch.Tensor, std: float) -> torch.Tensor:
    """Truncated normal on [-2, 2] standard deviations whose *truncated* std is `std` (JAX's convention).

    `torch.nn.init.trunc_normal_` truncates a normal of std `std`, which leaves a smaller std; this widens it first.
    """
    if std == 0:
        return init.zeros_(tensor)
    lower, upper = -2.0, 2.0
    pdf_l, pdf_u = (math.exp(-0.5 * b * b) / math.sqrt(2 * math.pi) for b in (lower, upper))
    z = 0.5 * (math.erf(upper / math.sqrt(2)) - math.erf(lower / math.sqrt(2)))
    truncated_var = 1 - (upper * pdf_u - lower * pdf_l) / z - ((pdf_u - pdf_l) / z) ** 2
    scaled_std = std / math.sqrt(truncated_var)
    return init.trunc_normal_(tensor, std=scaled_std, a=lower * scaled_std, b=upper * scaled_std)


def stablemax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-token cross-entropy under stablemax (`s(x) = x + 1` for x >= 0, else `1 / (1 - x)`), in float64."""
    x = logits.to(torch.float64)
    # The release's epsilon keeps the unused branch finite at x == 1, where its gradient would otherwise be NaN.
    s = torch.where(x < 0, 1 / (1 - x + 1e-30), x + 1)
    log_probs = torch.log(s / s.sum(-1, keepdim=True))
    valid = labels != IGNORE_LABEL_ID
    picked = torch.gather(log_probs, -1, torch.where(valid, labels, 0).long().unsqueeze(-1)).squeeze(-1)
    return -torch.where(valid, picked, 0)


def softmax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-token softmax cross-entropy in float32 (0 where ignored)."""
    losses = F.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]),
        labels.long().reshape(-1),
        ignore_index=IGNORE_LABEL_ID,
        reduction="none",
    )
    return losses.view(labels.shape)


def predicted_tokens(logits: torch.Tensor) -> torch.Tensor:
    """The argmax token of each position. argmax takes a NaN for the largest logit, so a position whose logits are not
    all finite predicts `NO_TOKEN` (-1, neither a token nor a label): a diverged model is never scored as right."""
    return torch.where(logits.isfinite().all(-1), logits.argmax(-1), NO_TOKEN)


LOSS_FUNCTIONS = {"stablemax_cross_entropy": stablemax_cross_entropy, "softmax_cross_entropy": softmax_cross_entropy}


class HrmActLinear(nn.Linear):
    """A linear layer whose weights are built and stored in float32, whatever the default dtype, and cast to the
    input's dtype on use."""

    def __init__(self, in_features: int, out_features: int, bias: bool, device: torch.device | str | None = None):
        super().__init__(in_features, out_features, bias, device=device, dtype=torch.float32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias.to(x.dtype) if self.bias is not None else None
        return F.linear(x, self.weight.to(x.dtype), bias)


class HrmActRotaryEmbedding(nn.Module):
    """Float32 cos/sin tables for every position of the model's sequence (puzzle prefix included)."""

    def __init__(self, config: HrmActConfig):
        super().__init__()
        self.config = config
        cos, sin = self.compute_tables(config)
        self.cos_cached = nn.Buffer(cos, persistent=False)
        self.sin_cached = nn.Buffer(sin, persistent=False)

    @staticmethod
    def compute_tables(config: HrmActConfig, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        dim = config.head_dim
        inv_freq = 1.0 / (config.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.float32, device=device) / dim))
        positions = torch.arange(config.num_positions, dtype=torch.float32, device=device)
        angles = torch.outer(positions, inv_freq)
        emb = torch.cat((angles, angles), dim=-1)
        return emb.cos(), emb.sin()

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cos_cached, self.sin_cached


class HrmActPuzzleEmbedding(nn.Module):
    """The per-puzzle embedding table, trained by sparse SignSGD rather than by the dense optimizer.

    The table is a persistent buffer, not a parameter: the dense optimizer, weight decay and DDP's gradient all-reduce
    never see it. A training forward copies the looked-up rows into `rows`, a leaf tensor that requires grad, and their
    ids into `ids`, as the authors' `CastedSparseEmbedding` does (`models/sparse_embedding.py`): the forward then
    creates no tensor that requires grad, so `torch.compile` takes it whole, and backward leaves the row gradients in
    `rows.grad`, which [`HrmActModel.pop_puzzle_emb_grad`] hands the training loop.
    """

    def __init__(self, config: HrmActConfig):
        super().__init__()
        self.weight = nn.Buffer(
            torch.zeros(config.num_puzzle_identifiers, config.puzzle_emb_ndim, dtype=torch.float32)
        )
        self.rows = torch.zeros(0, config.puzzle_emb_ndim, dtype=torch.float32)
        self.ids = torch.zeros(0, dtype=torch.int32)

    def forward(self, puzzle_identifiers: torch.Tensor) -> torch.Tensor:
        if not (self.training and torch.is_grad_enabled()):
            return self.weight[puzzle_identifiers.long()]
        self.size_rows(puzzle_identifiers)
        with torch.no_grad():
            self.rows.copy_(self.weight[puzzle_identifiers.long()])
            self.ids.copy_(puzzle_identifiers)
        return self.rows

    def size_rows(self, puzzle_identifiers: torch.Tensor) -> None:
        """(Re)allocate `rows` and `ids` unless they already fit this batch (its size, the table's device, the ids'
        dtype). A compiled forward cannot create the leaf, so call this before it (the training loop does, through
        [`HrmActModel.size_puzzle_rows`]); otherwise the compiled forward breaks its graph here once, then recompiles."""
        batch_size, device = puzzle_identifiers.shape[0], self.weight.device
        if (
            self.rows.shape[0] == batch_size
            and self.rows.device == device
            and self.ids.dtype == puzzle_identifiers.dtype
        ):
            return
        # Plain attributes, not buffers: neither saved, nor moved by `.to()`, nor seen by DDP.
        self.rows = torch.zeros(batch_size, self.weight.shape[1], dtype=torch.float32, device=device).requires_grad_()
        self.ids = torch.zeros(batch_size, dtype=puzzle_identifiers.dtype, device=device)

    def pop_grad(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The ids and row gradients of the last training forward's backward, or None when no backward filled them
        since the last call; the gradient is taken, so the next backward starts from none."""
        grad = self.rows.grad
        if grad is None:
            return None
        self.rows.grad = None
        return self.ids.clone(), grad


class HrmActAttention(nn.Module):
    """Non-causal multi-head attention with one fused `[q | k | v]` projection and RoPE on q and k."""

    def __init__(self, config: HrmActConfig, layer_idx: int):
        super().__init__()
        self.config = config
        self.layer_idx = layer_idx
        self.num_heads = config.num_heads
        self.head_dim = config.head_dim
        self.scaling = self.head_dim**-0.5
        self.is_causal = False
        self.qkv_proj = HrmActLinear(config.hidden_size, 3 * config.hidden_size, bias=False)
        self.o_proj = HrmActLinear(config.hidden_size, config.hidden_size, bias=False)

    def forward(
        self,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The attention output and, from the eager path (which `output_attentions` selects), the attention map."""
        batch, seq, _ = hidden_states.shape
        qkv = self.qkv_proj(hidden_states).view(batch, seq, 3 * self.num_heads, self.head_dim)
        query, key, value = qkv.split(self.num_heads, dim=2)
        if position_embeddings is not None:
            query, key = apply_rotary_pos_emb(query, key, *position_embeddings)
        # Only the eager path materialises the attention map, so asking for it selects that path (as transformers does).
        attention_interface: Callable = (
            eager_attention_forward
            if output_attentions
            else ALL_ATTENTION_FUNCTIONS.get_interface(self.config._attn_implementation, eager_attention_forward)
        )
        attn_output, attn_weights = attention_interface(
            self, query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2), None, scaling=self.scaling
        )
        return self.o_proj(attn_output.reshape(batch, seq, -1)), attn_weights


class HrmActMLP(nn.Module):
    """SwiGLU with one fused projection whose first half is the gate."""

    def __init__(self, width: int, intermediate_size: int):
        super().__init__()
        self.gate_up_proj = HrmActLinear(width, 2 * intermediate_size, bias=False)
        self.down_proj = HrmActLinear(intermediate_size, width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * up)


class HrmActBlock(GradientCheckpointingLayer):
    """A post-norm transformer block: `h = norm(h + attn(h)); h = norm(h + mlp(h))`.

    Returns the new hidden states and the attention map (None unless `output_attentions`).
    """

    def __init__(self, config: HrmActConfig, layer_idx: int):
        super().__init__()
        self.eps = config.rms_norm_eps
        self.self_attn = HrmActAttention(config, layer_idx)
        self.mlp = HrmActMLP(config.hidden_size, config.intermediate_size)

    def forward(
        self,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attn_output, attn_weights = self.self_attn(hidden_states, position_embeddings, output_attentions)
        hidden_states = rms_norm(hidden_states + attn_output, self.eps)
        return rms_norm(hidden_states + self.mlp(hidden_states), self.eps), attn_weights


class HrmActReasoningModule(nn.Module):
    """The H or the L module: `x = state + injection`, then its blocks in turn."""

    def __init__(self, config: HrmActConfig, num_layers: int, block: type[nn.Module] = HrmActBlock):
        super().__init__()
        self.layers = nn.ModuleList(block(config, layer_idx) for layer_idx in range(num_layers))

    def forward(
        self,
        state: torch.Tensor,
        injection: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None,
        output_attentions: bool = False,
    ) -> torch.Tensor:
        """Run the blocks; `output_attentions` makes each compute its attention map (the eager path)."""
        hidden_states = state + injection
        for layer in self.layers:
            # Hidden states go in positionally, as `GradientCheckpointingLayer` needs them for a reentrant checkpoint.
            hidden_states, _ = layer(hidden_states, position_embeddings, output_attentions=output_attentions)
        return hidden_states


@dataclass
class HrmActCarry:
    """What one ACT segment hands the next: the recurrent states, each row's segment count and halting flag, and the
    batch rows (`input_ids`, `puzzle_identifiers`, and `labels` when given) each row is working on."""

    z_H: torch.Tensor
    z_L: torch.Tensor
    steps: torch.Tensor
    halted: torch.Tensor
    current_data: dict[str, torch.Tensor]


# A pytree node, so that `torch.export` and `torch.compile` see through the carry to its tensors.
torch.export.register_dataclass(HrmActCarry)


@dataclass
class HrmActSegmentOutput(ModelOutput):
    """What one pass of H/L cycles computes (see [`HrmActModel.recorded_segment`]): the new detached states, the
    logits and the Q logits, and whatever outputs were recorded on the way."""

    z_H: torch.Tensor | None = None
    z_L: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    q_halt_logits: torch.Tensor | None = None
    q_continue_logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None
    cycle_states: tuple[torch.Tensor, ...] | None = None


@dataclass
class HrmActOutput(ModelOutput):
    """Output of one ACT segment.

    loss: `(lm_loss + 0.5 * (q_halt_loss + q_continue_loss))` summed over rows, divided by the batch size.
    logits: `[batch, seq_len, vocab]` in the forward dtype.
    q_halt_logits, q_continue_logits: `[batch]` float32.
    target_q_continue: `[batch]` bootstrap target, in training with `halt_max_steps > 1` only.
    carry: pass it back as `carry=` on the next call.
    metrics: sums over the rows that halted at this segment (the authors' `ACTLossHead`): `count`, `accuracy`,
        `exact_accuracy`, `q_halt_accuracy`, `steps`, `lm_loss`, `q_halt_loss` and, in training, `q_continue_loss`.
    hidden_states: with `output_hidden_states=True`, the input of the segment's first block application, then the
        output of every block application in the order computed (`config.num_hidden_layers + 1` tensors, as
        transformers' `hrm_text` records them; the last is the segment's `z_H`). Each is
        `[batch, puzzle_emb_len + seq_len, hidden]` in the forward dtype, puzzle-embedding prefix included.
    attentions: with `output_attentions=True`, the attention map of every block application in the order computed
        (`config.num_hidden_layers` tensors of `[batch, heads, seq, seq]` float32, `seq` counting the prefix).
    cycle_states: with `output_cycle_states=True`, the states of every cycle in the order computed: for each
        high-level cycle its `L_cycles` low-level states `z_L`, then its `z_H` (`H_cycles * (L_cycles + 1)` tensors,
        so the last two are the segment's `z_L` and `z_H`), shaped as `hidden_states`.
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    q_halt_logits: torch.Tensor | None = None
    q_continue_logits: torch.Tensor | None = None
    target_q_continue: torch.Tensor | None = None
    carry: HrmActCarry | None = None
    metrics: dict[str, torch.Tensor] | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None
    cycle_states: tuple[torch.Tensor, ...] | None = None


def keep_float32_storage(config: HrmActConfig) -> None:
    """Point `config.dtype` back at float32 (the stored weights' dtype) when a load or `from_config` asked for
    another, and say in one line what that `dtype` does."""
    requested = getattr(torch, config.dtype) if isinstance(config.dtype, str) else config.dtype
    if requested in (None, torch.float32):
        return
    logger.warning_once(
        f"HRM keeps its weights in float32 and computes in `forward_dtype` ({config.forward_dtype}): `dtype={requested}` "
        "changes neither. Set `forward_dtype` to change the compute dtype."
    )
    config.dtype = torch.float32


class HrmActPreTrainedModel(PreTrainedModel):
    config: HrmActConfig
    config_class = HrmActConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    _no_split_modules = ["HrmActBlock"]
    _supports_sdpa = True
    _supports_flash_attn = False
    _supports_flex_attn = False
    _supports_attention_backend = True
    supports_gradient_checkpointing = True
    # The loss is a mean over the batch's rows, so `Trainer` must divide it by the accumulation steps itself (and not
    # hand the model `num_items_in_batch`, nor scale it by the process count).
    accepts_loss_kwargs = False
    _can_compile_fullgraph = True
    # What `output_hidden_states`, `output_attentions` and `output_cycle_states` record, through forward hooks.
    _can_record_outputs = {
        "hidden_states": HrmActBlock,
        "attentions": OutputRecorder(HrmActAttention, index=1),
        "cycle_states": OutputRecorder(HrmActReasoningModule, index=0),
    }

    def _check_and_adjust_attn_implementation(
        self, attn_implementation: str | None, is_init_check: bool = False, allow_all_kernels: bool = False
    ) -> str:
        if attn_implementation is None:
            reason = fa4_unavailable_reason(getattr(torch, self.config.forward_dtype))
            attn_implementation = FA4_ATTENTION if reason is None else "sdpa"
            # A warning only where a missing package is all that keeps a GPU from FlashAttention 4.
            log_once = logger.warning_once if reason == FA4_NOT_INSTALLED else logger.info_once
            log_once(
                f"HRM attention: {attn_implementation}"
                + (f" (FlashAttention 4 not used: {reason})." if reason else ".")
            )
        elif attn_implementation == FA4_ATTENTION and fa4_func is None:
            raise ImportError(
                f"`attn_implementation={FA4_ATTENTION!r}` needs FlashAttention 4, but `flash_attn.cute` does not import: "
                "`pip install flash-attn-4` (Hopper or newer GPU, bfloat16 or float16 `forward_dtype`)."
            )
        return super()._check_and_adjust_attn_implementation(attn_implementation, is_init_check, allow_all_kernels)

    # trf-ignore: TRF018 -- the release's init (JAX-style truncated normals, a Q head that starts at "never halt")
    # replaces the library's for every module with weights.
    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        config = self.config
        if isinstance(module, HrmActLinear):
            if module.bias is not None:
                # The Q head is the only linear layer with a bias: it starts at "never halt" (logits -5).
                init.zeros_(module.weight)
                init.constant_(module.bias, -5.0)
            else:
                jax_trunc_normal_(module.weight, std=module.in_features**-0.5)
        elif isinstance(module, nn.Embedding):
            jax_trunc_normal_(module.weight, std=config.hidden_size**-0.5)
        elif isinstance(module, HrmActPuzzleEmbedding):
            init.zeros_(module.weight)
        elif isinstance(module, HrmActRotaryEmbedding):
            # Non-persistent buffers come back from a meta-device load uninitialised: rebuild them.
            cos, sin = module.compute_tables(config, device=module.cos_cached.device)
            init.copy_(module.cos_cached, cos)
            init.copy_(module.sin_cached, sin)
        elif isinstance(module, HrmActModel):
            jax_trunc_normal_(module.H_init, std=1.0)
            jax_trunc_normal_(module.L_init, std=1.0)


class HrmActModel(HrmActPreTrainedModel):
    """HRM-ACT-v1: a high-level (H) and a low-level (L) recurrent transformer, run one ACT segment per call.

    ```python
    out = model(input_ids=x, puzzle_identifiers=p, labels=y, carry=None)  # carry=None: every row starts fresh
    out = model(input_ids=x2, puzzle_identifiers=p2, labels=y2, carry=out.carry)  # halted rows take new puzzles
    ```

    Dtypes: every parameter and the puzzle table are stored in float32 and built so, whatever `dtype=` asks
    (`_keep_in_fp32_modules_strict` names every module); `config.forward_dtype` is the compute dtype of the
    activations, the logits and the carry (`H_init`/`L_init` are stored in it). `from_pretrained(dtype=...)` or
    `from_config(..., dtype=...)` with another dtype changes nothing, says so in one log line, and leaves
    `config.dtype` at float32; to compute in another dtype, set `forward_dtype`.
    """

    def __init__(self, config: HrmActConfig):
        keep_float32_storage(config)
        super().__init__(config)
        self.forward_dtype = getattr(torch, config.forward_dtype)
        self.puzzle_emb_len = config.puzzle_emb_len
        self.embed_scale = math.sqrt(config.hidden_size)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, dtype=torch.float32)
        # The released checkpoints (Sudoku, Maze, ARC) have puzzle embeddings (`puzzle_emb_ndim = hidden_size`);
        # `puzzle_emb_ndim = 0` is the release's option without them.
        if config.puzzle_emb_ndim > 0:
            self.puzzle_emb = HrmActPuzzleEmbedding(config)
            # Every rank applies the same SignSGD update, so DDP must neither all-reduce nor broadcast the table.
            self._ddp_params_and_buffers_to_ignore = ["puzzle_emb.weight"]
        # The released checkpoints use RoPE; `learned` positions are the release's other option.
        if config.pos_encodings == "rope":
            self.rotary_emb = HrmActRotaryEmbedding(config)
        elif config.pos_encodings == "learned":
            self.embed_positions = nn.Embedding(config.num_positions, config.hidden_size, dtype=torch.float32)
        self.build_reasoning_modules(config)
        self.H_init = nn.Buffer(torch.empty(config.hidden_size, dtype=self.forward_dtype))
        self.L_init = nn.Buffer(torch.empty(config.hidden_size, dtype=self.forward_dtype))
        self.lm_head = HrmActLinear(config.hidden_size, config.vocab_size, bias=False)
        self.q_head = HrmActLinear(config.hidden_size, 2, bias=True)
        # Every module holds float32 tensors only (`H_init`/`L_init`, in the forward dtype, are the model's own):
        # loading with `dtype=torch.bfloat16` neither rounds nor widens a tensor, so not a single output changes.
        self._keep_in_fp32_modules_strict = [name for name, _ in self.named_children()]
        self.post_init()

    def build_reasoning_modules(self, config: HrmActConfig) -> None:
        """The recurrent stacks `run_segment` applies: HRM's high-level and low-level modules."""
        self.H_module = HrmActReasoningModule(config, config.H_layers)
        self.L_module = HrmActReasoningModule(config, config.L_layers)

    @property
    def learns_q_continue(self) -> bool:
        """Whether training bootstraps a Q-continue target (and adds its loss): always, in HRM."""
        return True

    def q_halts(self, q_halt: torch.Tensor, q_continue: torch.Tensor) -> torch.Tensor:
        """Rows whose Q head chooses to stop: HRM's rule is `q_halt > q_continue`."""
        return q_halt > q_continue

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embed_tokens = value

    def set_output_embeddings(self, value: nn.Linear) -> None:
        """Install `value`'s weight as the LM head, keeping the head that casts it to the forward dtype on use
        (`resize_token_embeddings` hands over a plain `nn.Linear`)."""
        lm_head = HrmActLinear(value.in_features, value.out_features, bias=False, device="meta")
        lm_head.weight = value.weight
        self.lm_head = lm_head

    def num_puzzle_table_values(self) -> int:
        """Values in the puzzle-embedding table, which `num_parameters()` leaves out because the table is a buffer
        (trained by sparse SignSGD); on ARC-sized datasets it outnumbers all the parameters."""
        table = getattr(self, "puzzle_emb", None)
        return 0 if table is None else table.weight.numel()

    def size_puzzle_rows(self, puzzle_identifiers: torch.Tensor) -> None:
        """Ready the puzzle embedding's gradient leaf for a training batch with these ids, so that a compiled
        training forward runs as one graph from its first call; a no-op without puzzle embeddings."""
        table = getattr(self, "puzzle_emb", None)
        if table is not None:
            table.size_rows(puzzle_identifiers)

    def pop_puzzle_emb_grad(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Ids and row gradients of the puzzle embeddings used by the last training forward, then forget them.

        None when the model has no puzzle embeddings or no backward of a training forward ran since the last call.
        """
        table = getattr(self, "puzzle_emb", None)
        return None if table is None else table.pop_grad()

    def embed_inputs(self, input_ids: torch.Tensor, puzzle_identifiers: torch.Tensor) -> torch.Tensor:
        """Token embeddings with the puzzle-embedding prefix (and learned positions), scaled by `sqrt(hidden)`."""
        # Looked up in a forward-dtype copy of the table, as the release does, so that in bfloat16 the table's
        # gradient is scatter-added in bfloat16 (a float32 lookup then cast accumulates it in float32).
        embedding = F.embedding(input_ids.long(), self.embed_tokens.weight.to(self.forward_dtype))
        if self.puzzle_emb_len:
            prefix = self.puzzle_emb(puzzle_identifiers)
            prefix = F.pad(prefix, (0, self.puzzle_emb_len * self.config.hidden_size - prefix.shape[-1]))
            prefix = prefix.view(-1, self.puzzle_emb_len, self.config.hidden_size).to(self.forward_dtype)
            embedding = torch.cat((prefix, embedding), dim=-2)
        # The release's `learned` positions (its checkpoints use RoPE instead), added and scaled by 1/sqrt(2) to keep
        # the variance.
        if self.config.pos_encodings == "learned":
            embedding = 0.707106781 * (embedding + self.embed_positions.weight.to(self.forward_dtype))
        return self.embed_scale * embedding

    def run_segment(
        self, z_H: torch.Tensor, z_L: torch.Tensor, data: dict[str, torch.Tensor], output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One segment of H/L cycles with the one-step gradient: only the last L and the last H pass carry grad.

        Returns the new (detached) `z_H`, `z_L`, the logits and the Q (halt, continue) logits in float32;
        `output_attentions` makes every block compute its attention map (the eager path), for a recorder to take.
        """
        config = self.config
        # RoPE in the released checkpoints; `learned` positions were added to the embedding instead.
        position_embeddings = self.rotary_emb() if config.pos_encodings == "rope" else None
        injection = self.embed_inputs(data["input_ids"], data["puzzle_identifiers"])
        for h_step in range(config.H_cycles):
            last_cycle = h_step == config.H_cycles - 1
            for l_step in range(config.L_cycles):
                with nullcontext() if last_cycle and l_step == config.L_cycles - 1 else torch.no_grad():
                    z_L = self.L_module(z_L, z_H + injection, position_embeddings, output_attentions)
            with nullcontext() if last_cycle else torch.no_grad():
                z_H = self.H_module(z_H, z_L, position_embeddings, output_attentions)
        logits = self.lm_head(z_H)[:, self.puzzle_emb_len :]
        q_logits = self.q_head(z_H[:, 0]).float()
        return z_H.detach(), z_L.detach(), logits, q_logits[..., 0], q_logits[..., 1]

    @capture_outputs
    def recorded_segment(
        self,
        z_H: torch.Tensor,
        z_L: torch.Tensor,
        data: dict[str, torch.Tensor],
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        output_cycle_states: bool | None = None,
    ) -> HrmActSegmentOutput:
        """`run_segment` with the outputs transformers' `capture_outputs` records for the `output_*` flags given
        (each defaults to the config's): the recording covers this pass only, not training's bootstrap pass that
        `forward` runs after it."""
        # The eager attention path, which alone materialises the maps, whenever they are recorded.
        record_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        z_H, z_L, logits, q_halt, q_continue = self.run_segment(z_H, z_L, data, record_attentions)
        return HrmActSegmentOutput(z_H=z_H, z_L=z_L, logits=logits, q_halt_logits=q_halt, q_continue_logits=q_continue)

    def initial_carry(self, batch: dict[str, torch.Tensor]) -> HrmActCarry:
        """A carry whose rows are all halted, so the next call starts every row on its batch row."""
        batch_size = batch["input_ids"].shape[0]
        device = batch["input_ids"].device
        return HrmActCarry(
            z_H=torch.zeros(self.state_shape(batch_size), dtype=self.forward_dtype, device=device),
            z_L=torch.zeros(self.state_shape(batch_size), dtype=self.forward_dtype, device=device),
            steps=torch.zeros(batch_size, dtype=torch.int32, device=device),
            halted=torch.ones(batch_size, dtype=torch.bool, device=device),
            current_data={key: torch.empty_like(value) for key, value in batch.items()},
        )

    def reset_halted_rows(self, carry: HrmActCarry, batch: dict[str, torch.Tensor]) -> HrmActCarry:
        """Halted rows restart from `H_init`/`L_init` with step 0 on their new batch row; others keep their state."""
        halted = carry.halted
        z_H = torch.where(halted.view(-1, 1, 1), self.H_init.to(self.forward_dtype), carry.z_H)
        z_L = torch.where(halted.view(-1, 1, 1), self.L_init.to(self.forward_dtype), carry.z_L)
        current_data = {
            key: torch.where(halted.view((-1,) + (1,) * (value.ndim - 1)), value, carry.current_data[key])
            for key, value in batch.items()
        }
        return HrmActCarry(z_H, z_L, torch.where(halted, 0, carry.steps), halted, current_data)

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor,
        puzzle_identifiers: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        carry: HrmActCarry | None = None,
        attention_mask: None = None,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        output_cycle_states: bool | None = None,
    ) -> HrmActOutput | tuple:
        """Run one ACT segment.

        The arguments are explicit, so an unknown name (such as the old `puzzle_identifier`) raises a `TypeError`
        naming it. Besides the model's own inputs they are the ones transformers' tools pass to any model.

        Args:
            input_ids: `[batch, seq_len]` token ids in `[0, vocab_size)`.
            puzzle_identifiers: `[batch]` ids in `[0, num_puzzle_identifiers)`; defaults to the blank puzzle.
            labels: `[batch, seq_len]` target ids, `-100` where no loss is taken. Gives `loss` and `metrics`.
            carry: the previous call's `out.carry`; None starts every row fresh.
            attention_mask: must be None: every position attends to every other (a puzzle has no padding to hide,
                PAD tokens included), so a mask would be a request the model cannot honour.
            output_hidden_states: return the hidden state of every block application (see [`HrmActOutput`]);
                defaults to `config.output_hidden_states`.
            output_attentions: return every block's attention map, computed by the eager path; defaults to
                `config.output_attentions`.
            output_cycle_states: return the state of every H and L cycle of the segment, in the order computed.
            return_dict: False returns `HrmActOutput.to_tuple()` (its non-None fields in order); defaults to
                `config.return_dict`.
        """
        if attention_mask is not None:
            raise ValueError(
                "`attention_mask` must be None: every puzzle position attends to every other, "
                f"got a mask of shape {list(attention_mask.shape)}."
            )
        if output_hidden_states not in (None, True, False):
            hint = (
                " (the state of every cycle is `output_cycle_states=True`)" if output_hidden_states == "cycles" else ""
            )
            raise ValueError(f"`output_hidden_states` must be True or False, got {output_hidden_states!r}{hint}.")
        _check_tensors(input_ids=input_ids, puzzle_identifiers=puzzle_identifiers, labels=labels)
        batch = {"input_ids": input_ids, "puzzle_identifiers": self.puzzle_ids_or_blank(input_ids, puzzle_identifiers)}
        if labels is not None:
            batch["labels"] = labels
        self.check_inputs(batch, carry)
        # Training data had its ids checked once where it entered (the dataset's load), and reading ids back to the
        # host would stall every step on a GPU and split a compiled graph; every other call checks them here.
        if not self.training and not torch.compiler.is_compiling():
            self.check_id_ranges(batch)
        carry = self.reset_halted_rows(carry if carry is not None else self.initial_carry(batch), batch)
        # Only the flags given go on, so that the recorder takes the config's for the others.
        flags = {"output_hidden_states": output_hidden_states, "output_attentions": output_attentions,
                 "output_cycle_states": output_cycle_states}  # fmt: skip
        given = {name: value for name, value in flags.items() if value is not None}
        segment = self.recorded_segment(carry.z_H, carry.z_L, carry.current_data, return_dict=True, **given)
        z_H, z_L, logits = segment.z_H, segment.z_L, segment.logits
        q_halt, q_continue = segment.q_halt_logits, segment.q_continue_logits

        with torch.no_grad():
            steps = carry.steps + 1
            is_last_step = steps >= self.config.halt_max_steps
            halted = is_last_step
            target_q_continue = None
            # The released checkpoints train with ACT (`halt_max_steps` 16); with 1 segment there is no halting
            # decision to learn.
            if self.training and self.config.halt_max_steps > 1:
                halted = halted | self.q_halts(q_halt, q_continue)
                explore = torch.rand_like(q_halt) < self.config.halt_exploration_prob
                min_steps = explore * torch.randint_like(steps, low=2, high=self.config.halt_max_steps + 1)
                halted = halted & (steps >= min_steps)
                if self.learns_q_continue:
                    # Bootstrap target from the next segment's Q values, computed on the new carry.
                    *_, next_halt, next_continue = self.run_segment(z_H, z_L, carry.current_data)
                    target_q_continue = torch.sigmoid(
                        torch.where(is_last_step, next_halt, torch.maximum(next_halt, next_continue))
                    )
        new_carry = HrmActCarry(z_H, z_L, steps, halted, carry.current_data)

        loss = metrics = None
        if "labels" in new_carry.current_data:
            total, metrics = self.loss_and_metrics(logits, q_halt, q_continue, target_q_continue, new_carry)
            loss = total / input_ids.shape[0]
        return HrmActOutput(
            loss=loss,
            logits=logits,
            q_halt_logits=q_halt,
            q_continue_logits=q_continue,
            target_q_continue=target_q_continue,
            carry=new_carry,
            metrics=metrics,
            hidden_states=segment.hidden_states,
            attentions=segment.attentions,
            cycle_states=segment.cycle_states,
        )

    def loss_and_metrics(
        self,
        logits: torch.Tensor,
        q_halt: torch.Tensor,
        q_continue: torch.Tensor,
        target_q_continue: torch.Tensor | None,
        carry: HrmActCarry,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The summed segment loss `lm + 0.5 * (q_halt + q_continue)` and the metric sums of the authors'
        `ACTLossHead` (`models/losses.py`)."""
        labels = carry.current_data["labels"]
        with torch.no_grad():
            mask = labels != IGNORE_LABEL_ID
            label_counts = mask.sum(-1)
            is_correct = mask & (predicted_tokens(logits) == labels)
            row_correct = is_correct.sum(-1) == label_counts
            counted = carry.halted & (label_counts > 0)
            divisor = label_counts.clamp_min(1).unsqueeze(-1)
            metrics = {
                "count": counted.sum(),
                "accuracy": torch.where(counted, (is_correct.float() / divisor).sum(-1), 0).sum(),
                "exact_accuracy": (counted & row_correct).sum(),
                "q_halt_accuracy": (counted & ((q_halt >= 0) == row_correct) & q_halt.isfinite()).sum(),
                "steps": torch.where(counted, carry.steps, 0).sum(),
            }
        lm_loss = (LOSS_FUNCTIONS[self.config.loss_type](logits, labels) / divisor).sum()
        q_halt_loss = F.binary_cross_entropy_with_logits(q_halt, row_correct.to(q_halt.dtype), reduction="sum")
        total = lm_loss + 0.5 * q_halt_loss
        metrics.update(lm_loss=lm_loss.detach(), q_halt_loss=q_halt_loss.detach())
        if target_q_continue is not None:
            q_continue_loss = F.binary_cross_entropy_with_logits(q_continue, target_q_continue, reduction="sum")
            total = total + 0.5 * q_continue_loss
            metrics["q_continue_loss"] = q_continue_loss.detach()
        return total, metrics

    def puzzle_ids_or_blank(self, input_ids: torch.Tensor, puzzle_identifiers: torch.Tensor | None) -> torch.Tensor:
        """`puzzle_identifiers`, or the blank puzzle's id for every row when none are given."""
        if puzzle_identifiers is not None:
            return puzzle_identifiers
        return torch.full(input_ids.shape[:1], self.config.blank_puzzle_id, dtype=torch.int32, device=input_ids.device)

    def state_shape(self, batch_size: int) -> tuple[int, int, int]:
        """The shape of `z_H` and `z_L`: every position of the puzzle-embedding prefix and of the puzzle."""
        return batch_size, self.config.num_positions, self.config.hidden_size

    def check_inputs(self, batch: dict[str, torch.Tensor], carry: HrmActCarry | None) -> None:
        """Raise `ValueError` naming the field for any input the model cannot run on, before any compute."""
        config = self.config
        input_ids, puzzle_identifiers = batch["input_ids"], batch["puzzle_identifiers"]
        if input_ids.ndim != 2 or input_ids.shape[1] != config.seq_len:
            raise ValueError(
                f"`input_ids` must have shape [batch, seq_len={config.seq_len}], got {list(input_ids.shape)}."
            )
        batch_size = input_ids.shape[0]
        if batch_size == 0:
            raise ValueError("`input_ids` is an empty batch (shape [0, seq_len]); pass at least one row.")
        _check_integer_ids("input_ids", input_ids)
        if puzzle_identifiers.shape != (batch_size,):
            raise ValueError(
                f"`puzzle_identifiers` must have shape [batch={batch_size}], got {list(puzzle_identifiers.shape)}."
            )
        _check_integer_ids("puzzle_identifiers", puzzle_identifiers)
        labels = batch.get("labels")
        if labels is not None:
            if labels.shape != input_ids.shape:
                raise ValueError(
                    f"`labels` must have the shape of `input_ids` {list(input_ids.shape)}, got {list(labels.shape)}."
                )
            _check_integer_ids("labels", labels)
        if carry is not None:
            state_shape = self.state_shape(batch_size)
            for name in ("z_H", "z_L"):
                shape = tuple(getattr(carry, name).shape)
                if shape[1:] != state_shape[1:]:
                    raise ValueError(
                        f"`carry.{name}` has shape {list(shape)}, but this model's states are "
                        f"[batch, {state_shape[1]}, {state_shape[2]}]: the carry comes from another model."
                    )
            if carry.halted.shape[0] != batch_size:
                raise ValueError(
                    f"`carry` was made for a batch of {carry.halted.shape[0]} rows, got a batch of {batch_size}."
                )
            if set(carry.current_data) != set(batch):
                raise ValueError(
                    f"`carry` holds {sorted(carry.current_data)} but this call passes {sorted(batch)}: "
                    "pass `labels` on every call of a rollout or on none."
                )

    def check_id_ranges(self, batch: dict[str, torch.Tensor]) -> None:
        """Raise `ValueError` naming the first input that holds an id outside its table, reading the batch back to
        the host once; `labels` may also hold `-100` (no loss)."""
        config = self.config
        limits = {
            "input_ids": (config.vocab_size, None),
            "puzzle_identifiers": (config.num_puzzle_identifiers, None),
            "labels": (config.vocab_size, IGNORE_LABEL_ID),
        }
        outside = {name: _outside(ids, *limits[name]) for name, ids in batch.items()}
        found = torch.stack([mask.any() for mask in outside.values()]).tolist()
        for (name, mask), any_outside in zip(outside.items(), found, strict=True):
            if any_outside:
                upper, ignored = limits[name]
                allowed = f"[0, {upper})" + (f" or {ignored}" if ignored is not None else "")
                raise ValueError(f"`{name}` must lie in {allowed}, got {batch[name][mask][0].item()}.")

    def fresh_state(self, batch_size: int, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`z_H`, `z_L` of `batch_size` rows starting a puzzle: `H_init`/`L_init` broadcast over every position."""
        shape = self.state_shape(batch_size)
        z_H = self.H_init.to(device=device, dtype=self.forward_dtype).expand(shape).clone()
        z_L = self.L_init.to(device=device, dtype=self.forward_dtype).expand(shape).clone()
        return z_H, z_L

    @staticmethod
    def check_halting(halting: str) -> None:
        if halting not in HALTING_MODES:
            raise ValueError(f"`halting` must be 'fixed' or 'adaptive', got {halting!r}.")

    def halt_rows(
        self, q_halt: torch.Tensor, q_continue: torch.Tensor, steps: torch.Tensor, halting: str, max_steps: int
    ) -> torch.Tensor:
        """The inference halting rule: a row stops after `max_steps` segments or, with `halting="adaptive"`, as soon
        as its Q head prefers halting (`q_halts`). `"fixed"` is the release's evaluation."""
        self.check_halting(halting)
        halted = steps >= max_steps
        return halted | self.q_halts(q_halt, q_continue) if halting == "adaptive" else halted

    def solve_inputs(
        self, input_ids: torch.Tensor, puzzle_identifiers: torch.Tensor | None, max_steps: int | None
    ) -> tuple[dict[str, torch.Tensor], int]:
        """The checked batch of a multi-segment solve (puzzle ids default to the blank puzzle) and its segment limit
        (default `config.halt_max_steps`)."""
        max_steps = self.config.halt_max_steps if max_steps is None else max_steps
        if max_steps < 1:
            raise ValueError(f"`max_steps` must be at least 1, got {max_steps}.")
        data = {"input_ids": input_ids, "puzzle_identifiers": self.puzzle_ids_or_blank(input_ids, puzzle_identifiers)}
        self.check_inputs(data, None)
        self.check_id_ranges(data)
        return data, max_steps

    @torch.no_grad()
    def solve(
        self,
        input_ids: torch.Tensor,
        puzzle_identifiers: torch.Tensor | None = None,
        halting: str = "adaptive",
        max_steps: int | None = None,
    ) -> "HrmActSolveOutput":
        """Solve a batch of puzzles: run segments until each row halts, then take its argmax tokens.

        Rows that have halted leave the batch, so later segments only compute the rows still thinking.

        Args:
            input_ids: `[batch, seq_len]` token ids.
            puzzle_identifiers: `[batch]` ids; defaults to the blank puzzle.
            halting: `"adaptive"` (stop a row when `q_halt > q_continue`) or `"fixed"` (every row runs `max_steps`).
            max_steps: most segments per row; defaults to `config.halt_max_steps`.
        """
        data, max_steps = self.solve_inputs(input_ids, puzzle_identifiers, max_steps)
        self.check_halting(halting)
        batch_size = input_ids.shape[0]
        predictions = torch.zeros_like(input_ids)
        steps = torch.zeros(batch_size, dtype=torch.int32, device=input_ids.device)
        halt_confidence = torch.zeros(batch_size, dtype=torch.float32, device=input_ids.device)
        active = torch.arange(batch_size, device=input_ids.device)
        z_H, z_L = self.fresh_state(batch_size, input_ids.device)
        for step in range(1, max_steps + 1):
            z_H, z_L, logits, q_halt, q_continue = self.run_segment(z_H, z_L, {k: v[active] for k, v in data.items()})
            halted = self.halt_rows(q_halt, q_continue, torch.full_like(steps[active], step), halting, max_steps)
            done = active[halted]
            predictions[done] = predicted_tokens(logits[halted]).to(predictions.dtype)
            steps[done] = step
            halt_confidence[done] = torch.sigmoid(q_halt[halted])
            active, z_H, z_L = active[~halted], z_H[~halted], z_L[~halted]
            if not active.numel():
                break
        return HrmActSolveOutput(predictions=predictions, steps=steps, halt_confidence=halt_confidence)


def _check_tensors(input_ids: object, **optional: object) -> None:
    """`TypeError` naming the argument when `input_ids`, or an optional input that is given, is not a tensor."""
    for name, value in {"input_ids": input_ids, **optional}.items():
        if (value is not None or name == "input_ids") and not isinstance(value, torch.Tensor):
            raise TypeError(f"`{name}` must be a torch.Tensor, got {type(value).__name__}.")


def _check_integer_ids(name: str, ids: torch.Tensor) -> None:
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise ValueError(f"`{name}` must hold integer ids, got dtype {ids.dtype}.")


def _outside(ids: torch.Tensor, upper: int, ignored: int | None) -> torch.Tensor:
    """Where `ids` lies outside `[0, upper)` (and is not the `ignored` id)."""
    outside = (ids < 0) | (ids >= upper)
    return outside & (ids != ignored) if ignored is not None else outside


@dataclass
class HrmActSolveOutput(ModelOutput):
    """Output of [`HrmActModel.solve`].

    predictions: `[batch, seq_len]` argmax tokens of each row's last segment.
    steps: `[batch]` int32 segments each row used.
    halt_confidence: `[batch]` float32 `sigmoid(q_halt)` at the row's last segment.
    """

    predictions: torch.Tensor | None = None
    steps: torch.Tensor | None = None
    halt_confidence: torch.Tensor | None = None


# `save_pretrained` then writes `auto_map` and copies this file and configuration_hrm.py beside the weights.
HrmActModel.register_for_auto_class("AutoModel")

__all__ = ["HrmActModel", "HrmActPreTrainedModel", "HrmActCarry", "HrmActOutput", "HrmActSolveOutput"]
