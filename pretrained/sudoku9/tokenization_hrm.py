"""The puzzle types of HRM-ACT-v1, registered by name: a puzzle's human form (Sudoku string, maze text, ARC grid) <->
model tokens, and everything else that depends on the type.

One object per puzzle type (`SUDOKU`, `MAZE`, `ARC`, in `PUZZLE_TYPES` by name) holds its codec, its grid view and
givens, its rule check, its augmentations and their inverses, the hints pictures are drawn with and the text of the
cards. The dataset builders, evaluation, pictures, cards, `hrm show`, `hrm solve` and the pipeline ask it; none of
them branches on a type's name. It imports only the standard library and numpy, so it travels with a saved model as
remote code. Token 0 is PAD everywhere.
- Sudoku: `digit + 1`, a blank (`.` or `0`) is digit 0 = token 1; vocab `side + 2` (11 for 9x9, 6 for 4x4).
- Maze: the characters `# SGo` (wall, open, start, goal, path) are tokens 1..5 on a 30x30 grid; vocab 6.
- ARC: EOS 1, colour c -> c + 2 (vocab 12) on a 30x30 canvas, flattened row-major; the grid sits at a top-left offset
  with an EOS row under it and an EOS column right of it where they fit (the corner stays PAD, as in the release).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections import Counter, deque
from dataclasses import dataclass
from functools import cache
from math import isqrt
from operator import itemgetter

import numpy as np


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

NUM_DIHEDRAL = 8
# DIHEDRAL_INVERSE[t] undoes dihedral transform t.
DIHEDRAL_INVERSE = (0, 3, 2, 1, 4, 5, 6, 7)

Colour = tuple[int, int, int]


def excerpt(value: object, limit: int = 60) -> str:
    """`value` as an error line quotes it: its repr, cut to `limit` characters ending in `...`, so that a whole puzzle
    or file given by mistake never floods the line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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


def problem_in_charset(field_name: str, text: str, length: int, charset: str) -> str | None:
    """Why `text` is not `length` characters from `charset`, or None."""
    if len(text) != length:
        return f"field {field_name!r} must have {length} characters, got {len(text)}"
    bad = sorted(set(text) - set(charset))
    if bad:
        return f"field {field_name!r} has characters outside {charset!r}: {''.join(bad)!r}"
    return None


# ---------------------------------------------------------------- the 8 symmetries of the square


def dihedral_transform(grid: np.ndarray, transform_id: int) -> np.ndarray:
    """Apply symmetry `transform_id` (0 identity, 1-3 rotations by 90/180/270 degrees counter-clockwise, 4 left-right
    flip, 5 up-down flip, 6 transpose, 7 anti-transpose) to the last two axes of `grid`, numbered as in the release
    (its evaluation undoes them by these ids)."""
    if transform_id == 0:
        return grid
    if 1 <= transform_id <= 3:
        return np.rot90(grid, k=transform_id, axes=(-2, -1))
    if transform_id == 4:
        return np.flip(grid, axis=-1)
    if transform_id == 5:
        return np.flip(grid, axis=-2)
    if transform_id == 6:
        return grid.swapaxes(-2, -1)
    if transform_id == 7:
        return np.flip(np.rot90(grid, k=1, axes=(-2, -1)), axis=-1)
    raise ValueError(f"Dihedral transform id must be in 0..7, got {transform_id}")


def inverse_dihedral_transform(grid: np.ndarray, transform_id: int) -> np.ndarray:
    """Undo `dihedral_transform(grid, transform_id)`."""
    return dihedral_transform(grid, DIHEDRAL_INVERSE[transform_id])


# ---------------------------------------------------------------- Sudoku codec and rules


def sudoku_vocab_size(side: int = 9) -> int:
    """PAD plus digits 0..side."""
    return side + 2


