"""The puzzle codecs of HRM-ACT-v1: a puzzle's human form (Sudoku string, maze text, ARC grid) <-> model tokens.

One codec per puzzle type, used by the dataset builders, evaluation, pictures, model cards and `hrm solve`. It
imports only the standard library and numpy, so it can travel with a saved model as remote code. Token 0 is PAD
everywhere.
- Sudoku: `digit + 1`, a blank (`.` or `0`) is digit 0 = token 1; vocab `side + 2` (11 for 9x9, 6 for 4x4).
- Maze: the characters `# SGo` (wall, open, start, goal, path) are tokens 1..5 on a 30x30 grid; vocab 6.
- ARC: EOS 1, colour c -> c + 2 (vocab 12) on a 30x30 canvas, flattened row-major; the grid sits at a top-left offset
  with an EOS row under it and an EOS column right of it where they fit (the corner stays PAD, as in the release).
"""

from __future__ import annotations

from math import isqrt

import numpy as np


TASKS = ("sudoku", "maze", "arc")
PAD_ID = 0

SUDOKU_BLANK_ID = 1

MAZE_CHARS = "# SGo"
MAZE_SIDE = 30
MAZE_VOCAB_SIZE = len(MAZE_CHARS) + 1

ARC_SIDE = 30
ARC_SEQ_LEN = ARC_SIDE * ARC_SIDE
ARC_EOS_ID = 1
ARC_COLOUR_OFFSET = 2
ARC_VOCAB_SIZE = 10 + ARC_COLOUR_OFFSET


class PuzzleInputError(ValueError):
    """A puzzle given by a user that cannot be encoded; the message names the puzzle field and the bad value."""


def _byte_table(chars: dict[str, int]) -> np.ndarray:
    """A lookup table from ASCII code to token (0 for every character not in `chars`)."""
    table = np.zeros(256, dtype=np.uint8)
    for char, token in chars.items():
        table[ord(char)] = token
    return table


_SUDOKU_TOKEN_OF_BYTE = _byte_table({".": SUDOKU_BLANK_ID, **{str(d): d + 1 for d in range(10)}})
_MAZE_TOKEN_OF_BYTE = _byte_table({char: i + 1 for i, char in enumerate(MAZE_CHARS)})


def infer_task(seq_len: int, vocab_size: int) -> str | None:
    """The puzzle type a model or dataset of this shape is for, or None when the shape fits none."""
    if seq_len == ARC_SEQ_LEN and vocab_size == ARC_VOCAB_SIZE:
        return "arc"
    if seq_len == MAZE_SIDE * MAZE_SIDE and vocab_size == MAZE_VOCAB_SIZE:
        return "maze"
    side = isqrt(seq_len)
    if side * side == seq_len and isqrt(side) ** 2 == side and vocab_size == sudoku_vocab_size(side):
        return "sudoku"
    return None


# ---------------------------------------------------------------- Sudoku


def sudoku_vocab_size(side: int = 9) -> int:
    """PAD plus digits 0..side."""
    return side + 2


def sudoku_side(seq_len: int) -> int:
    """Cells per Sudoku row for a sequence of `seq_len` tokens (9 for 81, 4 for 16)."""
    side = isqrt(seq_len)
    if side * side != seq_len:
        raise PuzzleInputError(f"A Sudoku needs a square number of cells, got seq_len={seq_len}.")
    return side


def sudoku_tokens(codes: np.ndarray) -> np.ndarray:
    """uint8 tokens of ASCII codes of Sudoku cells (`.`/`0` blank, `1`-`9`), any shape; other characters give PAD."""
    return _SUDOKU_TOKEN_OF_BYTE[codes]


def encode_sudoku(text: str, side: int = 9) -> np.ndarray:
    """Tokens of a Sudoku given row by row, `.` or `0` for blanks; spaces, newlines and `|` are ignored."""
    cells = "".join(ch for ch in text if not ch.isspace() and ch != "|")
    if len(cells) != side * side:
        raise PuzzleInputError(f"sudoku must have {side * side} cells, got {len(cells)} in {text!r}.")
    allowed = ".0" + "".join(str(d) for d in range(1, side + 1))
    bad = sorted(set(cells) - set(allowed))
    if bad:
        raise PuzzleInputError(f"sudoku may hold only {allowed!r}, got {''.join(bad)!r}.")
    clash = sudoku_clue_clash(cells, side)
    if clash:
        raise PuzzleInputError(f"sudoku clues clash: {clash}.")
    return sudoku_tokens(np.frombuffer(cells.encode(), dtype=np.uint8)).astype(np.int64)


