"""Pictures of puzzles (PNG, or an animated GIF of a model's segments), decoded and styled by their puzzle type, and
line charts of evaluation curves.

A picture is a grid of panels, each a titled puzzle grid: Sudoku digits with box lines (the puzzle's givens on grey,
the cells a model or solution filled in blue), mazes in colour (walls dark, start green, goal blue, path yellow) and
ARC grids in the ARC palette; the puzzle type (`tokenization_hrm`) gives the grid, the givens, the cell size, the
palette and the box lines. Wrong predicted cells are outlined in red, cells a segment changed in orange; the segment
where adaptive halting stops is framed in green. `hrm evaluate --save-examples`, `hrm solve --png` and
`hrm show --png` draw through here, and `hrm evaluate --tta` draws its accuracy-against-compute curve (`render_curve`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..tokenization_hrm import PuzzleType


GAP = 16
TITLE = 16
FONT_SIZE = 12
MIN_PANEL = 64  # room for a short title over narrow grids
STRIP_COLUMNS = 6  # panels per row of a segment strip before it wraps
GIF_FRAME_MS = 800
WRONG = (220, 20, 60)
CHANGED = (255, 140, 0)
HALT = (46, 160, 67)
GIVEN_FILL = (225, 225, 225)
FILLED_DIGIT = (0, 90, 200)
BLANK_FILL = (255, 255, 255)
DIGIT_OUTLINE = (190, 190, 190)


@dataclass
class Panel:
    """One titled grid of a picture.

    Attributes:
        title: the line over the grid.
        grid: the decoded 2-D grid (`decode_grid`).
        givens: mask of the cells the puzzle gives (grey), the others being the filled-in answer (blue), for types
            whose cells are digits (`PuzzleType.givens`).
        wrong: mask of the cells outlined in red.
        changed: mask of the cells outlined in orange (those a segment changed).
        frame: colour of a frame around the grid (the segment where adaptive halting stops), or None.
    """

    title: str
    grid: np.ndarray
    givens: np.ndarray | None = None
    wrong: np.ndarray | None = None
    changed: np.ndarray | None = None
    frame: tuple[int, int, int] | None = None


def decode_grid(kind: PuzzleType, tokens: np.ndarray) -> np.ndarray:
    """One token vector as a 2-D grid: ARC colours, maze characters, or Sudoku digits (`.` blank)."""
    return kind.grid(kind.decode(tokens))


def wrong_cells(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """Mask over `prediction` of cells that differ from the truth (or lie outside it)."""
    rows, cols = min(truth.shape[0], prediction.shape[0]), min(truth.shape[1], prediction.shape[1])
    wrong = np.ones(prediction.shape, dtype=bool)
    wrong[:rows, :cols] = truth[:rows, :cols] != prediction[:rows, :cols]
    return wrong


def changed_cells(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Mask over `after` of cells that differ from `before` (every cell when the grid changed shape, as ARC's may)."""
    return before != after if before.shape == after.shape else np.ones(after.shape, dtype=bool)


def font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=FONT_SIZE)


def panel_size(kind: PuzzleType, panel: Panel) -> tuple[int, int]:
    """(width, height) of a panel's grid area, at least as wide as its title."""
    cell = kind.cell_pixels
    rows, cols = panel.grid.shape
    title_width = int(np.ceil(font().getlength(panel.title)))
    return max(cols * cell, title_width, MIN_PANEL), rows * cell


def layout(kind: PuzzleType, panels: list[Panel], columns: int) -> tuple[list[int], list[int]]:
    """Widths of the picture's columns and heights of its rows of panels (each the largest panel in it)."""
    sizes = [panel_size(kind, panel) for panel in panels]
    widths = [max(w for w, _ in sizes[c::columns]) for c in range(min(columns, len(panels)))]
    heights = [max(h for _, h in sizes[r : r + columns]) for r in range(0, len(panels), columns)]
    return widths, heights