def sudoku_side(seq_len: int) -> int:
    """Cells per Sudoku row for a sequence of `seq_len` tokens (9 for 81, 4 for 16)."""
    side = isqrt(seq_len)
    if side * side != seq_len:
        raise PuzzleInputError(f"A Sudoku needs a square number of cells, got seq_len={seq_len}.")
    return side


@cache
def sudoku_units(side: int) -> tuple[tuple[str, int, itemgetter], ...]:
    """(kind, index, getter of its cells from a row-major string) of every row, column and box of a `side` x `side`
    Sudoku, boxes numbered row-major; boxes only where `side` is a square (4, 9). Getters, not a per-cell loop: the
    authors' training CSV has millions of rows to check."""
    box = isqrt(side)
    rows = [range(i * side, (i + 1) * side) for i in range(side)]
    columns = [range(i, side * side, side) for i in range(side)]
    boxes = [
        [(b // box * box + r) * side + b % box * box + c for r in range(box) for c in range(box)] for b in range(side)
    ]
    units = [("row", rows), ("column", columns)] + ([("box", boxes)] if box * box == side else [])
    return tuple((kind, i, itemgetter(*cells)) for kind, cells_of in units for i, cells in enumerate(cells_of))


def sudoku_tokens(codes: np.ndarray) -> np.ndarray:
    """uint8 tokens of ASCII codes of Sudoku cells (`.`/`0` blank, `1`-`9`), any shape; other characters give PAD."""
    return _SUDOKU_TOKEN_OF_BYTE[codes]


def sudoku_cells(text: str) -> str:
    """A Sudoku's cells row by row, without the spaces, newlines and `|` a user may lay it out with."""
    return "".join(ch for ch in text if not ch.isspace() and ch != "|")


def encode_sudoku(text: str, side: int = 9) -> np.ndarray:
    """Tokens of a Sudoku given row by row, `.` or `0` for blanks; spaces, newlines and `|` are ignored."""
    cells = sudoku_cells(text)
    if len(cells) != side * side:
        raise PuzzleInputError(f"sudoku must have {side * side} cells, got {len(cells)} in {excerpt(text)}.")
    allowed = ".0" + "".join(str(d) for d in range(1, side + 1))
    bad = sorted(set(cells) - set(allowed))
    if bad:
        raise PuzzleInputError(f"sudoku may hold only {allowed!r}, got {excerpt(''.join(bad))}.")
    clash = sudoku_clue_clash(cells, side)
    if clash:
        raise PuzzleInputError(f"sudoku clues clash: {clash}.")
    return sudoku_tokens(np.frombuffer(cells.encode(), dtype=np.uint8)).astype(np.int64)


def sudoku_clue_clash(cells: str, side: int) -> str | None:
    """Where two clues of a Sudoku (`side * side` cells, `.`/`0` blank) repeat a digit in a row, column or box, or
    None."""
    for kind, index, unit in sudoku_units(side):
        counts = Counter(digit for digit in unit(cells) if digit not in ".0")
        repeated = sorted(digit for digit, count in counts.items() if count > 1)
        if repeated:
            return f"{kind} {index + 1} has the clue {repeated[0]} twice"
    return None


def validate_sudoku_row(question: str, answer: str, size: int = 9) -> str | None:
    """Why a question/answer pair (cells row by row, `.` blank) is not a Sudoku with its solution, or None: the
    answer is complete, repeats no digit in a row, column or box, and keeps every clue."""
    cells = size * size
    digits = "123456789"[:size]
    problem = problem_in_charset("question", question, cells, "." + digits) or problem_in_charset(
        "answer", answer, cells, digits
    )
    if problem:
        return problem
    for kind, index, unit in sudoku_units(size):
        if len(set(unit(answer))) != size:
            return f"field 'answer' is not a valid solution: {kind} {index + 1} repeats a digit"
    clues, solution = (np.frombuffer(text.encode(), dtype=np.uint8) for text in (question, answer))
    wrong = np.flatnonzero((clues != ord(".")) & (clues != solution))
    if len(wrong):
        cell = int(wrong[0])
        return f"field 'answer' disagrees with clue {question[cell]} at cell {cell} (row {cell // size + 1})"
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


@dataclass(frozen=True)
class SudokuShuffle:
    """The authors' Sudoku augmentation: a relabelling of the digits, an optional transpose, and shuffles of the
    bands, the rows inside each band, the stacks and the columns inside each stack. Augmented tokens are
    `token_map[tokens[source]]`; the arrays may hold a leading axis of several shuffles.

    Attributes:
        source: [..., cells] the cell each cell's token comes from.
        token_map: [..., side + 2] the new token of each token; PAD and blank map to themselves.
    """

    source: np.ndarray
    token_map: np.ndarray

    @classmethod
    def random(cls, rng: np.random.Generator, count: int, side: int = 9) -> SudokuShuffle:
        """`count` random shuffles at once, drawn in the order the release draws them."""
        box = isqrt(side)

        def line_perm() -> np.ndarray:  # [count, side]: bands (stacks) shuffled, then lines inside each
            blocks = rng.permuted(np.tile(np.arange(box), (count, 1)), axis=1)
            inner = rng.permuted(np.tile(np.arange(box), (count, box, 1)), axis=2)
            return (blocks[:, :, None] * box + inner).reshape(count, side)

        rows, cols = line_perm(), line_perm()
        source = rows[:, :, None] * side + cols[:, None, :]
        transpose = rng.random(count) < 0.5
        source = np.where(transpose[:, None, None], source.swapaxes(1, 2), source).reshape(count, side * side)
        digit_perm = rng.permuted(np.tile(np.arange(2, side + 2), (count, 1)), axis=1)
        token_map = np.concatenate([np.tile([0, 1], (count, 1)), digit_perm], axis=1).astype(np.uint8)
        return cls(source, token_map)

    def split(self) -> list[SudokuShuffle]:
        """The shuffles of a batch, one by one."""
        return [SudokuShuffle(s, m) for s, m in zip(self.source, self.token_map, strict=True)]

    def apply(self, tokens: np.ndarray) -> np.ndarray:
        """One puzzle's token vector [cells] shuffled by each shuffle: [..., cells]."""
        return np.take_along_axis(self.token_map, tokens[self.source], axis=-1)

    def invert(self, tokens: np.ndarray) -> np.ndarray:
        """Undo `apply`: tokens of shape [..., cells] (one vector per shuffle) back to the original puzzle's cells."""
        relabelled = np.take_along_axis(np.argsort(self.token_map, axis=-1), tokens, axis=-1)
        return np.take_along_axis(relabelled, np.argsort(self.source, axis=-1), axis=-1).astype(tokens.dtype)


# ---------------------------------------------------------------- Maze codec and rules


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
        raise PuzzleInputError(f"maze may hold only {MAZE_CHARS!r}, got {excerpt(''.join(bad))}.")
    return maze_tokens(np.frombuffer(flat.encode(), dtype=np.uint8)).astype(np.int64)


def decode_maze(tokens: np.ndarray) -> str:
    """Lines of a maze token vector (`?` for a token that is no maze character)."""
    chars = "".join(MAZE_CHARS[t - 1] if 1 <= t <= len(MAZE_CHARS) else "?" for t in np.asarray(tokens).tolist())
    return "\n".join(chars[row * MAZE_SIDE : (row + 1) * MAZE_SIDE] for row in range(MAZE_SIDE))


def shortest_paths(is_open: list[bool], side: int, start: int) -> tuple[list[int], list[int], list[int]]:
    """Breadth-first search from `start`: (distance, number of shortest paths capped at 2, a predecessor) per cell;
    distance -1 for unreachable cells."""
    dist, count, parent = [-1] * len(is_open), [0] * len(is_open), [-1] * len(is_open)
    dist[start], count[start] = 0, 1
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        r, c = divmod(cell, side)
        for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            nxt = nr * side + nc
            if not (0 <= nr < side and 0 <= nc < side and is_open[nxt]):
                continue
            if dist[nxt] < 0:
                dist[nxt], parent[nxt] = dist[cell] + 1, cell
                queue.append(nxt)
            if dist[nxt] == dist[cell] + 1:
                count[nxt] = min(2, count[nxt] + count[cell])
    return dist, count, parent


def validate_maze_row(question: str, answer: str, side: int = MAZE_SIDE) -> str | None:
    """Why a question/answer pair (cells row by row) is not a `side` x `side` maze with its marked path, or None: the
    answer keeps the walls, S and G and marks a shortest path from S to G with `o`."""
    cells = side * side
    problem = problem_in_charset("question", question, cells, MAZE_CHARS[:4]) or problem_in_charset(
        "answer", answer, cells, MAZE_CHARS
    )
    if problem:
        return problem
    for mark in "SG":
        if question.count(mark) != 1:
            return f"field 'question' must have exactly one {mark}, got {question.count(mark)}"
    for cell, (q, a) in enumerate(zip(question, answer, strict=True)):
        if q != a and not (q == " " and a == "o"):
            return f"field 'answer' has {a!r} where the question has {q!r} (row {cell // side + 1}, column {cell % side + 1})"
    return maze_path_problem(question, answer, side)


def maze_path_problem(question: str, answer: str, side: int) -> str | None:
    """Why the `o` cells of `answer` are not a shortest path from S to G through the open cells of `question`, or
    None. Its length is checked first: a path of exactly the shortest length that connects S to G is a shortest one."""
    start, goal = question.index("S"), question.index("G")
    shortest = shortest_paths([char != "#" for char in question], side, start)[0][goal]
    if shortest < 0:
        return "field 'question' has no path from S to G"
    marked = answer.count("o")
    if marked != shortest - 1:
        return f"field 'answer' marks {marked} path cells, but the shortest path from S to G has {shortest - 1}"
    along_path = shortest_paths([char in "SGo" for char in answer], side, start)[0][goal]
    if along_path != shortest:
        return "field 'answer' does not mark a connected path from S to G"
    return None


# ---------------------------------------------------------------- ARC codec and augmentation


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


def is_arc_grid(value: object) -> bool:
    """Whether `value` is one ARC grid (a list of rows of colours) rather than a list of puzzles."""
    return (
        isinstance(value, (list, tuple))
        and bool(value)
        and all(
            isinstance(row, (list, tuple)) and all(isinstance(cell, (int, np.integer)) for cell in row)
            for row in value
        )
    )


def encode_arc(grid: list[list[int]] | np.ndarray) -> np.ndarray:
    """Tokens of an ARC grid (up to 30x30, colours 0..9) at the top left of the canvas, closed by EOS."""
    try:
        array = np.asarray(grid)
    except ValueError:
        raise PuzzleInputError(f"ARC grid must be 2-D with rows of equal length, got {excerpt(grid)}.") from None
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


@dataclass(frozen=True)
class ArcAugmentation:
    """The authors' ARC augmentation: a dihedral transform after a colour map (`colour_map[c]` replaces c; 0 stays
    0). An augmented puzzle is named `<task>_t<transform>_<colour map digits>`, so predictions can be mapped back."""

    transform_id: int = 0
    colour_map: tuple[int, ...] = tuple(range(10))

    @classmethod
    def random(cls, rng: np.random.Generator) -> ArcAugmentation:
        return cls(int(rng.integers(NUM_DIHEDRAL)), (0, *(int(c) for c in rng.permutation(9) + 1)))

    def apply(self, grid: np.ndarray) -> np.ndarray:
        """A grid of the original puzzle as a grid of the augmented one."""
        return dihedral_transform(np.asarray(self.colour_map, dtype=np.uint8)[grid], self.transform_id)

    def invert(self, grid: np.ndarray) -> np.ndarray:
        """Map a grid of the augmented puzzle back to the original puzzle."""
        return np.argsort(self.colour_map).astype(np.uint8)[inverse_dihedral_transform(grid, self.transform_id)]

    def name(self, task: str) -> str:
        return f"{task}_t{self.transform_id}_{''.join(map(str, self.colour_map))}"


# ---------------------------------------------------------------- the puzzle types


def grid_text(grid: np.ndarray) -> str:
    """A 2-D grid as lines of its cells (Sudoku digits and `.`, maze characters, ARC colour digits)."""
    return "\n".join("".join(str(value) for value in line.tolist()) for line in grid)


EXAMPLE_SUDOKU = {
    81: "..3.2.6..9..3.5..1..18.64....81.29..7.......8..67.82....26.95..8..2.3..9..5.1.3..",
    16: ".12.2.1.13..42..",
}  # the card's usage example by number of cells; other sizes show an empty grid
PRINT_RESULT = 'print(result["solution"], result["segments"], result["halt_confidence"])'


class PuzzleType(ABC):
    """What the project knows about one kind of puzzle: its codec, views, rules, augmentations, pictures and cards.

    Attributes:
        name: the registry key, the `task` of dataset metadata and the `hrm build-dataset` / `hrm solve` word.
        release_seq_len: tokens per puzzle in the authors' datasets and checkpoints.
        description: what a model of this type solves (model cards: the task, with its rule in brackets).
        dataset_description: the tokens and groups of its datasets (dataset cards).
        input_help: how `hrm solve` takes a puzzle of this type.
        cell_pixels: side of a cell in pictures.
        palette: fill colour of each grid value in pictures (others are white), or None to draw values as digits.
        cell_outline: colour of the line around each cell in pictures, or None.
        voted_over_augmentations: whether evaluation maps each prediction back through the augmentation its puzzle
            identifier names and votes over a puzzle's augmented copies (pass@k, a Kaggle submission).
    """

    name: str
    release_seq_len: int
    description: str
    dataset_description: str
    input_help: str
    cell_pixels: int = 16  # 16 keeps a 30x30 grid readable at 480 pixels
    palette: dict | None = None
    cell_outline: Colour | None = None
    voted_over_augmentations: bool = False

    def __repr__(self) -> str:
        return f"PuzzleType({self.name!r})"

    @abstractmethod
    def fits(self, seq_len: int, vocab_size: int) -> bool:
        """Whether a model or dataset of this shape is for this type."""

    @abstractmethod
    def encode(self, puzzle: str | list | np.ndarray, seq_len: int) -> np.ndarray:
        """int64 tokens of one puzzle in its human form, for a model of `seq_len` tokens."""

    @abstractmethod
    def decode(self, tokens: np.ndarray) -> str | np.ndarray:
        """The human form of a token vector (a prediction, a label, an input)."""

    def parse_text(self, text: str) -> str | list:
        """A puzzle from the text a command line or a file gives."""
        return text

    def solution(self, decoded: str | np.ndarray) -> str | list:
        """A decoded answer as the pipeline returns it (plain Python, JSON-ready)."""
        return decoded

    def answer_text(self, decoded: str | np.ndarray) -> str:
        """A decoded answer as `hrm solve` prints it."""
        return self.show_text(self.grid(decoded))

    @abstractmethod
    def grid(self, decoded: str | np.ndarray) -> np.ndarray:
        """A decoded puzzle as a 2-D grid of its cells."""

    def show_text(self, grid: np.ndarray) -> str:
        """A grid as `hrm show` prints it."""
        return grid_text(grid)

    def givens(self, grid: np.ndarray) -> np.ndarray | None:
        """Mask of the cells a puzzle's grid gives (drawn apart from those an answer fills in), or None where the type
        has no such split."""
        return None

    def box_side(self, grid: np.ndarray) -> int | None:
        """Cells per side of the boxes pictures outline in thick lines, or None."""
        return None

    @abstractmethod
    def answer_problem(self, puzzle: str | list | np.ndarray, answer: str | np.ndarray) -> str | None:
        """Why `answer` (decoded) does not solve `puzzle` (human form) by the rules of the type, or None."""

    @abstractmethod
    def usage_example(self, seq_len: int) -> str:
        """The Python lines of a model card after `solver = pipeline(...)`: a puzzle in, its solution printed. They
        need only transformers: the model folder carries the puzzle pipeline and this file."""

    @abstractmethod
    def random_augmentations(self, rng: np.random.Generator, count: int, seq_len: int) -> list:
        """`count` random augmentations of the authors' kind for puzzles of `seq_len` tokens."""

    @abstractmethod
    def augment(self, tokens: np.ndarray, augmentation) -> np.ndarray:
        """A token vector of the original puzzle (input or answer) as one of the augmented puzzle."""

    @abstractmethod
    def unaugment(self, tokens: np.ndarray, augmentation) -> np.ndarray:
        """Undo `augment`: a token vector of the augmented puzzle (a prediction) as one of the original."""


class Sudoku(PuzzleType):
    """Sudoku of any square-of-a-square side (9x9, 4x4), given as its cells row by row, `.` or `0` for blanks."""

    name = "sudoku"
    release_seq_len = 81  # 9x9
    description = "Sudoku (fill the grid so that no digit repeats in a row, column or box)"
    dataset_description = (
        "Sudoku puzzles for the Hierarchical Reasoning Model (HRM-ACT-v1). Tokens: PAD 0, then digit + 1 "
        "(a blank cell is digit 0, token 1); the label is the solution. Training groups hold a puzzle and its "
        "augmentations (digit permutation, transpose, band/row/stack/column shuffles), one example per puzzle."
    )
    input_help = "The Sudoku's cells row by row, '.' or '0' for blanks."
    cell_pixels = 28

    def fits(self, seq_len: int, vocab_size: int) -> bool:
        side = isqrt(seq_len)
        return side * side == seq_len and isqrt(side) ** 2 == side and vocab_size == sudoku_vocab_size(side)

    def encode(self, puzzle: str | list | np.ndarray, seq_len: int) -> np.ndarray:
        if not isinstance(puzzle, str):
            raise PuzzleInputError(f"sudoku must be given as a string, got {type(puzzle).__name__}.")
        return encode_sudoku(puzzle, sudoku_side(seq_len))

    def decode(self, tokens: np.ndarray) -> str:
        return decode_sudoku(tokens)

    def grid(self, decoded: str) -> np.ndarray:
        side = isqrt(len(decoded))
        return np.array(list(decoded)).reshape(side, side)

    def show_text(self, grid: np.ndarray) -> str:
        """With box separators."""
        return format_sudoku("".join(grid.ravel().tolist()))

    def givens(self, grid: np.ndarray) -> np.ndarray:
        return grid != "."

    def box_side(self, grid: np.ndarray) -> int | None:
        rows, cols = grid.shape
        return isqrt(rows) if rows and rows == cols and isqrt(rows) ** 2 == rows else None

    def answer_problem(self, puzzle: str, answer: str) -> str | None:
        cells = sudoku_cells(str(puzzle)).replace("0", ".")
        return validate_sudoku_row(cells, str(answer), size=isqrt(len(cells)))

    def usage_example(self, seq_len: int) -> str:
        return (
            f'result = solver("{EXAMPLE_SUDOKU.get(seq_len, "." * seq_len)}")  # the cells row by row, "." or "0" '
            f"for blanks\n{PRINT_RESULT}"
        )

    def random_augmentations(self, rng: np.random.Generator, count: int, seq_len: int) -> list[SudokuShuffle]:
        return SudokuShuffle.random(rng, count, sudoku_side(seq_len)).split()

    def augment(self, tokens: np.ndarray, augmentation: SudokuShuffle) -> np.ndarray:
        return augmentation.apply(tokens)

    def unaugment(self, tokens: np.ndarray, augmentation: SudokuShuffle) -> np.ndarray:
        return augmentation.invert(tokens)


class Maze(PuzzleType):
    """30x30 mazes given as 30 lines of `# SGo` (wall, open, start, goal, path)."""

    name = "maze"
    release_seq_len = MAZE_SIDE * MAZE_SIDE
    description = "30x30 mazes (mark the shortest path from start to goal)"
    dataset_description = (
        "Mazes for the Hierarchical Reasoning Model (HRM-ACT-v1). Characters `# SGo` (wall, open, start, goal, path) "
        "are tokens 1..5 (PAD 0); the label marks the unique shortest path from S to G with `o`. Training groups "
        "hold a maze and its optional 8 dihedral transforms."
    )
    input_help = "A file holding the maze, or its 30 lines of '# SGo' (wall, open, start, goal)."
    palette = {"#": (40, 40, 40), " ": (255, 255, 255), "S": (46, 204, 64), "G": (0, 116, 217), "o": (255, 200, 0)}

    def fits(self, seq_len: int, vocab_size: int) -> bool:
        return seq_len == MAZE_SIDE * MAZE_SIDE and vocab_size == MAZE_VOCAB_SIZE

    def encode(self, puzzle: str | list | np.ndarray, seq_len: int) -> np.ndarray:
        if not isinstance(puzzle, str):
            raise PuzzleInputError(f"maze must be given as a string, got {type(puzzle).__name__}.")
        return encode_maze(puzzle)

    def decode(self, tokens: np.ndarray) -> str:
        return decode_maze(tokens)

    def parse_text(self, text: str) -> str:
        text = text.replace("\r\n", "\n")  # a file or paste from Windows
        if "\n" not in text:  # one line is no maze: most likely a mistyped file name
            raise PuzzleInputError(f"maze must be a file or {MAZE_SIDE} lines of text, got no file {excerpt(text)}.")
        return text

    def grid(self, decoded: str) -> np.ndarray:
        return np.array([list(line) for line in str(decoded).split("\n")])

    def answer_problem(self, puzzle: str, answer: str) -> str | None:
        question = "".join(str(puzzle).strip("\n").split("\n"))
        return validate_maze_row(question, str(answer).replace("\n", ""), side=MAZE_SIDE)

    def usage_example(self, seq_len: int) -> str:
        return (
            'maze = open("maze.txt").read()  # 30 lines of 30 characters: # wall, space open, S start, G goal\n'
            f"result = solver(maze)\n{PRINT_RESULT}"
        )

    def random_augmentations(self, rng: np.random.Generator, count: int, seq_len: int) -> list[int]:
        """Dihedral transform ids."""
        return [int(t) for t in rng.integers(NUM_DIHEDRAL, size=count)]

    def augment(self, tokens: np.ndarray, augmentation: int) -> np.ndarray:
        return self._transformed(tokens, augmentation)

    def unaugment(self, tokens: np.ndarray, augmentation: int) -> np.ndarray:
        return self._transformed(tokens, DIHEDRAL_INVERSE[augmentation])

    @staticmethod
    def _transformed(tokens: np.ndarray, transform_id: int) -> np.ndarray:
        side = isqrt(tokens.shape[-1])
        grid = tokens.reshape(*tokens.shape[:-1], side, side)
        return dihedral_transform(grid, transform_id).reshape(tokens.shape)


class Arc(PuzzleType):
    """ARC-AGI grids (lists of rows of colours 0..9, up to 30x30) on a 30x30 canvas."""

    name = "arc"
    release_seq_len = ARC_SEQ_LEN
    description = "ARC-AGI abstract reasoning puzzles (produce the output grid from the demonstration pairs)"
    dataset_description = (
        "ARC-AGI puzzles for the Hierarchical Reasoning Model (HRM-ACT-v1). Tokens: PAD 0, EOS 1, colour c -> c + 2 "
        "on a 30x30 canvas with an EOS row under and an EOS column right of the grid. Each augmented puzzle "
        "(dihedral transform x permutation of colours 1..9) has its own puzzle identifier, named "
        "`<task>_t<transform>_<colour map>`; `identifiers.json` lists the names. Demonstration pairs of the test "
        "set are in `train`, its test pairs in `test`."
    )
    input_help = "A JSON file holding the ARC input grid, or the JSON text itself."
    palette = dict(enumerate([
        (0, 0, 0), (0, 116, 217), (255, 65, 54), (46, 204, 64), (255, 220, 0),
        (170, 170, 170), (240, 18, 190), (255, 133, 27), (127, 219, 255), (135, 12, 37),
    ]))  # fmt: skip
    cell_outline = (80, 80, 80)
    voted_over_augmentations = True

    def fits(self, seq_len: int, vocab_size: int) -> bool:
        return seq_len == ARC_SEQ_LEN and vocab_size == ARC_VOCAB_SIZE

    def encode(self, puzzle: str | list | np.ndarray, seq_len: int) -> np.ndarray:
        return encode_arc(puzzle)

    def decode(self, tokens: np.ndarray) -> np.ndarray:
        return decode_arc(tokens)

    def parse_text(self, text: str) -> list:
        try:
            return json.loads(text)
        except (json.JSONDecodeError, RecursionError) as error:  # thousands of nested brackets recurse too deep
            raise PuzzleInputError(
                f"arc must be a JSON file or grid such as [[0, 1], [1, 0]], got {excerpt(text)}: {error}"
            ) from None

    def solution(self, decoded: np.ndarray) -> list:
        return np.asarray(decoded).tolist()

    def answer_text(self, decoded: np.ndarray) -> str:
        """JSON, one row per line."""
        return "[" + ",\n ".join(json.dumps(row) for row in np.asarray(decoded).tolist()) + "]"

    def grid(self, decoded: np.ndarray) -> np.ndarray:
        return np.asarray(decoded)

    def answer_problem(self, puzzle: list | np.ndarray, answer: np.ndarray) -> str | None:
        """An answer must be a grid; its content has no rule to check."""
        return None if np.asarray(answer).size else "the answer holds no grid"

    def usage_example(self, seq_len: int) -> str:
        return (
            "grid = [[0, 1, 2], [3, 4, 5]]  # the test input, colours 0..9\n"
            "# The row of the embedding table that the task's training examples had (identifiers.json of the training\n"
            "# data); 0 is the blank puzzle.\n"
            f"result = solver(grid, puzzle_identifier=0)\n{PRINT_RESULT}"
        )

    def random_augmentations(self, rng: np.random.Generator, count: int, seq_len: int) -> list[ArcAugmentation]:
        return [ArcAugmentation.random(rng) for _ in range(count)]

    def augment(self, tokens: np.ndarray, augmentation: ArcAugmentation) -> np.ndarray:
        return arc_canvas(augmentation.apply(decode_arc(tokens))).astype(tokens.dtype)

    def unaugment(self, tokens: np.ndarray, augmentation: ArcAugmentation) -> np.ndarray:
        return arc_canvas(augmentation.invert(decode_arc(tokens))).astype(tokens.dtype)


SUDOKU, MAZE, ARC = Sudoku(), Maze(), Arc()
PUZZLE_TYPES: dict[str, PuzzleType] = {kind.name: kind for kind in (SUDOKU, MAZE, ARC)}


def puzzle_type(name: str) -> PuzzleType:
    """The registered puzzle type called `name`."""
    if name not in PUZZLE_TYPES:
        raise PuzzleInputError(f"task must be one of {tuple(PUZZLE_TYPES)}, got {name!r}.")
    return PUZZLE_TYPES[name]


def infer_puzzle_type(seq_len: int, vocab_size: int) -> PuzzleType | None:
    """The puzzle type a model or dataset of this shape is for, or None when the shape fits none."""
    return next((kind for kind in PUZZLE_TYPES.values() if kind.fits(seq_len, vocab_size)), None)
