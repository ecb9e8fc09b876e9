"""Offline generators: valid, unique, reproducible byte for byte, with working difficulty knobs."""

import itertools

import pytest

from hrm_hf.data import maze, sudoku
from hrm_hf.data.maze_generator import generate_mazes, shortest_paths
from hrm_hf.data.puzzle_csv import write_puzzle_csv
from hrm_hf.data.sudoku_generator import generate_puzzles, solve


def _count_solutions(grid: list[int], size: int, limit: int = 2) -> int:
    """Plain backtracking, independent of the generator's solver."""
    box = int(size**0.5)
    try:
        cell = grid.index(0)
    except ValueError:
        return 1
    r, c = divmod(cell, size)
    used = {grid[r * size + j] for j in range(size)} | {grid[i * size + c] for i in range(size)}
    br, bc = r // box * box, c // box * box
    used |= {grid[(br + i) * size + bc + j] for i in range(box) for j in range(box)}
    total = 0
    for digit in set(range(1, size + 1)) - used:
        grid[cell] = digit
        total += _count_solutions(grid, size, limit - total)
        grid[cell] = 0
        if total >= limit:
            break
    return total


def _digits(text: str) -> list[int]:
    return [0 if ch == "." else int(ch) for ch in text]


@pytest.mark.parametrize("size, clues", [(4, (6, 8)), (9, (30, 32)), (9, None)])
def test_sudoku_puzzles_are_valid_unique_and_have_the_asked_clues(size, clues):
    rows = generate_puzzles(4, seed=3, size=size, clues=clues, progress=False)
    assert len({r.question for r in rows}) == 4
    for row in rows:
        assert sudoku.validate_row(row.question, row.answer, size) is None
        assert _count_solutions(_digits(row.question), size) == 1
        given = sum(ch != "." for ch in row.question)
        if clues is not None:
            assert clues[0] <= given <= clues[1]
        assert row.rating == solve(_digits(row.question), size)[1]


def test_minimal_sudoku_puzzles_lose_uniqueness_when_any_clue_goes():
    (row,) = generate_puzzles(1, seed=0, progress=False)
    grid = _digits(row.question)
    for cell in [i for i, d in enumerate(grid) if d][:10]:
        assert _count_solutions(grid[:cell] + [0] + grid[cell + 1 :], 9) == 2


def test_min_rating_keeps_harder_puzzles():
    rows = generate_puzzles(3, seed=1, min_rating=2, progress=False)
    assert all(r.rating >= 2 for r in rows)


def test_generators_are_reproducible_byte_for_byte(tmp_path):
    for name, make in {
        "sudoku": lambda seed: generate_puzzles(5, seed=seed, progress=False),
        "maze": lambda seed: generate_mazes(3, seed=seed, min_path_length=40, progress=False),
    }.items():
        for seed, copy in itertools.product((0, 1), ("a", "b")):
            write_puzzle_csv(tmp_path / f"{name}-{seed}-{copy}.csv", make(seed))
        assert (tmp_path / f"{name}-0-a.csv").read_bytes() == (tmp_path / f"{name}-0-b.csv").read_bytes()
        assert (tmp_path / f"{name}-0-a.csv").read_bytes() != (tmp_path / f"{name}-1-a.csv").read_bytes()


def test_mazes_have_one_shortest_path_of_the_asked_length():
    for row in generate_mazes(4, seed=5, min_path_length=60, progress=False):
        assert maze.validate_row(row.question, row.answer) is None
        is_open = [ch != "#" for ch in row.question]
        start, goal = row.question.index("S"), row.question.index("G")
        dist, count, _ = shortest_paths(is_open, 30, start)
        assert dist[goal] == row.rating >= 60 and count[goal] == 1
        path = {i for i, ch in enumerate(row.answer) if ch == "o"}
        assert len(path) == dist[goal] - 1
        # the marked cells, walked from S, lead to G with one step per cell
        on_path = [start]
        while len(on_path) < len(path) + 2:
            r, c = divmod(on_path[-1], 30)
            (nxt,) = [
                n
                for n in (on_path[-1] - 30, on_path[-1] + 30, on_path[-1] - 1, on_path[-1] + 1)
                if (n in path or n == goal) and n not in on_path and abs(n % 30 - c) + abs(n // 30 - r) == 1
            ]
            on_path.append(nxt)
        assert on_path[-1] == goal
