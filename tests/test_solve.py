"""The puzzle codecs (string/grid <-> tokens), and `scripts.solve`, which prints the puzzle pipeline's answer."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from hrm_hf.data import render
from hrm_hf.evaluation.halting import roll_out_segments
from hrm_hf.pipeline_hrm import HrmPuzzlePipeline
from hrm_hf.scripts import solve as solve_script
from hrm_hf.tokenization_hrm import ARC, PuzzleInputError, format_sudoku, infer_puzzle_type, puzzle_type
from hrm_hf.tokenization_hrm import SUDOKU as SUDOKU_TYPE
from tests.helpers import MAZE, SUDOKU, tiny_model


@pytest.mark.parametrize(
    ("task", "puzzle", "seq_len", "decoded"),
    [
        ("sudoku", SUDOKU, 81, SUDOKU),
        ("sudoku", SUDOKU.replace(".", "0"), 81, SUDOKU),
        ("sudoku", "1.3.\n.2..\n..4.\n3...", 16, "1.3..2....4.3..."),
        ("maze", MAZE, 900, MAZE),
    ],
)
def test_text_puzzles_round_trip(task, puzzle, seq_len, decoded):
    tokens = puzzle_type(task).encode(puzzle, seq_len)
    assert tokens.shape == (seq_len,) and tokens.min() >= 1
    assert puzzle_type(task).decode(tokens) == decoded


def test_sudoku_tokens_are_digit_plus_one():
    assert SUDOKU_TYPE.encode("1.3..2...4..3...", 16)[:4].tolist() == [2, 1, 4, 1]


@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (30, 30), (30, 2)])
def test_arc_grids_round_trip(shape):
    grid = np.random.default_rng(0).integers(0, 10, shape)
    tokens = ARC.encode(grid.tolist(), 900)
    assert tokens.shape == (900,)
    assert ARC.decode(tokens).tolist() == grid.tolist()


@pytest.mark.parametrize(
    ("task", "puzzle", "seq_len", "message"),
    [
        ("sudoku", SUDOKU[:-1], 81, "sudoku must have 81 cells, got 80"),
        ("sudoku", SUDOKU[:-1] + "x", 81, "sudoku may hold only '.0123456789', got 'x'"),
        ("sudoku", "1.3..2...4..3..5", 16, "sudoku may hold only '.01234', got '5'"),
        ("maze", MAZE[:-1], 900, r"maze must be 30 lines of 30 characters, got 30 lines of \[29, 30\]"),
        ("maze", MAZE.replace("S", "X"), 900, "maze may hold only '# SGo', got 'X'"),
        ("arc", [[1, 2], [3]], 900, "ARC grid must be 2-D"),
        ("arc", [[1, 10]], 900, "ARC grid colours must be integers in 0..9"),
        ("arc", [[0] * 31], 900, r"ARC grid must be 2-D with sides 1..30, got shape \[1, 31\]"),
        ("chess", "e4", 64, "task must be one of"),
    ],
)
def test_invalid_puzzles_are_named(task, puzzle, seq_len, message):
    with pytest.raises(PuzzleInputError, match=message):
        puzzle_type(task).encode(puzzle, seq_len)


def test_infer_puzzle_type():
    shapes = [(81, 11), (16, 6), (900, 6), (900, 12), (50, 11)]
    assert [getattr(infer_puzzle_type(*shape), "name", None) for shape in shapes] == [
        "sudoku", "sudoku", "maze", "arc", None,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("task", "puzzle", "seq_len", "vocab_size"),
    [("sudoku", "1.3..2...4..3...", 16, 6), ("maze", MAZE, 900, 6), ("arc", [[1, 2, 3], [4, 5, 6]], 900, 12)],
)
def test_solve_prints_the_pipelines_answer(tmp_path, capsys, task, puzzle, seq_len, vocab_size):
    model = tiny_model(seq_len=seq_len, vocab_size=vocab_size)
    model.save_pretrained(tmp_path / "model")
    expected = HrmPuzzlePipeline(model=model)(puzzle, halting="fixed", puzzle_identifier=1)
    text = puzzle if isinstance(puzzle, str) else json.dumps(puzzle)
    flags = ["--model", str(tmp_path / "model"), f"--{task}", text, "--halting", "fixed", "--puzzle-identifier", "1"]
    try:
        solve_script.main(flags)
        verdict = ""
    except SystemExit as exit:  # a random model's answer may break the rules: reported as not solved
        verdict = str(exit)
    out = capsys.readouterr().out
    assert out.startswith(puzzle_type(task).answer_text(expected["solution"]) + "\n")
    assert f"segments: {expected['segments']}, halting confidence: {expected['halt_confidence']:.3f}" in verdict + out


def test_solve_script_prints_the_grid(tmp_path, capsys):
    model = tiny_model(seq_len=16, vocab_size=6, num_puzzle_identifiers=1)
    model.save_pretrained(tmp_path)
    result = HrmPuzzlePipeline(model=model)("1.3..2...4..3...", halting="fixed")
    expected, steps = result["solution"], result["segments"]
    # A random model's grid breaks the rules: printed, then reported as not solved (tests/test_solve_checks.py).
    with pytest.raises(SystemExit, match=f"not solved: .* \\(segments: {steps},"):
        solve_script.main(["--model", str(tmp_path), "--sudoku", "1.3..2...4..3...", "--halting", "fixed"])
    assert capsys.readouterr().out.startswith(format_sudoku(expected))


def test_solve_script_reads_a_maze_file(tmp_path, capsys):
    model = tiny_model(seq_len=900, vocab_size=6, num_puzzle_identifiers=1, halt_max_steps=2)
    model.save_pretrained(tmp_path / "model")
    (tmp_path / "maze.txt").write_text(MAZE + "\n")
    with pytest.raises(SystemExit, match="not solved: .* \\(segments: 2,"):
        solve_script.main(
            ["--model", str(tmp_path / "model"), "--maze", str(tmp_path / "maze.txt"), "--halting", "fixed"]
        )
    expected = HrmPuzzlePipeline(model=model)(MAZE, halting="fixed")["solution"]
    assert capsys.readouterr().out == expected + "\n"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--sudoku", "1.3..2...4..3.."], "sudoku must have 16 cells, got 15"),
        (["--arc", "[[1]]"], "--arc given, but the model"),
        (["--arc", "[[1],"], r"arc must be a JSON file or grid such as \[\[0, 1\], \[1, 0\]\], got '\[\[1\],'"),
        (["--maze", "maze.txt"], "maze must be a file or 30 lines of text, got no file 'maze.txt'"),
        (
            ["--sudoku", "1.3..2...4..3...", "--puzzle-identifier", "7"],
            r"puzzle_identifier must lie in \[0, 1\), got 7",
        ),
    ],
)
def test_solve_script_errors_are_clear(tmp_path, flags, message):
    tiny_model(seq_len=16, vocab_size=6, num_puzzle_identifiers=1).save_pretrained(tmp_path)
    with pytest.raises(SystemExit, match=message):
        solve_script.main(["--model", str(tmp_path), *flags])


def test_solve_script_rejects_zero_steps(capsys):
    with pytest.raises(SystemExit):
        solve_script.parse_args(["--model", "m", "--sudoku", "1", "--max-steps", "0"])
    assert "--max-steps must be at least 1, got 0" in capsys.readouterr().err


def test_solve_script_prints_an_arc_grid_one_row_per_line():
    assert ARC.answer_text(np.array([[0, 1], [2, 3]])) == "[[0, 1],\n [2, 3]]"


def test_solve_png_draws_givens_and_filled_cells_apart(tmp_path, capsys):
    model = tiny_model(seq_len=16, vocab_size=6, num_puzzle_identifiers=1)
    model.save_pretrained(tmp_path / "model")
    flags = ["--model", str(tmp_path / "model"), "--sudoku", "1.3..2...4..3...", "--halting", "fixed"]
    with pytest.raises(SystemExit, match="not solved"):
        solve_script.main([*flags, "--png", str(tmp_path / "answer.png")])
    assert f"Wrote {tmp_path / 'answer.png'}" in capsys.readouterr().out
    pixels = np.asarray(Image.open(tmp_path / "answer.png").convert("RGB"))
    cell, top, puzzle_left = SUDOKU_TYPE.cell_pixels, render.GAP + render.TITLE, render.GAP
    # The first cell is given (1): grey in the puzzle panel; the second is blank: white there, a blue digit later.
    first = pixels[top + 3 : top + 6, puzzle_left + 3 : puzzle_left + 6]
    second = pixels[top + 3 : top + 6, puzzle_left + cell + 3 : puzzle_left + cell + 6]
    assert (first == render.GIVEN_FILL).all() and (second == 255).all()
    blue = np.all(pixels == render.FILLED_DIGIT, axis=-1)
    assert not blue[:, : puzzle_left + 4 * cell].any() and blue[:, puzzle_left + 4 * cell :].any()


def test_solve_segments_draw_every_segment_and_frame_the_halting_one(tmp_path):
    model = tiny_model(seq_len=16, vocab_size=6, num_puzzle_identifiers=1, halt_max_steps=4)
    model.save_pretrained(tmp_path / "model")
    puzzle = "1.3..2...4..3..."
    rollout = roll_out_segments(model, torch.as_tensor(SUDOKU_TYPE.encode(puzzle, 16))[None])
    halt_step = int(rollout.halt_steps[0])
    flags = ["--model", str(tmp_path / "model"), "--sudoku", puzzle, "--halting", "fixed", "--segments"]
    for name in ("strip.png", "frames.gif"):
        with pytest.raises(SystemExit, match="not solved"):
            solve_script.main([*flags, "--png", str(tmp_path / name)])
    strip = np.asarray(Image.open(tmp_path / "strip.png").convert("RGB"))
    green_columns = np.nonzero(np.all(strip == render.HALT, axis=-1).any(axis=0))[0]
    frame_width = 4 * SUDOKU_TYPE.cell_pixels + 8  # one frame, 4 pixels outside the grid on either side
    assert green_columns.max() - green_columns.min() + 1 == frame_width
    with Image.open(tmp_path / "frames.gif") as gif:
        assert gif.n_frames == 4  # one frame per segment, puzzle beside it
        framed = []
        for index in range(gif.n_frames):
            gif.seek(index)
            framed.append(bool(np.all(np.asarray(gif.convert("RGB")) == render.HALT, axis=-1).any()))
    assert framed == [step == halt_step for step in range(1, 5)]


def test_solve_segments_need_png(capsys):
    with pytest.raises(SystemExit):
        solve_script.parse_args(["--model", "m", "--sudoku", "1", "--segments"])
    assert "--segments draws into the --png PATH; give --png too" in capsys.readouterr().err
