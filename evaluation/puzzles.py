"""Solve one human-readable puzzle (Sudoku string, maze text, ARC grid) with a model: the codec of
`tokenization_hrm` around `model.solve`."""

from __future__ import annotations

import numpy as np
import torch

from ..tokenization_hrm import decode_puzzle, encode_puzzle


def solve_puzzle(
    model,
    task: str,
    puzzle: str | list | np.ndarray,
    puzzle_identifier: int | None = None,
    halting: str = "adaptive",
    max_steps: int | None = None,
) -> tuple[str | np.ndarray, int, float]:
    """Solve one human-readable puzzle with `model.solve`: (decoded prediction, segments used, halting confidence)."""
    tokens = torch.as_tensor(encode_puzzle(task, puzzle, model.config.seq_len), device=model.device)[None]
    identifiers = None if puzzle_identifier is None else torch.tensor([puzzle_identifier], device=model.device)
    out = model.solve(tokens, identifiers, halting=halting, max_steps=max_steps)
    prediction = decode_puzzle(task, out.predictions[0].cpu().numpy())
    return prediction, int(out.steps[0]), float(out.halt_confidence[0])
