"""Source parsing: CSV rows of Sudoku and Maze, ARC tasks in both layouts; every malformed case is an error that
names file (or task), line and reason."""

import json
import re
import shutil
from pathlib import Path

import pytest

from hrm_hf.data import arc, maze, sudoku
from hrm_hf.data.puzzle_csv import HEADER, PuzzleFormatError, PuzzleRow, read_puzzle_csv, write_puzzle_csv
from tests.helpers import ARC_FIXTURES, corridor_maze, write_task_folders
from tests.helpers import SUDOKU_QUESTION as QUESTION
from tests.helpers import SUDOKU_SOLUTION as SOLUTION


def _write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join([",".join(HEADER), *lines]) + "\n")
    return path


def test_valid_rows_keep_answers_as_strings(tmp_path):
    path = _write_csv(tmp_path / "s.csv", [f"src,{QUESTION},{SOLUTION},7"])
    (row,) = read_puzzle_csv(path, sudoku.validate_row)
    assert row == PuzzleRow("src", QUESTION, SOLUTION, 7)
    assert isinstance(row.answer, str) and row.answer.startswith("534")


SUDOKU_CASES = [
    (f"s,{QUESTION[:-1]},{SOLUTION},0", "field 'question' must have 81 characters, got 80"),
    (f"s,{QUESTION},{SOLUTION}5,0", "field 'answer' must have 81 characters, got 82"),
    (f"s,x{QUESTION[1:]},{SOLUTION},0", "field 'question' has characters outside"),
    (f"s,{QUESTION},0{SOLUTION[1:]},0", "field 'answer' has characters outside"),
    (f"s,{QUESTION},{SOLUTION[1] + SOLUTION[0] + SOLUTION[2:]},0", "not a valid solution: column 1 repeats a digit"),
    (f"s,{QUESTION.replace('5', '4', 1)},{SOLUTION},0", "disagrees with clue 4 at cell 0"),
    (f"s,{QUESTION},{SOLUTION}", "expected 4 fields"),
    (f"s,{QUESTION},{SOLUTION},hard", "field 'rating' must be an integer, got 'hard'"),
    (f"s,{QUESTION},{SOLUTION},--5", "field 'rating' must be an integer, got '--5'"),
]


@pytest.mark.parametrize("line, reason", SUDOKU_CASES)
def test_malformed_sudoku_row_names_file_line_and_reason(tmp_path, line, reason):
    path = _write_csv(tmp_path / "train.csv", [f"ok,{QUESTION},{SOLUTION},0", line])
    with pytest.raises(PuzzleFormatError, match=re.escape(f"{path}:3: ") + ".*" + re.escape(reason)):
        read_puzzle_csv(path, sudoku.validate_row)


def test_bad_sudoku_box_is_reported():
    # Swapping rows 3 and 4 keeps every row and column a permutation but breaks boxes.
    rows = [SOLUTION[i : i + 9] for i in range(0, 81, 9)]
    rows[2], rows[3] = rows[3], rows[2]
    assert (
        sudoku.validate_row("." * 81, "".join(rows)) == "field 'answer' is not a valid solution: box 1 repeats a digit"
    )


