"""Solve one human-readable puzzle (Sudoku string, maze text, ARC grid) with a model: the codec of
`tokenization_hrm` around `model.solve`, and the check of the answer against the puzzle's rules."""

from __future__ import annotations

import numpy as np
import torch

from ..tokenization_hrm import MAZE_SIDE, decode_puzzle, encode_puzzle


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


def answer_problem(task: str, puzzle: str | list | np.ndarray, answer: str | np.ndarray) -> str | None:
    """Why `answer` does not solve `puzzle` by the rules of its type, or None: a Sudoku must be complete, repeat no
    digit and keep every clue; a maze must keep its walls, S and G and mark a shortest path; an ARC answer must be a
    grid (its content has no rule to check)."""
    from ..data import maze, sudoku

    if task == "sudoku":
        cells = "".join(ch for ch in str(puzzle) if not ch.isspace() and ch != "|").replace("0", ".")
        return sudoku.validate_row(cells, str(answer), size=int(len(cells) ** 0.5))
    if task == "maze":
        question = "".join(str(puzzle).strip("\n").split("\n"))
        return maze.validate_row(question, str(answer).replace("\n", ""), side=MAZE_SIDE)
    return None if np.asarray(answer).size else "the answer holds no grid"
