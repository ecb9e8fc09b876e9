"""Wrong data is refused with a message naming file and reason: maze answers that mark no shortest path, ARC grids
of booleans or files of the wrong shape, empty sources, and generator requests that could never finish."""

import json
import re
import shutil

import pytest

from hrm_hf.data import arc, maze
from hrm_hf.data.maze_generator import generate_mazes
from hrm_hf.data.puzzle_csv import HEADER, PuzzleFormatError, read_puzzle_csv
from hrm_hf.data.sudoku_generator import generate_puzzles
from tests.helpers import ARC_FIXTURES, corridor_maze


def _corridor_maze(path_cells: list[int]) -> tuple[str, str]:
    """Row 1 of a walled 30x30 grid is open; S at column 1, G at column 4, `o` at the given columns of row 1."""
    question, _ = corridor_maze(start=(1, 1), goal=(1, 4))
    answer = list(question)
    for column in path_cells:
        answer[30 + column] = "o"
    return question, "".join(answer)


@pytest.mark.parametrize(
    ("path_cells", "reason"),
    [
        ([2], "marks 1 path cells, but the shortest path from S to G has 2"),
        ([], "marks 0 path cells, but the shortest path from S to G has 2"),
        ([2, 5], "does not mark a connected path from S to G"),
        ([2, 3, 5], "marks 3 path cells, but the shortest path from S to G has 2"),
    ],
)
def test_maze_answer_must_mark_a_shortest_path(path_cells, reason):
    assert maze.validate_row(*_corridor_maze([2, 3])) is None
    assert reason in maze.validate_row(*_corridor_maze(path_cells))


def test_maze_without_a_route_is_refused():
    question, answer = corridor_maze(start=(1, 1), goal=(1, 3))
    walled = question[: 30 + 2] + "#" + question[30 + 3 :]
    assert maze.validate_row(walled, walled) == "field 'question' has no path from S to G"
    assert maze.validate_row(question, answer) is None


def test_generated_mazes_pass_the_path_check():
    for row in generate_mazes(3, seed=1, side=10, min_path_length=5, progress=False):
        assert maze.validate_row(row.question, row.answer, side=10) is None


@pytest.mark.parametrize(
    ("grid", "reason"),
    [
        ([[True, False], [False, True]], "a grid must hold integer colours 0..9, got True"),
        ([[1, 2.5]], "a grid must hold integer colours 0..9, got 2.5"),
        ([[1, 2], [3]], "a grid must be a rectangle, got rows of lengths [1, 2]"),
    ],
)
def test_arc_grids_hold_integers_only(grid, reason):
    with pytest.raises(PuzzleFormatError, match=re.escape(f"task x: {reason}")):
        arc.parse_grid(grid, "task x")


@pytest.mark.parametrize(
    ("write", "reason"),
    [
        (lambda path: path.write_text("[]"), "must be a JSON object keyed by task name, got a list"),
        (lambda path: path.write_bytes(b'{"a": "\xff"}'), "not UTF-8 text"),
    ],
)
def test_arc_files_of_the_wrong_shape_are_named(tmp_path, write, reason):
    shutil.copytree(ARC_FIXTURES, tmp_path / "kaggle")
    path = tmp_path / "kaggle" / "arc-agi_training_challenges.json"
    write(path)
    with pytest.raises(PuzzleFormatError, match=re.escape(f"{path}: {reason}")):
        arc.load_tasks(tmp_path / "kaggle", ["training"])


def test_arc_solution_that_is_a_number_is_named(tmp_path):
    shutil.copytree(ARC_FIXTURES, tmp_path / "kaggle")
    path = tmp_path / "kaggle" / "arc-agi_training_solutions.json"
    solutions = json.loads(path.read_text())
    path.write_text(json.dumps({name: 7 for name in solutions}))
    with pytest.raises(PuzzleFormatError, match="solutions must be a list of grids, got int"):
        arc.load_tasks(tmp_path / "kaggle", ["training"])


def test_empty_csv_is_an_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text(",".join(HEADER) + "\n")
    with pytest.raises(PuzzleFormatError, match=re.escape(f"{path}: no puzzle rows")):
        read_puzzle_csv(path, maze.validate_row)
    bad = tmp_path / "bad.csv"
    bad.write_text(",".join(HEADER) + "\nm,#,#,0\n")
    with pytest.raises(PuzzleFormatError, match="no puzzle rows \\(1 invalid rows skipped, first: "):
        read_puzzle_csv(bad, maze.validate_row, skip_invalid=True)


@pytest.mark.parametrize("generate", [generate_puzzles, generate_mazes])
@pytest.mark.parametrize("count", [0, -5])
def test_generators_refuse_counts_below_one(generate, count):
    with pytest.raises(ValueError, match=f"must be at least 1, got {count}"):
        generate(count, progress=False)


def test_generator_stops_when_no_new_distinct_puzzle_comes():
    # 4x4 Sudoku with 15 of 16 clues: at most 288 solutions x 16 blanks = 4608 distinct puzzles.
    with pytest.raises(ValueError, match=r"only \d+ distinct Sudoku of this kind found .* 5000 requested"):
        generate_puzzles(5000, size=4, clues=(15, 15), progress=False)


def test_ids_beyond_the_metadata_are_refused_when_training_loads_the_data(tmp_path):
    from hrm_hf.data.storage import METADATA_FILE
    from hrm_hf.data.sudoku import build_sudoku_dataset
    from hrm_hf.training.config import TrainConfig
    from hrm_hf.training.loop import load_data

    rows = generate_puzzles(6, size=4, clues=(8, 8), progress=False)
    build_sudoku_dataset(rows[:4], rows[4:], size=4, output_dir=tmp_path / "data")
    config = TrainConfig.from_dict({"data_path": str(tmp_path / "data"), "output_dir": str(tmp_path / "out")})
    load_data(config)
    path = tmp_path / "data" / METADATA_FILE
    content = json.loads(path.read_text())
    content["splits"]["test"]["vocab_size"] = 4  # as if the rows were rebuilt with a larger vocabulary
    path.write_text(json.dumps(content))
    with pytest.raises(
        ValueError, match=r"split 'test': column 'input_ids' holds ids 1\.\.5, but its metadata has vocab_size=4"
    ):
        load_data(config)