def test_byte_order_mark_is_not_part_of_the_header(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_text(f"{','.join(HEADER)}\ns,{QUESTION},{SOLUTION},1\n", encoding="utf-8-sig")
    assert [r.rating for r in read_puzzle_csv(path, sudoku.validate_row)] == [1]


def test_wrong_header_is_an_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(f"q,a\n{QUESTION},{SOLUTION}\n")
    with pytest.raises(PuzzleFormatError, match=re.escape(f"{path}:1: header must be")):
        read_puzzle_csv(path, sudoku.validate_row)


MAZE_CASES = [
    (lambda q, a: (q[:-1], a), "field 'question' must have 900 characters, got 899"),
    (lambda q, a: (q.replace("#", "x", 1), a), "field 'question' has characters outside"),
    (lambda q, a: (q.replace("G", " "), a.replace("G", " ")), "exactly one G, got 0"),
    (lambda q, a: (q.replace("  ", "SS", 1), a), "exactly one S, got 3"),
    (lambda q, a: (q, a.replace("#", "o", 1)), "field 'answer' has 'o' where the question has '#' (row 1, column 1)"),
]


@pytest.mark.parametrize("corrupt, reason", MAZE_CASES)
def test_malformed_maze_row_names_file_line_and_reason(tmp_path, corrupt, reason):
    question, answer = corrupt(*corridor_maze())
    path = _write_csv(tmp_path / "maze.csv", [f"m,{question},{answer},0"])
    assert read_puzzle_csv(_write_csv(tmp_path / "ok.csv", ["m,{},{},0".format(*corridor_maze())]), maze.validate_row)
    with pytest.raises(PuzzleFormatError, match=re.escape(f"{path}:2: ") + ".*" + re.escape(reason)):
        read_puzzle_csv(path, maze.validate_row)


def test_skip_invalid_counts_rows_in_one_warning(tmp_path):
    path = _write_csv(tmp_path / "s.csv", [f"a,{QUESTION},{SOLUTION},0", *(line for line, _ in SUDOKU_CASES)])
    with pytest.warns(UserWarning, match=rf"Skipped {len(SUDOKU_CASES)} invalid rows of .*s.csv \(first: .*s.csv:3:"):
        rows = read_puzzle_csv(path, sudoku.validate_row, skip_invalid=True)
    assert [r.source for r in rows] == ["a"]


def test_written_csv_reads_back(tmp_path):
    rows = [PuzzleRow("gen", QUESTION, SOLUTION, 3)]
    write_puzzle_csv(tmp_path / "x.csv", rows)
    assert read_puzzle_csv(tmp_path / "x.csv", sudoku.validate_row) == rows


# ---------------------------------------------------------------- ARC


def _kaggle_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "kaggle"
    shutil.copytree(ARC_FIXTURES, folder)
    return folder


def _edit_challenge(folder: Path, subset: str, task: str, edit) -> None:
    path = folder / f"arc-agi_{subset}_challenges.json"
    data = json.loads(path.read_text())
    edit(data[task])
    path.write_text(json.dumps(data))


def test_kaggle_tasks_load_with_solutions():
    tasks = arc.load_tasks(ARC_FIXTURES, ["training", "evaluation", "concept"])
    assert [t.name for t in tasks] == ["6150a2bd", "e9afcf9a", "66e6c45b", "6ea4a07e", "Center2"]
    assert [t.subset for t in tasks] == ["training"] * 2 + ["evaluation"] * 2 + ["concept"]
    solutions = json.loads((ARC_FIXTURES / "arc-agi_evaluation_solutions.json").read_text())
    assert [out.tolist() for _, out in tasks[3].test] == solutions["6ea4a07e"]


def test_folder_layout_gives_the_same_tasks(tmp_path):
    write_task_folders(tmp_path, ["training", "evaluation"])
    from_folder = arc.load_tasks(tmp_path, ["training", "evaluation"], kaggle=False)
    from_kaggle = arc.load_tasks(ARC_FIXTURES, ["training", "evaluation"])
    assert [t.name for t in from_folder] == [t.name for t in from_kaggle]
    for a, b in zip(from_folder, from_kaggle, strict=True):
        assert all(
            (x == y).all()
            for pa, pb in zip(a.train + a.test, b.train + b.test, strict=True)
            for x, y in zip(pa, pb, strict=True)
        )


@pytest.mark.parametrize(
    "edit, reason",
    [
        (
            lambda t: t["train"][0].update(input=[[0] * 31]),
            "task 6150a2bd: train example 0 input: grid of 1x31 exceeds 30x30",
        ),
        (
            lambda t: t["train"][1].update(output=[[0]] * 31),
            "task 6150a2bd: train example 1 output: grid of 31x1 exceeds 30x30",
        ),
        (
            lambda t: t["train"][0].update(input=[[1, 10]]),
            "task 6150a2bd: train example 0 input: colours must be in 0..9, got [10]",
        ),
        (
            lambda t: t["test"][0].update(input=[[1, -1]]),
            "task 6150a2bd: test example 0 input: colours must be in 0..9, got [-1]",
        ),
        (
            lambda t: t["train"][0].update(input=[[1, 2], [3]]),
            "task 6150a2bd: train example 0 input: a grid must be a rectangle",
        ),
        (lambda t: t.update(train=[]), "task 6150a2bd: 'train' must be a non-empty list"),
    ],
)
def test_malformed_arc_task_names_the_task(tmp_path, edit, reason):
    folder = _kaggle_copy(tmp_path)
    _edit_challenge(folder, "training", "6150a2bd", edit)
    with pytest.raises(PuzzleFormatError, match=re.escape(reason)):
        arc.load_tasks(folder, ["training"])


def test_arc_solution_count_mismatch_and_duplicates(tmp_path):
    folder = _kaggle_copy(tmp_path)
    _edit_challenge(folder, "evaluation", "6ea4a07e", lambda t: t["test"].pop())
    with pytest.raises(PuzzleFormatError, match="task 6ea4a07e: 1 test inputs but 2 solutions"):
        arc.load_tasks(folder, ["evaluation"])
    for suffix in ("challenges", "solutions"):
        shutil.copy(ARC_FIXTURES / f"arc-agi_training_{suffix}.json", folder / f"arc-agi_again_{suffix}.json")
    with pytest.raises(PuzzleFormatError, match="Task 6150a2bd is in both subsets training and again"):
        arc.load_tasks(folder, ["training", "again"])


def test_unreadable_arc_files_name_the_file_or_task(tmp_path):
    (tmp_path / "training").mkdir()
    broken = tmp_path / "training" / "broken.json"
    broken.write_text('{"train": [\n  {"input": [[1]]\n')
    with pytest.raises(PuzzleFormatError, match=re.escape(f"{broken}:3: invalid JSON")):
        arc.load_tasks(tmp_path, ["training"], kaggle=False)
    broken.write_text("[[1, 2]]")
    with pytest.raises(PuzzleFormatError, match="task broken: must be an object with 'train' and 'test'"):
        arc.load_tasks(tmp_path, ["training"], kaggle=False)
    broken.write_text(json.dumps({"train": [[[1]], [[2]]], "test": []}))
    with pytest.raises(PuzzleFormatError, match="task broken: 'train' must be a non-empty list of examples"):
        arc.load_tasks(tmp_path, ["training"], kaggle=False)
