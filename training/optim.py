"""HRM's two optimizers and their schedule.

- `AdamAtan2` updates the dense parameters as the paper (arXiv 2506.21734) and the authors' `adam-atan2` package do:
  Adam with `atan2(m, sqrt(v))` in place of `m / (sqrt(v) + eps)`, no epsilon, no extra scale factor.
- `SparseSignSGD` updates only the puzzle-table rows a step used, from the row gradients of every rank summed per
  id: `w = w * (1 - lr * wd) - lr * sign(g)` (the authors' `models/sparse_embedding.py`).
- `make_schedule` gives both the same shape: linear warmup, then a cosine down to `lr * lr_min_ratio`.

Both steps take an optional `skip`, a 0-dim boolean tensor (a non-finite loss): where it is true the step leaves every
weight and moment as it was, decided on the device, so that the training loop never waits for the value.
"""

from __future__ import annotations

import warnings

import torch
from torch.optim.lr_scheduler import LambdaLR
from transformers import get_cosine_with_min_lr_schedule_with_warmup


class AdamAtan2(torch.optim.Optimizer):
    """Adam with `atan2` in place of the division by `sqrt(v) + eps`, and decoupled weight decay.

    Per step `t` (from 1), in float32: `p *= 1 - lr*wd; m = lerp(m, g, 1-b1); v = lerp(v, g*g, 1-b2);
    p -= lr * atan2(m / (1 - b1^t), sqrt(v) / sqrt(1 - b2^t))`.
    """

    def __init__(self, params, lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.95), weight_decay: float = 0.1):
        if lr < 0 or weight_decay < 0 or not all(0 <= beta < 1 for beta in betas):
            raise ValueError(f"AdamAtan2: bad lr={lr}, betas={betas} or weight_decay={weight_decay}.")
        super().__init__(params, {"lr": lr, "betas": betas, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None, skip: torch.Tensor | None = None):
        """One update of every parameter with a gradient; with `skip` true, parameters and moments stay as they
        were (the step count still advances, as a learning-rate schedule does for a skipped step)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, wd = group["lr"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(param, dtype=torch.float32)
                    state["exp_avg_sq"] = torch.zeros_like(param, dtype=torch.float32)
                state["step"] += 1
                t = state["step"]
                grad = param.grad.float()
                m = state["exp_avg"].lerp(grad, 1 - beta1)
                v = state["exp_avg_sq"].lerp(grad * grad, 1 - beta2)
                update = torch.atan2(m / (1 - beta1**t), v.sqrt() / (1 - beta2**t) ** 0.5)
                new = param.float() * (1 - lr * wd) - lr * update
                keep_unless(skip, state["exp_avg"], m)
                keep_unless(skip, state["exp_avg_sq"], v)
                keep_unless(skip, param, new)
        return loss


def keep_unless(skip: torch.Tensor | None, target: torch.Tensor, new: torch.Tensor) -> None:
    """`target <- new`, except where the 0-dim `skip` is true: then `target` keeps its value (chosen on the device)."""
    target.copy_(new if skip is None else torch.where(skip, target, new.to(target.dtype)))


class SparseSignSGD(torch.optim.Optimizer):
    """SignSGD with decoupled weight decay on the rows of one embedding table that a step used.

    The table is a buffer, not a parameter: `step(ids, grads)` takes the ids and row gradients of the whole global
    batch (every rank's, already gathered), so every rank applies the same update to its copy.
    """

    def __init__(self, table: torch.Tensor, lr: float = 1e-2, weight_decay: float = 0.1):
        if lr < 0 or weight_decay < 0:
            raise ValueError(f"SparseSignSGD: bad lr={lr} or weight_decay={weight_decay}.")
        super().__init__([table], {"lr": lr, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, ids: torch.Tensor, grads: torch.Tensor, skip: torch.Tensor | None = None) -> None:  # type: ignore[override]
        """Update the rows `ids` from their gradients `grads` (`[batch, dim]`), the gradients of a repeated id summed.

        Every shape is the batch's, whatever the ids hold (no `unique`), so the step neither reads back to the host
        nor recompiles: each row's gradients go into the row of its id's first occurrence (a batch x batch
        comparison), every row reads its id's sum from there, and repeated ids write the same updated row.
        """
        group = self.param_groups[0]
        table = group["params"][0]
        ids, grads = ids.long(), grads.float()
        first = (ids.unsqueeze(0) == ids.unsqueeze(1)).int().argmax(dim=1)  # argmax gives the first of the maxima
        summed = torch.zeros_like(grads).index_add_(0, first, grads)[first]
        rows = table[ids].float() * (1 - group["lr"] * group["weight_decay"]) - group["lr"] * summed.sign()
        if skip is not None:
            rows = torch.where(skip, table[ids].float(), rows)
        table.index_copy_(0, ids, rows.to(table.dtype))


def make_schedule(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int, min_ratio: float) -> LambdaLR:
    """Linear warmup over `warmup_steps`, then a cosine from the base rate to `base * min_ratio` at `total_steps`.

    Like the release, optimizer step `t` (from 1) uses the rate of schedule step `t`, so the first step is not wasted
    on a zero rate: the schedule is advanced once here, and then once after every optimizer step.
    """
    schedule = get_cosine_with_min_lr_schedule_with_warmup(
        optimizer, num_warmup_steps=warmup_steps, num_training_steps=total_steps, min_lr_rate=min_ratio
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step\\(\\)` before")
        schedule.step()
    return schedule
