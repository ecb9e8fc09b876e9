"""Pictures: input, truth and prediction per puzzle type (size, wrong cells, Sudoku box lines and givens), and the
segment strip (changed cells)."""

import numpy as np
import pytest
from PIL import Image

from hrm_hf.data.render import (
    CHANGED,
    GAP,
    GIVEN_FILL,
    MIN_PANEL,
    TITLE,
    WRONG,
    render_example,
    render_segments,
)
from hrm_hf.tokenization_hrm import ARC, puzzle_type
from hrm_hf.tokenization_hrm import MAZE as MAZE_TYPE
from hrm_hf.tokenization_hrm import SUDOKU as SUDOKU_TYPE
from tests.helpers import MAZE, SUDOKU


CELL, SUDOKU_CELL = ARC.cell_pixels, SUDOKU_TYPE.cell_pixels
SOLVED = "483921657967345821251876493548132976729564138136798245372689514814253769695417382"


def sudoku_case():
    inputs, labels = SUDOKU_TYPE.encode(SUDOKU, 81), SUDOKU_TYPE.encode(SOLVED, 81)
    prediction = labels.copy()
    prediction[0] = 2 if labels[0] != 2 else 3  # one wrong cell, top left
    return inputs, labels, prediction


@pytest.mark.parametrize(
    ("task", "case", "size"),
    [
        ("sudoku", sudoku_case(), (3 * 9 * SUDOKU_CELL + 4 * GAP, 9 * SUDOKU_CELL + TITLE + 2 * GAP)),
        ("maze", (MAZE_TYPE.encode(MAZE, 900),) * 3, (3 * 30 * CELL + 4 * GAP, 30 * CELL + TITLE + 2 * GAP)),
        (
            "arc",
            tuple(ARC.encode(grid, 900) for grid in ([[1, 2, 3]], [[1], [2], [3], [4], [5]], [[1, 1]])),
            (3 * MIN_PANEL + 4 * GAP, 5 * CELL + TITLE + 2 * GAP),  # every grid narrower than a panel
        ),
    ],
)
def test_png_has_the_expected_size(tmp_path, task, case, size):
    path = render_example(puzzle_type(task), *case, tmp_path / "pics" / f"{task}.png")
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == size


def test_wrong_cells_are_outlined_only_in_the_prediction(tmp_path):
    path = render_example(SUDOKU_TYPE, *sudoku_case(), tmp_path / "s.png")
    pixels = np.asarray(Image.open(path).convert("RGB"))
    red = np.all(pixels == WRONG, axis=-1)
    prediction_left = GAP + 2 * (9 * SUDOKU_CELL + GAP)
    top = GAP + TITLE
    assert red[top : top + SUDOKU_CELL, prediction_left : prediction_left + SUDOKU_CELL].any()
    assert not red[:, :prediction_left].any()
    assert not red[top + SUDOKU_CELL :, prediction_left + SUDOKU_CELL :].any()


def test_sudoku_boxes_are_ruled_and_givens_stand_apart(tmp_path):
    path = render_example(SUDOKU_TYPE, *sudoku_case(), tmp_path / "s.png")
    pixels = np.asarray(Image.open(path).convert("RGB"))
    top, grid = GAP + TITLE, 9 * SUDOKU_CELL
    column = pixels[top + 1 : top + grid - 1]
    box_edge, cell_edge = GAP + 3 * SUDOKU_CELL, GAP + SUDOKU_CELL
    assert (column[:, box_edge] == 0).all()  # a thick black line between boxes, top to bottom
    assert not (column[:, cell_edge] == 0).all()  # a thin grey one between cells
    clue = SUDOKU.index("3")  # the first given: grey in every panel; a blank cell stays white in the input
    corner = (top + (clue // 9) * SUDOKU_CELL + 4, GAP + (clue % 9) * SUDOKU_CELL + 4)
    assert tuple(pixels[corner]) == GIVEN_FILL and tuple(pixels[top + 4, GAP + 4]) == (255, 255, 255)


def test_a_30x30_grid_gets_cells_of_16_pixels(tmp_path):
    grid = np.random.default_rng(0).integers(0, 10, (30, 30))
    tokens = ARC.encode(grid.tolist(), 900)
    with Image.open(render_example(ARC, tokens, tokens, tokens, tmp_path / "a.png")) as image:
        assert image.size == (3 * 30 * 16 + 4 * GAP, 30 * 16 + TITLE + 2 * GAP)


def test_segments_outline_the_cells_each_segment_changed(tmp_path):
    inputs, labels, _ = sudoku_case()
    second = labels.copy()
    second[40] = 2 if labels[40] != 2 else 3  # segment 2 changes one cell; segment 3 changes it back
    path = render_segments(SUDOKU_TYPE, inputs, [labels, second, labels], halt_step=3, path=tmp_path / "s.png")
    pixels = np.asarray(Image.open(path).convert("RGB"))
    orange_columns = np.nonzero(np.all(pixels == CHANGED, axis=-1).any(axis=0))[0]
    panel = 9 * SUDOKU_CELL + GAP  # panels: puzzle, segment 1, 2, 3
    assert sorted({(column - GAP) // panel for column in orange_columns}) == [2, 3]
    assert orange_columns.max() - orange_columns.min() < panel + SUDOKU_CELL  # one cell in each of the two
