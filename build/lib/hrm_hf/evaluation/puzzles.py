"""Turn a human-readable puzzle (Sudoku string, maze lines, ARC grid) into model tokens and a prediction back.

Encodings (spec section 8): Sudoku `digit + 1` with blank = token 1; Maze `# SGo` -> tokens 1..5; ARC PAD 0, EOS 1,
colour c -> c + 2 on a 30x30 canvas with an EOS row and column closing the grid. Token 0 is PAD everywhere.
"""

from __future__ import annotations

from math import isqrt

import numpy as np
import torch

from ..data.arc import MAX_SIDE as ARC_SIDE
from ..data.arc import VOCAB_SIZE as ARC_VOCAB_SIZE
from ..data.arc import decode_grid, encode_grid
from ..data.maze import CHARSET as MAZE_CHARS
from ..data.maze import VOCAB_SIZE as MAZE_VOCAB_SIZE


TASKS = ("sudoku", "maze", "arc")
MAZE_SIDE = 30


class PuzzleInputError(ValueError):
    """A puzzle given by a user that cannot be encoded; the message names the puzzle field and the bad value."""


def infer_task(seq_len: int, vocab_size: int) -> str | None:
    """The puzzle type a model or dataset of this shape is for, or None when the shape fits none."""
    if seq_len == ARC_SIDE * ARC_SIDE and vocab_size == ARC_VOCAB_SIZE:
        return "arc"
    if seq_len == MAZE_SIDE * MAZE_SIDE and vocab_size == MAZE_VOCAB_SIZE:
        return "maze"
    side = isqrt(seq_len)
    if side * side == seq_len and isqrt(side) ** 2 == side and vocab_size == side + 2:
        return "sudoku"
    return None


def sudoku_side(seq_len: int) -> int:
    """Cells per Sudoku row for a sequence of `seq_len` tokens (9 for 81, 4 for 16)."""
    side = isqrt(seq_len)
    if side * side != seq_len:
        raise PuzzleInputError(f"A Sudoku needs a square number of cells, got seq_len={seq_len}.")
    return side


def encode_sudoku(text: str, side: int = 9) -> np.ndarray:
    """Tokens of a Sudoku given row by row, `.` or `0` for blanks; spaces, newlines and `|` are ignored."""
    cells = "".join(ch for ch in text if not ch.isspace() and ch != "|")
    if len(cells) != side * side:
        raise PuzzleInputError(f"sudoku must have {side * side} cells, got {len(cells)} in {text!r}.")
    allowed = ".0" + "".join(str(d) for d in range(1, side + 1))
    bad = sorted(set(cells) - set(allowed))
    if bad:
        raise PuzzleInputError(f"sudoku may hold only {allowed!r}, got {''.join(bad)!r}.")
    digits = np.frombuffer(cells.replace(".", "0").encode(), dtype=np.uint8) - ord("0")
    return digits.astype(np.int64) + 1


def decode_sudoku(tokens: np.ndarray) -> str:
    """Digits of a Sudoku token vector, `.` for blanks and for tokens that are no digit."""
    return "".join(str(t - 1) if t >= 2 else "." for t in np.asarray(tokens).tolist())


def format_sudoku(cells: str) -> str:
    """A Sudoku string as a grid with box separators."""
    side = isqrt(len(cells))
    box = isqrt(side)
    lines = []
    for row in range(side):
        if row and row % box == 0:
            lines.append("+".join(["-" * (2 * box + 1)] * box))
        chunks = [" ".join(cells[row * side + c : row * side + c + box]) for c in range(0, side, box)]
        lines.append(" " + " | ".join(chunks) + " ")
    return "\n".join(lines)


def encode_maze(text: str) -> np.ndarray:
    """Tokens of a 30x30 maze given as 30 lines of `# SGo` (wall, open, start, goal, path)."""
    lines = text.strip("\n").split("\n")
    if len(lines) != MAZE_SIDE or any(len(line) != MAZE_SIDE for line in lines):
        lengths = sorted({len(line) for line in lines})
        raise PuzzleInputError(
            f"maze must be {MAZE_SIDE} lines of {MAZE_SIDE} characters, got {len(lines)} lines of {lengths}."
        )
    flat = "".join(lines)
    bad = sorted(set(flat) - set(MAZE_CHARS))
    if bad:
        raise PuzzleInputError(f"maze may hold only {MAZE_CHARS!r}, got {''.join(bad)!r}.")
    return np.array([MAZE_CHARS.index(ch) + 1 for ch in flat], dtype=np.int64)


def decode_maze(tokens: np.ndarray) -> str:
    """Lines of a maze token vector (`?` for a token that is no maze character)."""
    chars = "".join(MAZE_CHARS[t - 1] if 1 <= t <= len(MAZE_CHARS) else "?" for t in np.asarray(tokens).tolist())
    return "\n".join(chars[row * MAZE_SIDE : (row + 1) * MAZE_SIDE] for row in range(MAZE_SIDE))


def encode_arc(grid: list[list[int]] | np.ndarray) -> np.ndarray:
    """Tokens of an ARC grid (up to 30x30, colours 0..9) at the top left of the canvas, closed by EOS."""
    try:
        array = np.asarray(grid)
    except ValueError:
        raise PuzzleInputError(f"ARC grid must be 2-D with rows of equal length, got {grid!r}.") from None
    if array.ndim != 2 or not (1 <= array.shape[0] <= ARC_SIDE and 1 <= array.shape[1] <= ARC_SIDE):
        raise PuzzleInputError(f"ARC grid must be 2-D with sides 1..{ARC_SIDE}, got shape {list(array.shape)}.")
    if not np.issubdtype(array.dtype, np.integer) or array.min() < 0 or array.max() > 9:
        raise PuzzleInputError(f"ARC grid colours must be integers in 0..9, got {array.ravel().tolist()[:10]}...")
    return encode_grid(array.astype(np.uint8)).astype(np.int64)


def decode_arc(tokens: np.ndarray) -> np.ndarray:
    """The colours of the largest PAD/EOS-free rectangle at the canvas's top left (the release's crop)."""
    return decode_grid(np.asarray(tokens)).astype(np.int64)


def encode_puzzle(task: str, puzzle: str | list | np.ndarray, seq_len: int) -> np.ndarray:
    """Tokens of one puzzle of type `task` for a model of `seq_len` tokens."""
    if task == "sudoku":
        return encode_sudoku(str(puzzle), sudoku_side(seq_len))
    if task == "maze":
        return encode_maze(str(puzzle))
    if task == "arc":
        return encode_arc(puzzle)
    raise PuzzleInputError(f"task must be one of {TASKS}, got {task!r}.")


def decode_puzzle(task: str, tokens: np.ndarray) -> str | np.ndarray:
    """Inverse of `encode_puzzle` for a prediction: a Sudoku string, maze lines or an ARC grid."""
    decoders = {"sudoku": decode_sudoku, "maze": decode_maze, "arc": decode_arc}
    if task not in decoders:
        raise PuzzleInputError(f"task must be one of {TASKS}, got {task!r}.")
    return decoders[task](tokens)


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