def draw_cell(
    draw: ImageDraw.ImageDraw, kind: PuzzleType, value: int | str, box: tuple[int, int, int, int], given: bool
) -> None:
    """Fill one cell: its colour in the type's palette (ARC colours, maze characters; white for a value outside
    it), or a digit (given: black on grey; filled: blue)."""
    if kind.palette is not None:
        draw.rectangle(box, fill=kind.palette.get(value, BLANK_FILL), outline=kind.cell_outline)
    else:
        draw.rectangle(box, fill=GIVEN_FILL if given else BLANK_FILL, outline=DIGIT_OUTLINE)
        if value != ".":
            centre = ((box[0] + box[2] + 1) / 2, (box[1] + box[3] + 1) / 2)
            digit_font = ImageFont.load_default(size=kind.cell_pixels * 2 // 3)
            draw.text(centre, value, fill=(0, 0, 0) if given else FILLED_DIGIT, font=digit_font, anchor="mm")


def draw_box_lines(draw: ImageDraw.ImageDraw, cell: int, side: int, box: int, left: int, top: int) -> None:
    """The thick lines around the boxes of a `side` x `side` grid of `cell`-pixel cells (and its border)."""
    for k in range(0, side + 1, box):
        draw.line((left + k * cell, top, left + k * cell, top + side * cell), fill=(0, 0, 0), width=2)
        draw.line((left, top + k * cell, left + side * cell, top + k * cell), fill=(0, 0, 0), width=2)


def draw_panel(draw: ImageDraw.ImageDraw, kind: PuzzleType, panel: Panel, left: int, top: int) -> None:
    """A panel's title and grid with its top-left corner (of the title) at (`left`, `top`)."""
    cell = kind.cell_pixels
    draw.text((left, top), panel.title, fill=(0, 0, 0), font=font())
    top += TITLE
    for (row, col), value in np.ndenumerate(panel.grid):
        box = (left + col * cell, top + row * cell, left + (col + 1) * cell - 1, top + (row + 1) * cell - 1)
        draw_cell(draw, kind, value.item(), box, panel.givens is not None and bool(panel.givens[row, col]))
    rows, cols = panel.grid.shape
    box_side = kind.box_side(panel.grid)
    if box_side:
        draw_box_lines(draw, cell, rows, box_side, left, top)
    for mask, colour in ((panel.changed, CHANGED), (panel.wrong, WRONG)):
        if mask is None:
            continue
        for row, col in zip(*np.nonzero(mask), strict=True):  # over the box lines, inside the cell: no line hides it
            x, y = left + col * cell, top + row * cell
            draw.rectangle((x + 2, y + 2, x + cell - 3, y + cell - 3), outline=colour, width=2)
    if panel.frame is not None:
        draw.rectangle(
            (left - 4, top - 4, left + cols * cell + 3, top + rows * cell + 3), outline=panel.frame, width=3
        )


def draw_panels(kind: PuzzleType, panels: list[Panel], columns: int | None = None) -> Image.Image:
    """The picture of `panels`, `columns` to a row (default: all in one row)."""
    columns = columns or len(panels)
    widths, heights = layout(kind, panels, columns)
    size = (sum(widths) + GAP * (len(widths) + 1), sum(heights) + (TITLE + GAP) * len(heights) + GAP)
    image = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for index, panel in enumerate(panels):
        row, col = divmod(index, columns)
        left = GAP + sum(widths[:col]) + GAP * col
        top = GAP + sum(heights[:row]) + (TITLE + GAP) * row
        draw_panel(draw, kind, panel, left, top)
    return image


def save_picture(frames: list[Image.Image], path: str | Path) -> Path:
    """Write one picture as PNG, or several as the frames of an animated GIF (a path ending in `.gif`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:], duration=GIF_FRAME_MS, loop=0)
    else:
        frames[0].save(path, format="PNG")
    return path


def render_example(
    kind: PuzzleType, inputs: np.ndarray, labels: np.ndarray, predictions: np.ndarray, path: str | Path
) -> Path:
    """Write the picture of one puzzle to `path` (PNG): input, truth and prediction, wrong predicted cells outlined in
    red. Labels are tokens (PAD where unlabelled)."""
    puzzle, truth, prediction = (decode_grid(kind, tokens) for tokens in (inputs, labels, predictions))
    givens = kind.givens(puzzle)
    panels = [
        Panel("input", puzzle, givens),
        Panel("truth", truth, givens),
        Panel("prediction", prediction, givens, wrong=wrong_cells(truth, prediction)),
    ]
    return save_picture([draw_panels(kind, panels)], path)


def render_solution(
    kind: PuzzleType, inputs: np.ndarray, answer: str | np.ndarray, path: str | Path, title: str
) -> Path:
    """Write the puzzle (tokens) and a model's decoded answer (`PuzzleType.decode`'s form), titled `title`, side by side
    to `path` (PNG)."""
    puzzle = decode_grid(kind, inputs)
    givens = kind.givens(puzzle)
    panels = [Panel("puzzle", puzzle, givens), Panel(title, kind.grid(answer), givens)]
    return save_picture([draw_panels(kind, panels)], path)


def render_segments(
    kind: PuzzleType,
    inputs: np.ndarray,
    segment_predictions: list[np.ndarray],
    halt_step: int | None,
    path: str | Path,
) -> Path:
    """Write the prediction after each segment: a strip (PNG) of the puzzle then every segment, or an animated GIF
    (a path ending in `.gif`) of the puzzle beside each segment in turn. Segment `halt_step` (1-based), where
    adaptive halting stops, is framed in green; the cells each segment changed are outlined in orange."""
    puzzle = decode_grid(kind, inputs)
    givens = kind.givens(puzzle)
    grids = [decode_grid(kind, prediction) for prediction in segment_predictions]
    segments = [
        Panel(
            f"segment {step}" + (": halts" if step == halt_step else ""),
            grid,
            givens,
            changed=None if step == 1 else changed_cells(grids[step - 2], grid),
            frame=HALT if step == halt_step else None,
        )
        for step, grid in enumerate(grids, start=1)
    ]
    first = Panel("puzzle", puzzle, givens)
    if Path(path).suffix.lower() == ".gif":
        return save_picture([draw_panels(kind, [first, segment]) for segment in segments], path)
    return save_picture([draw_panels(kind, [first, *segments], columns=STRIP_COLUMNS)], path)


def render_rows(
    kind: PuzzleType, rows: list[tuple[str, np.ndarray, np.ndarray]], path: str | Path, pairs_per_row: int
) -> Path:
    """Write dataset rows, each `(title, input tokens, label tokens)`, as input and solution panels, `pairs_per_row`
    rows of the dataset to a row of the picture (PNG)."""
    panels = []
    for title, inputs, labels in rows:
        puzzle = decode_grid(kind, inputs)
        givens = kind.givens(puzzle)
        panels += [Panel(title, puzzle, givens), Panel("solution", decode_grid(kind, labels), givens)]
    return save_picture([draw_panels(kind, panels, columns=2 * pairs_per_row)], path)


# ---------------------------------------------------------------- curves

CURVE_SIZE = (720, 440)
CURVE_MARGINS = (64, 36, 24, 48)  # left, top, right, bottom: room for the tick labels and the title
CURVE_COLOURS = [(0, 90, 200), (220, 20, 60), (46, 160, 67), (255, 140, 0), (120, 60, 170), (90, 90, 90)]
AXIS = (60, 60, 60)
GRID_LINE = (230, 230, 230)
CURVE_TICKS = 5


def x_scale(xs: list[float]) -> tuple[Callable[[float], float], list[float]]:
    """The x axis of a curve: a position in [0, 1] for each value, and the ticks. Logarithmic (ticks at powers of 2)
    where the values span a factor of 4 or more, as compute doubling per point does; linear otherwise."""
    low, high = min(xs), max(xs)
    if low > 0 and high / low >= 4:
        log_low, log_high = math.log2(low), math.log2(high)
        ticks = [2.0**k for k in range(math.ceil(log_low), math.floor(log_high) + 1)]
        return lambda x: 0.05 + 0.9 * (math.log2(x) - log_low) / (log_high - log_low), ticks
    span = high - low or 1.0
    ticks = [low + span * i / (CURVE_TICKS - 1) for i in range(CURVE_TICKS)] if high > low else [low]
    return lambda x: 0.5 if high == low else 0.05 + 0.9 * (x - low) / span, ticks


def render_curve(
    series: dict[str, list[tuple[float, float, str]]], path: str | Path, title: str, x_label: str, y_label: str
) -> Path:
    """Write a line chart (PNG) of `series`, each a legend name and its points `(x, y, label)` in order; each point
    is marked and labelled (e.g. `K=8`). The y axis runs from 0 to 1 (accuracies); the x axis is logarithmic where the
    points span a factor of 4 or more."""
    left, top, right, bottom = CURVE_MARGINS
    width, height = CURVE_SIZE
    position, x_ticks = x_scale([x for points in series.values() for x, _, _ in points] or [1.0])

    def at(x: float, y: float) -> tuple[float, float]:
        return left + position(x) * (width - left - right), height - bottom - y * (height - top - bottom)

    image = Image.new("RGB", CURVE_SIZE, (255, 255, 255))
    draw = ImageDraw.Draw(image)
    text = font()
    draw.text((width / 2, 12), f"{title}: {y_label}", fill=AXIS, font=text, anchor="mm")
    for step in range(CURVE_TICKS):
        y = step / (CURVE_TICKS - 1)
        py = height - bottom - y * (height - top - bottom)
        draw.line([(left, py), (width - right, py)], fill=GRID_LINE)
        draw.text((left - 8, py), f"{y:.0%}", fill=AXIS, font=text, anchor="rm")
    for x in x_ticks:
        px, py = at(x, 0.0)
        draw.line([(px, py), (px, py + 4)], fill=AXIS)
        draw.text((px, py + 6), f"{x:.3g}", fill=AXIS, font=text, anchor="mt")
    draw.line([(left, height - bottom), (width - right, height - bottom)], fill=AXIS)
    draw.line([(left, height - bottom), (left, top)], fill=AXIS)
    draw.text(((left + width - right) / 2, height - 14), x_label, fill=AXIS, font=text, anchor="mm")
    for index, (name, points) in enumerate(series.items()):
        colour = CURVE_COLOURS[index % len(CURVE_COLOURS)]
        pixels = [at(x, y) for x, y, _ in points]
        if len(pixels) > 1:
            draw.line(pixels, fill=colour, width=2)
        for px, py in pixels:
            draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=colour)
        legend_y = height - bottom - 16 - index * (FONT_SIZE + 4)  # bottom right: accuracy curves rise away from it
        draw.line([(width - right - 200, legend_y), (width - right - 184, legend_y)], fill=colour, width=2)
        draw.text((width - right - 180, legend_y), name, fill=colour, font=text, anchor="lm")
    lowest: dict[tuple[float, str], float] = {}  # each mark once, under the lowest point it names
    for points in series.values():
        for x, y, label in points:
            lowest[x, label] = min(y, lowest.get((x, label), y))
    for (x, label), y in lowest.items():
        px, py = at(x, y)
        draw.text((px, py + 8), label, fill=AXIS, font=text, anchor="mt")
    return save_picture([image], path)
