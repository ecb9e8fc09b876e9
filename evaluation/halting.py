"""Batched inference with per-row halting: a fixed number of slots, finished rows leave, queued rows take their place;
and `roll_out_segments`, every segment's prediction of a batch, drawn by `draw_answer` (`hrm solve --png
--segments`, the web app).

The halting rule itself is the model's (`HrmActModel.halt_rows`); this module only schedules rows. With
`halting="fixed"` every row runs `max_steps` segments (the release's evaluation); with `"adaptive"` a row stops as soon
as `q_halt > q_continue`, and its slot goes to the next row of the queue, so a finished row costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..modeling_hrm import predicted_tokens
from ..tokenization_hrm import PuzzleType


INPUT_KEYS = ("input_ids", "puzzle_identifiers")


@dataclass
class SolvedRow:
    """One finished row: its position in the input stream, predicted tokens, segments used, last `q_halt` logit."""

    index: int
    predictions: torch.Tensor
    steps: int
    q_halt_logit: float

    @property
    def halt_confidence(self) -> float:
        """`sigmoid(q_halt)`: how sure the Q head is that the prediction is right."""
        return float(torch.sigmoid(torch.tensor(self.q_halt_logit)))


@torch.no_grad()
def solve_stream(
    model,
    rows: Iterable[dict[str, torch.Tensor]],
    batch_size: int,
    halting: str = "adaptive",
    max_steps: int | None = None,
) -> Iterator[SolvedRow]:
    """Yield every row of `rows` once solved (in the order they finish), keeping at most `batch_size` in flight.

    Returns the segment count in `SolvedRow.steps`; the total compute is the sum of those counts.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    model.check_halting(halting)
    max_steps = model.config.halt_max_steps if max_steps is None else max_steps
    if max_steps < 1:
        raise ValueError(f"max_steps must be at least 1, got {max_steps}.")
    device = next(model.parameters()).device
    queue = enumerate(rows)
    data = {key: torch.empty(0, dtype=torch.long, device=device) for key in INPUT_KEYS}
    index = torch.empty(0, dtype=torch.long, device=device)
    steps = torch.empty(0, dtype=torch.int32, device=device)
    z_H, z_L = model.fresh_state(0, device)
    exhausted = False
    while True:
        if not exhausted and index.numel() < batch_size:
            new = [row for _, row in zip(range(batch_size - index.numel()), queue, strict=False)]
            exhausted = len(new) < batch_size - index.numel()
            if new:
                fresh_H, fresh_L = model.fresh_state(len(new), device)
                z_H, z_L = torch.cat((z_H, fresh_H)), torch.cat((z_L, fresh_L))
                index = torch.cat((index, torch.tensor([i for i, _ in new], device=device)))
                steps = torch.cat((steps, torch.zeros(len(new), dtype=torch.int32, device=device)))
                data = {
                    key: torch.cat((data[key], torch.stack([row[key] for _, row in new]).to(device, torch.long)))
                    for key in INPUT_KEYS
                }
        if not index.numel():
            return
        z_H, z_L, logits, q_halt, q_continue = model.run_segment(z_H, z_L, data)
        steps = steps + 1
        halted = model.halt_rows(q_halt, q_continue, steps, halting, max_steps)
        predictions = predicted_tokens(logits)
        for row in halted.nonzero().flatten().tolist():
            yield SolvedRow(int(index[row]), predictions[row].cpu(), int(steps[row]), float(q_halt[row]))
        keep = ~halted
        z_H, z_L, index, steps = z_H[keep], z_L[keep], index[keep], steps[keep]
        data = {key: value[keep] for key, value in data.items()}


@dataclass
class SegmentRollout:
    """A batch run for a fixed number of segments, with the prediction after each: how an answer forms.

    Attributes:
        predictions: `[steps, batch, seq_len]` argmax tokens after each segment.
        q_halt_logits, q_continue_logits: `[steps, batch]` the Q head's logits after each segment.
        halt_steps: `[batch]` the 1-based segment where adaptive halting stops each row (`HrmActModel.halt_rows`).
    """

    predictions: torch.Tensor
    q_halt_logits: torch.Tensor
    q_continue_logits: torch.Tensor
    halt_steps: torch.Tensor


@torch.no_grad()
def roll_out_segments(
    model, input_ids: torch.Tensor, puzzle_identifiers: torch.Tensor | None = None, max_steps: int | None = None
) -> SegmentRollout:
    """Run every row for `max_steps` segments (default: the model's `halt_max_steps`), no row leaving early, and
    keep each segment's prediction; `model.solve` returns only the last one. The prediction at `halt_steps` is
    `model.solve(..., halting="adaptive")`'s, the one at `max_steps` is `halting="fixed"`'s."""
    data, max_steps = model.solve_inputs(input_ids, puzzle_identifiers, max_steps)
    z_H, z_L = model.fresh_state(input_ids.shape[0], input_ids.device)
    halt_steps = torch.zeros(input_ids.shape[0], dtype=torch.int32, device=input_ids.device)
    predictions, q_halts, q_continues = [], [], []
    for step in range(1, max_steps + 1):
        z_H, z_L, logits, q_halt, q_continue = model.run_segment(z_H, z_L, data)
        halted = model.halt_rows(q_halt, q_continue, torch.full_like(halt_steps, step), "adaptive", max_steps)
        halt_steps = torch.where((halt_steps == 0) & halted, step, halt_steps)
        predictions.append(predicted_tokens(logits))
        q_halts.append(q_halt)
        q_continues.append(q_continue)
    return SegmentRollout(torch.stack(predictions), torch.stack(q_halts), torch.stack(q_continues), halt_steps)


def draw_answer(
    model,
    kind: PuzzleType,
    puzzle: str | list,
    answer: str | np.ndarray,
    steps: int,
    path: str | Path,
    segments: bool = False,
    puzzle_identifier: int | None = None,
    max_steps: int | None = None,
) -> Path:
    """Draw a puzzle (human form) and the model's decoded answer found in `steps` segments to `path`; with `segments`,
    the prediction after every segment up to `max_steps` instead (`render_segments`: a strip, or a GIF for a `.gif`
    path), the segment where adaptive halting stops marked. The pictures of `hrm solve --png` and of the web app."""
    from ..data.render import render_segments, render_solution

    tokens = kind.encode(puzzle, model.config.seq_len)
    if not segments:
        return render_solution(kind, tokens, answer, path, f"answer ({steps} segments)")
    identifiers = None if puzzle_identifier is None else torch.tensor([puzzle_identifier], device=model.device)
    rollout = roll_out_segments(model, torch.as_tensor(tokens, device=model.device)[None], identifiers, max_steps)
    predictions = [step[0].cpu().numpy() for step in rollout.predictions]
    return render_segments(kind, tokens, predictions, int(rollout.halt_steps[0]), path)
