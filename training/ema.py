"""An exponential moving average of a model's dense parameters (as TRM keeps one, at rate 0.999).

The puzzle table is a buffer, so it is not averaged: evaluation and the saved model use the live table.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class EMA:
    """`shadow = rate * shadow + (1 - rate) * param` after every optimizer step, in float32."""

    def __init__(self, model: nn.Module, rate: float = 0.999):
        self.model = model
        self.rate = rate
        self.shadow = {name: param.detach().float().clone() for name, param in model.named_parameters()}

    @torch.no_grad()
    def update(self, skip: torch.Tensor | None = None) -> None:
        """Move the average toward the current parameters, unless the 0-dim `skip` (a skipped step) is true."""
        for name, param in self.model.named_parameters():
            moved = self.shadow[name].lerp(param.detach().float(), 1 - self.rate)
            self.shadow[name].copy_(moved if skip is None else torch.where(skip, self.shadow[name], moved))

    @contextmanager
    @torch.no_grad()
    def applied(self) -> Iterator[nn.Module]:
        """Swap the averaged weights into the model for the duration of the block, then restore the live ones."""
        live = {name: param.detach().clone() for name, param in self.model.named_parameters()}
        try:
            for name, param in self.model.named_parameters():
                param.copy_(self.shadow[name])
            yield self.model
        finally:
            for name, param in self.model.named_parameters():
                param.copy_(live[name])

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self.shadow)

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if set(state) != set(self.shadow):
            raise ValueError("The EMA state does not match this model's parameters.")
        for name, value in state.items():
            self.shadow[name].copy_(value)
