"""`hrm solve` checks what it is given and what it prints: clashing clues are an error, and an answer that breaks
the puzzle's rules or changes a given is reported as not solved, with the segments used, and a non-zero exit."""

import pytest

from hrm_hf.pipeline_hrm import HrmPuzzlePipeline
from hrm_hf.scripts import solve as solve_script
from hrm_hf.tokenization_hrm import PuzzleInputError, encode_sudoku, format_sudoku, puzzle_type
from tests.helpers import MAZE, tiny_model
from tests.helpers import SUDOKU_QUESTION as QUESTION
from tests.helpers import SUDOKU_SOLUTION as SOLUTION


PUZZLE_4, SOLUTION_4 = ".12.2.1.13..42..", "3124241313424231"


def corner_maze() -> tuple[str, str]:
    """An open 30x30 field with S and G in opposite corners; the answer runs along the top row and the right side,
    one of its shortest paths."""
    rows = [["#"] * 30] + [["#"] + [" "] * 28 + ["#"] for _ in range(28)] + [["#"] * 30]
    rows[1][1], rows[28][28] = "S", "G"
    question = "\n".join(map("".join, rows))
    for column in range(2, 29):
        rows[1][column] = "o"
    for row in range(2, 28):
        rows[row][28] = "o"
    return question, "\n".join(map("".join, rows))


MAZE_QUESTION, MAZE_ANSWER = corner_maze()


@pytest.mark.parametrize(
    ("puzzle", "side", "clash"),
    [
        ("11" + "." * 14, 4, "row 1 has the clue 1 twice"),
        ("1..." + "1..." + "." * 8, 4, "column 1 has the clue 1 twice"),
        ("1...." + "1" + "." * 10, 4, "box 1 has the clue 1 twice"),
        (QUESTION[:2] + "5" + QUESTION[3:], 9, "row 1 has the clue 5 twice"),
    ],
)
def test_clashing_clues_are_refused(puzzle, side, clash):
    with pytest.raises(PuzzleInputError, match=f"sudoku clues clash: {clash}"):
        encode_sudoku(puzzle, side)


def test_valid_puzzles_still_encode():
    assert encode_sudoku(QUESTION).shape == (81,) and encode_sudoku(PUZZLE_4.replace(".", "0"), 4).shape == (16,)


@pytest.mark.parametrize(
    ("task", "puzzle", "answer", "problem"),
    [
        ("sudoku", QUESTION, SOLUTION, None),
        ("sudoku", PUZZLE_4, SOLUTION_4, None),
        ("sudoku", PUZZLE_4, "1" + SOLUTION_4[1:], "'answer' is not a valid solution"),
        ("sudoku", PUZZLE_4, SOLUTION_4[:-1] + ".", "'answer' has characters outside '1234'"),
        ("sudoku", QUESTION, SOLUTION.translate(str.maketrans("12", "21")), "disagrees with clue"),
        ("maze", MAZE_QUESTION, MAZE_ANSWER, None),
        ("maze", MAZE_QUESTION, MAZE_ANSWER.replace("o", " ", 1), "marks 52 path cells, but the shortest path"),
        ("maze", MAZE_QUESTION, MAZE_ANSWER.replace("#", " ", 1), "has ' ' where the question has '#'"),
        ("maze", MAZE.replace("o", " "), MAZE, "marks 28 path cells, but the shortest path from S to G has 53"),
        ("arc", [[1]], [[1, 2]], None),
    ],
)
def test_answer_problem_applies_the_rules(task, puzzle, answer, problem):
    found = puzzle_type(task).answer_problem(puzzle, answer)
    assert found is None if problem is None else problem in found


def pipeline_answer(solution: str, segments: int, confidence: float):
    """A stand-in for the pipeline's `__call__`: this answer to the one puzzle `hrm solve` gives it."""
    return lambda self, puzzles, **kwargs: [
        {"solution": solution, "segments": segments, "halt_confidence": confidence}
    ]


def test_solve_reports_a_rule_breaking_answer_as_not_solved(tmp_path, monkeypatch, capsys):
    tiny_model(seq_len=16, vocab_size=6, num_puzzle_identifiers=1).save_pretrained(tmp_path)
    broken = "2134" + SOLUTION_4[4:]  # the first row changes its given 2 into a 3
    monkeypatch.setattr(HrmPuzzlePipeline, "__call__", pipeline_answer(broken, 3, 0.9))
    with pytest.raises(SystemExit, match=r"not solved: 'answer' .* \(segments: 3, halting confidence: 0.900\)"):
        solve_script.main(["--model", str(tmp_path), "--sudoku", PUZZLE_4])
    assert capsys.readouterr().out == format_sudoku(broken) + "\n"
    monkeypatch.setattr(HrmPuzzlePipeline, "__call__", pipeline_answer(SOLUTION_4, 2, 0.8))
    solve_script.main(["--model", str(tmp_path), "--sudoku", PUZZLE_4])
    assert capsys.readouterr().out == format_sudoku(SOLUTION_4) + "\nsegments: 2, halting confidence: 0.800\n"


def test_solve_refuses_clashing_clues(tmp_path):
    tiny_model(seq_len=16, vocab_size=6, num_puzzle_identifiers=1).save_pretrained(tmp_path)
    with pytest.raises(SystemExit, match="error: sudoku clues clash: row 1 has the clue 1 twice"):
        solve_script.main(["--model", str(tmp_path), "--sudoku", "11" + "." * 14])