def sudoku_clue_clash(cells: str, side: int) -> str | None:
    """Where two clues of a Sudoku (`side * side` cells, `.`/`0` blank) repeat a digit in a row, column or box, or
    None; boxes count only when `side` is a square (9, 4)."""
    grid = np.frombuffer(cells.encode(), dtype=np.uint8).reshape(side, side)
    box = isqrt(side)
    units = [("row", i, grid[i]) for i in range(side)] + [("column", i, grid[:, i]) for i in range(side)]
    if box * box == side:
        blocks = grid.reshape(box, box, box, box).transpose(0, 2, 1, 3).reshape(side, side)
        units += [("box", i, blocks[i]) for i in range(side)]
    for kind, index, unit in units:
        digits = unit[(unit != ord(".")) & (unit != ord("0"))]
        values, counts = np.unique(digits, return_counts=True)
        if (counts > 1).any():
            return f"{kind} {index + 1} has the clue {chr(values[counts > 1][0])} twice"
    return None


def decode_sudoku(tokens: np.ndarray) -> str:
    """Digits of a Sudoku token vector, `.` for blanks and for tokens that are no digit."""
    return "".join(str(t - 1) if t > SUDOKU_BLANK_ID else "." for t in np.asarray(tokens).tolist())


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


# ---------------------------------------------------------------- Maze


def maze_tokens(codes: np.ndarray) -> np.ndarray:
    """uint8 tokens of ASCII codes of maze characters (`# SGo`), any shape; other characters give PAD."""
    return _MAZE_TOKEN_OF_BYTE[codes]


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
    return maze_tokens(np.frombuffer(flat.encode(), dtype=np.uint8)).astype(np.int64)


def decode_maze(tokens: np.ndarray) -> str:
    """Lines of a maze token vector (`?` for a token that is no maze character)."""
    chars = "".join(MAZE_CHARS[t - 1] if 1 <= t <= len(MAZE_CHARS) else "?" for t in np.asarray(tokens).tolist())
    return "\n".join(chars[row * MAZE_SIDE : (row + 1) * MAZE_SIDE] for row in range(MAZE_SIDE))


# ---------------------------------------------------------------- ARC


def arc_canvas(grid: np.ndarray, row: int = 0, column: int = 0) -> np.ndarray:
    """The [900] uint8 tokens of a valid grid (uint8 colours 0..9) placed at (`row`, `column`) on the canvas."""
    rows, cols = grid.shape
    canvas = np.zeros((ARC_SIDE, ARC_SIDE), dtype=np.uint8)
    canvas[row : row + rows, column : column + cols] = grid + ARC_COLOUR_OFFSET
    if row + rows < ARC_SIDE:
        canvas[row + rows, column : column + cols] = ARC_EOS_ID
    if column + cols < ARC_SIDE:
        canvas[row : row + rows, column + cols] = ARC_EOS_ID
    return canvas.reshape(-1)


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
    return arc_canvas(array.astype(np.uint8)).astype(np.int64)


def decode_arc(tokens: np.ndarray) -> np.ndarray:
    """The uint8 colours of the largest PAD/EOS-free rectangle at the canvas's top left (the release's crop)."""
    canvas = np.asarray(tokens).reshape(ARC_SIDE, ARC_SIDE)
    is_colour = (canvas >= ARC_COLOUR_OFFSET) & (canvas < ARC_VOCAB_SIZE)
    run_lengths = np.argmin(np.pad(is_colour, ((0, 0), (0, 1))), axis=1)  # colour cells from column 0, per row
    widths = np.minimum.accumulate(run_lengths)
    areas = widths * np.arange(1, ARC_SIDE + 1)
    if areas.max() == 0:
        return np.zeros((0, 0), dtype=np.uint8)
    rows = int(np.argmax(areas)) + 1
    return (canvas[:rows, : widths[rows - 1]] - ARC_COLOUR_OFFSET).astype(np.uint8)


# ---------------------------------------------------------------- any puzzle type


def encode_puzzle(task: str, puzzle: str | list | np.ndarray, seq_len: int) -> np.ndarray:
    """int64 tokens of one puzzle of type `task` for a model of `seq_len` tokens."""
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
