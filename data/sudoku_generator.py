"""Seeded Sudoku generator: a random solution grid, then clues removed while the solution stays unique.

The rating of a puzzle is the number of dead ends a deterministic solver (most constrained cell first, digits in
ascending order) reaches before it finds the solution: 0 for puzzles solved by singles alone, large for the
puzzles of Sudoku-Extreme.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from math import isqrt

from .puzzle_csv import PuzzleRow, take_distinct


@dataclass(frozen=True)
class _Geometry:
    size: int
    units: tuple[tuple[int, int, int], ...]  # (row, column, box) of each cell
    full: int  # bit d set for every digit d in 1..size
    popcount: tuple[int, ...]


@cache
def _geometry(size: int) -> _Geometry:
    box = isqrt(size)
    if box * box != size:
        raise ValueError(f"Sudoku size must be a square (4 or 9), got {size}")
    units = tuple((r, c, (r // box) * box + c // box) for r in range(size) for c in range(size))
    full = sum(1 << d for d in range(1, size + 1))
    return _Geometry(size, units, full, tuple(bin(m).count("1") for m in range(full + 1)))


class _Search:
    """Depth-first search over a grid of digits (0 = blank) with row/column/box bit masks."""

    def __init__(
        self, grid: list[int], size: int, rng: random.Random | None = None, forbid: tuple[int, int] = (-1, 0)
    ):
        self.geo = _geometry(size)
        self.grid = list(grid)
        self.rng = rng
        self.forbid_cell, self.forbid_bit = forbid[0], 1 << forbid[1]
        self.rows, self.cols, self.boxes = [0] * size, [0] * size, [0] * size
        self.dead_ends = 0
        self.valid = True
        for cell, digit in enumerate(grid):
            if digit:
                self.valid &= self._place(cell, digit)

    def _place(self, cell: int, digit: int) -> bool:
        r, c, b = self.geo.units[cell]
        bit = 1 << digit
        if (self.rows[r] | self.cols[c] | self.boxes[b]) & bit:
            return False
        self.rows[r] |= bit
        self.cols[c] |= bit
        self.boxes[b] |= bit
        self.grid[cell] = digit
        return True

    def _remove(self, cell: int, digit: int) -> None:
        r, c, b = self.geo.units[cell]
        bit = ~(1 << digit)
        self.rows[r] &= bit
        self.cols[c] &= bit
        self.boxes[b] &= bit
        self.grid[cell] = 0

    def _candidates(self, cell: int) -> int:
        r, c, b = self.geo.units[cell]
        mask = self.geo.full & ~(self.rows[r] | self.cols[c] | self.boxes[b])
        return mask & ~self.forbid_bit if cell == self.forbid_cell else mask

    def _most_constrained(self) -> tuple[int, int]:
        """(cell, candidate mask) of the blank cell with fewest candidates; cell -1 when the grid is full."""
        best, best_mask, best_count = -1, 0, 99
        for cell, digit in enumerate(self.grid):
            if digit:
                continue
            mask = self._candidates(cell)
            count = self.geo.popcount[mask]
            if count < best_count:
                best, best_mask, best_count = cell, mask, count
                if count <= 1:
                    break
        return best, best_mask

    def solve(self) -> list[int] | None:
        """The first solution found, or None."""
        return self._solve() if self.valid else None

    def _solve(self) -> list[int] | None:
        cell, mask = self._most_constrained()
        if cell < 0:
            return list(self.grid)
        if not mask:
            self.dead_ends += 1
            return None
        digits = [d for d in range(1, self.geo.size + 1) if mask >> d & 1]
        if self.rng is not None:
            self.rng.shuffle(digits)
        for digit in digits:
            self._place(cell, digit)
            solution = self._solve()
            self._remove(cell, digit)
            if solution is not None:
                return solution
        return None


def solve(grid: list[int], size: int = 9) -> tuple[list[int] | None, int]:
    """(solution or None, rating) of a grid of digits, 0 for blank."""
    search = _Search(grid, size)
    return search.solve(), search.dead_ends


def is_unique_without(grid: list[int], cell: int, size: int) -> bool:
    """Whether blanking `cell` of a uniquely solvable `grid` keeps the solution unique."""
    digit = grid[cell]
    blanked = list(grid)
    blanked[cell] = 0
    return _Search(blanked, size, forbid=(cell, digit)).solve() is None


def _random_solution(size: int, rng: random.Random) -> list[int]:
    solution = _Search([0] * (size * size), size, rng=rng).solve()
    assert solution is not None  # an empty grid always has a solution
    return solution


def _remove_clues(solution: list[int], size: int, target_clues: int, rng: random.Random) -> list[int]:
    """Blank cells in random order while the solution stays unique, stopping at `target_clues` clues."""
    grid = list(solution)
    order = list(range(size * size))
    rng.shuffle(order)
    clues = len(grid)
    for cell in order:
        if clues <= target_clues:
            break
        if is_unique_without(grid, cell, size):
            grid[cell] = 0
            clues -= 1
    return grid


def _to_text(grid: list[int], blank: str) -> str:
    return "".join(str(d) if d else blank for d in grid)


def generate_puzzles(
    n: int,
    seed: int = 0,
    size: int = 9,
    clues: tuple[int, int] | None = None,
    min_rating: int = 0,
    max_attempts: int = 1000,
    progress: bool = True,
) -> list[PuzzleRow]:
    """Generate `n` distinct Sudoku puzzles with unique solutions, reproducibly from `seed`.

    Args:
        n: number of puzzles.
        seed: every random choice derives from it.
        size: 9 (3x3 boxes) or 4 (2x2 boxes).
        clues: (min, max): each puzzle gets exactly k clues, k drawn uniformly in that range; None removes clues
            until none can go (a minimal puzzle, 22-28 clues for 9x9).
        min_rating: keep only puzzles whose rating (solver dead ends) reaches this.
        max_attempts: candidate grids tried per puzzle before giving up with an error.
        progress: show a progress bar.
    """
    return take_distinct(_puzzle_stream(seed, size, clues, min_rating, max_attempts), n, "Sudoku", progress)


def _puzzle_stream(
    seed: int, size: int, clues: tuple[int, int] | None, min_rating: int, max_attempts: int
) -> Iterator[PuzzleRow]:
    rng = random.Random(seed)
    low, high = clues if clues is not None else (0, 0)
    if not 0 <= low <= high <= size * size:
        raise ValueError(f"Clue range must satisfy 0 <= min <= max <= {size * size}, got {clues}")
    while True:
        target = rng.randint(low, high)
        for _ in range(max_attempts):
            solution = _random_solution(size, rng)
            grid = _remove_clues(solution, size, target, rng)
            rating = solve(grid, size)[1]
            if (clues is None or sum(d > 0 for d in grid) == target) and rating >= min_rating:
                yield PuzzleRow(
                    f"generated:size={size},seed={seed}", _to_text(grid, "."), _to_text(solution, ""), rating
                )
                break
        else:
            clue_count = f"{target} clues" if clues is not None else "as few clues as keep it unique"
            raise ValueError(
                f"No {size}x{size} Sudoku with {clue_count} and rating >= {min_rating} in {max_attempts} attempts"
            )
