"""An exponential moving average of a model's trained dense parameters, as the TRM authors' `EMAHelper` keeps it.

Only parameters that require grad are averaged: the puzzle table is a buffer (trained by sparse SignSGD), and so are
TRM's `H_init`/`L_init`, so evaluation and the saved model use their live values beside the averaged weights, as the
authors' `ema_copy` does. The shadow starts at the weights the run starts from.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class EMA:
    """`shadow = (1 - rate) * param + rate * shadow` after every optimizer step (the authors' expression, in the
    parameters' dtype, so the shadow rounds as theirs does)."""

    def __init__(self, model: nn.Module, rate: float = 0.999):
        self.model = model
        self.rate = rate
        self.shadow = {name: param.detach().clone() for name, param in self.averaged()}

    def averaged(self) -> Iterator[tuple[str, nn.Parameter]]:
        """The model's parameters the average covers: those being trained."""
        return ((name, param) for name, param in self.model.named_parameters() if param.requires_grad)

    @torch.no_grad()
    def update(self, skip: torch.Tensor | None = None) -> None:
        """Move the average toward the current parameters, unless the 0-dim `skip` (a skipped step) is true."""
        for name, param in self.averaged():
            moved = (1.0 - self.rate) * param.detach() + self.rate * self.shadow[name]
            self.shadow[name].copy_(moved if skip is None else torch.where(skip, self.shadow[name], moved))

    @contextmanager
    @torch.no_grad()
    def applied(self) -> Iterator[nn.Module]:
        """Swap the averaged weights into the model for the duration of the block, then restore the live ones."""
        live = {name: param.detach().clone() for name, param in self.averaged()}
        try:
            for name, param in self.averaged():
                param.copy_(self.shadow[name])
            yield self.model
        finally:
            for name, param in self.averaged():
                param.copy_(live[name])

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self.shadow)

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if set(state) != set(self.shadow):
            raise ValueError("The EMA state does not match this model's trained parameters.")
        for name, value in state.items():
            self.shadow[name].copy_(value)
