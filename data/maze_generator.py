"""Seeded maze generator: a random maze with loops, S and G joined by exactly one shortest path.

The maze is carved on the odd lattice (a random spanning tree), then a fraction of the remaining inner walls
between lattice cells is opened to make loops. S is a random open cell; G is drawn among the open cells at least
`min_path_length` steps away whose shortest path from S is unique.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from ..tokenization_hrm import shortest_paths
from .puzzle_csv import PuzzleRow, take_distinct


def _carve(side: int, loop_fraction: float, rng: random.Random) -> list[bool]:
    """Open cells (True) of a `side` x `side` maze with an outer wall."""
    is_open = [False] * (side * side)
    lattice = [(r, c) for r in range(1, side - 1, 2) for c in range(1, side - 1, 2)]
    lattice_set = set(lattice)
    start = rng.choice(lattice)
    is_open[start[0] * side + start[1]] = True
    stack, visited = [start], {start}
    while stack:  # randomised depth-first search over lattice cells two steps apart
        r, c = stack[-1]
        steps = [(dr, dc) for dr, dc in ((0, 2), (2, 0), (0, -2), (-2, 0)) if (r + dr, c + dc) in lattice_set]
        fresh = [(dr, dc) for dr, dc in steps if (r + dr, c + dc) not in visited]
        if not fresh:
            stack.pop()
            continue
        dr, dc = rng.choice(fresh)
        is_open[(r + dr // 2) * side + c + dc // 2] = is_open[(r + dr) * side + c + dc] = True
        visited.add((r + dr, c + dc))
        stack.append((r + dr, c + dc))
    inner_walls = [
        r * side + c
        for r in range(1, side - 1)
        for c in range(1, side - 1)
        if not is_open[r * side + c] and (r % 2) != (c % 2) and r < side - 2 and c < side - 2
    ]
    for cell in rng.sample(inner_walls, int(loop_fraction * len(inner_walls))):
        is_open[cell] = True
    return is_open


def _maze_text(is_open: list[bool], start: int, goal: int, path: set[int]) -> str:
    marks = {start: "S", goal: "G"}
    return "".join(marks.get(i, "o" if i in path else " " if o else "#") for i, o in enumerate(is_open))


def _try_maze(
    side: int, min_path_length: int, loop_fraction: float, rng: random.Random, source: str
) -> PuzzleRow | None:
    is_open = _carve(side, loop_fraction, rng)
    start = rng.choice([i for i, o in enumerate(is_open) if o])
    dist, count, parent = shortest_paths(is_open, side, start)
    goals = [i for i, d in enumerate(dist) if d >= max(1, min_path_length) and count[i] == 1]
    if not goals:
        return None
    goal = rng.choice(goals)
    path, cell = set(), parent[goal]
    while cell != start:
        path.add(cell)
        cell = parent[cell]
    return PuzzleRow(
        source, _maze_text(is_open, start, goal, set()), _maze_text(is_open, start, goal, path), dist[goal]
    )


def _maze_stream(
    seed: int, side: int, min_path_length: int, loop_fraction: float, max_attempts: int = 1000
) -> Iterator[PuzzleRow]:
    rng = random.Random(seed)
    source = f"generated:side={side},seed={seed}"
    while True:
        for _ in range(max_attempts):
            maze = _try_maze(side, min_path_length, loop_fraction, rng, source)
            if maze is not None:
                yield maze
                break
        else:
            raise ValueError(
                f"No {side}x{side} maze with a unique shortest path of >= {min_path_length} steps in {max_attempts} attempts"
            )


def generate_mazes(
    n: int,
    seed: int = 0,
    side: int = 30,
    min_path_length: int = 110,
    loop_fraction: float = 0.1,
    progress: bool = True,
) -> list[PuzzleRow]:
    """Generate `n` distinct mazes reproducibly from `seed`; the rating column is the shortest path length.

    Args:
        n: number of mazes.
        seed: every random choice derives from it.
        side: grid side (the authors' mazes are 30).
        min_path_length: fewest steps from S to G (the authors' hard set has long paths, above 110).
        loop_fraction: share of inner walls opened after carving, which makes alternative routes.
        progress: show a progress bar.
    """
    return take_distinct(_maze_stream(seed, side, min_path_length, loop_fraction), n, "mazes", progress)
