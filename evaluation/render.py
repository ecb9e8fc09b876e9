"""PNG pictures of a puzzle: input, truth and prediction side by side, with wrong predicted cells outlined in red."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..tokenization_hrm import decode_arc, decode_maze, decode_sudoku, sudoku_side


CELL = 16
GAP = CELL
TITLE = 14
TITLES = ("input", "truth", "prediction")
MIN_PANEL = 64  # room for a title over narrow grids
WRONG = (220, 20, 60)
ARC_PALETTE = [
    (0, 0, 0), (0, 116, 217), (255, 65, 54), (46, 204, 64), (255, 220, 0),
    (170, 170, 170), (240, 18, 190), (255, 133, 27), (127, 219, 255), (135, 12, 37),
]  # fmt: skip
MAZE_COLOURS = {"#": (40, 40, 40), " ": (255, 255, 255), "S": (46, 204, 64), "G": (0, 116, 217), "o": (255, 200, 0)}


def to_grids(task: str, inputs: np.ndarray, labels: np.ndarray, predictions: np.ndarray) -> list[np.ndarray]:
    """The three token vectors decoded as 2-D grids: ARC colours, maze characters, Sudoku digits (`.` blank)."""
    if task == "arc":
        return [decode_arc(tokens) for tokens in (inputs, labels, predictions)]
    if task == "maze":
        return [
            np.array([list(line) for line in decode_maze(tokens).split("\n")])
            for tokens in (inputs, labels, predictions)
        ]
    side = sudoku_side(len(inputs))
    return [np.array(list(decode_sudoku(tokens))).reshape(side, side) for tokens in (inputs, labels, predictions)]


def panel_width(grid: np.ndarray) -> int:
    return max(grid.shape[1] * CELL, MIN_PANEL)


def picture_size(grids: list[np.ndarray]) -> tuple[int, int]:
    """(width, height) in pixels of the picture of these grids."""
    width = sum(panel_width(grid) for grid in grids) + GAP * (len(grids) + 1)
    height = max(grid.shape[0] for grid in grids) * CELL + TITLE + 2 * GAP
    return width, height


def draw_cell(draw: ImageDraw.ImageDraw, task: str, value: int | str, box: tuple[int, int, int, int]) -> None:
    """Fill one cell: ARC colour, maze character colour, or a Sudoku digit on white."""
    if task == "arc":
        draw.rectangle(box, fill=ARC_PALETTE[value], outline=(80, 80, 80))
    elif task == "maze":
        draw.rectangle(box, fill=MAZE_COLOURS.get(value, MAZE_COLOURS[" "]))
    else:
        draw.rectangle(box, fill=(255, 255, 255), outline=(190, 190, 190))
        if value != ".":
            draw.text((box[0] + 4, box[1] + 1), value, fill=(0, 0, 0))


def wrong_cells(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """Mask over `prediction` of cells that differ from the truth (or lie outside it)."""
    rows, cols = min(truth.shape[0], prediction.shape[0]), min(truth.shape[1], prediction.shape[1])
    wrong = np.ones(prediction.shape, dtype=bool)
    wrong[:rows, :cols] = truth[:rows, :cols] != prediction[:rows, :cols]
    return wrong


def render_example(
    task: str, inputs: np.ndarray, labels: np.ndarray, predictions: np.ndarray, path: str | Path
) -> Path:
    """Write the picture of one puzzle to `path` (PNG) and return it. Labels are tokens (PAD where unlabelled)."""
    grids = to_grids(task, inputs, labels, predictions)
    image = Image.new("RGB", picture_size(grids), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    wrong = wrong_cells(grids[1], grids[2])
    left = GAP
    for index, (title, grid) in enumerate(zip(TITLES, grids, strict=True)):
        draw.text((left, GAP // 2), title, fill=(0, 0, 0))
        top = GAP + TITLE
        for (row, col), value in np.ndenumerate(grid):
            box = (left + col * CELL, top + row * CELL, left + (col + 1) * CELL - 1, top + (row + 1) * CELL - 1)
            draw_cell(draw, task, value.item(), box)
            if index == 2 and wrong[row, col]:
                draw.rectangle(box, outline=WRONG, width=2)
        left += panel_width(grid) + GAP
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")
    return path
