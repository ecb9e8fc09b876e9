"""ARC scoring, as the authors' release scores ARC: crop each prediction, undo its augmentation, vote across augmentations per test input.

Augmented puzzles are named `<puzzle>_t<transform>_<colour map>` (see `data.arc`), which says how to map a predicted
grid back to the original puzzle.
Candidates of one test input are ranked by votes, then by mean halting confidence `sigmoid(q_halt)`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ..data.arc import parse_identifier
from ..tokenization_hrm import decode_arc


SUBMISSION_ATTEMPTS = 2


@dataclass
class ArcCandidate:
    """One model prediction for one test input of one augmented puzzle, already cropped (tokens -> colours)."""

    identifier_name: str
    test_index: int
    grid: np.ndarray
    halt_confidence: float


@dataclass
class RankedTestInput:
    """A test input's candidate grids, best first, with their votes and mean confidence."""

    puzzle: str
    test_index: int
    grids: list[np.ndarray] = field(default_factory=list)
    votes: list[int] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)


def grid_key(grid: np.ndarray) -> tuple:
    """A hashable identity of a grid (shape and colours)."""
    return grid.shape, grid.tobytes()


def vote(candidates: Iterable[ArcCandidate]) -> dict[tuple[str, int], RankedTestInput]:
    """Rank the de-augmented candidates of every `(puzzle, test index)` by votes, then by mean confidence."""
    tallies: dict[tuple[str, int], dict[tuple, list]] = defaultdict(dict)
    for candidate in candidates:
        puzzle, augmentation = parse_identifier(candidate.identifier_name)
        grid = augmentation.invert(candidate.grid.astype(np.uint8)).astype(np.int64)
        entry = tallies[puzzle, candidate.test_index].setdefault(grid_key(grid), [grid, 0, 0.0])
        entry[1] += 1
        entry[2] += candidate.halt_confidence
    ranked = {}
    for (puzzle, test_index), entries in tallies.items():
        order = sorted(entries.values(), key=lambda e: (-e[1], -e[2] / e[1]))
        ranked[puzzle, test_index] = RankedTestInput(
            puzzle, test_index, [e[0] for e in order], [e[1] for e in order], [e[2] / e[1] for e in order]
        )
    return ranked


def candidates_from_rows(
    identifiers: Iterable[int],
    predictions: Iterable[np.ndarray],
    confidences: Iterable[float],
    identifier_names: list[str],
    blank_id: int,
) -> list[ArcCandidate]:
    """Cropped candidates of evaluation rows in dataset order; a row's test index counts earlier rows of its puzzle.

    Rows with the blank identifier (padding) are skipped.
    """
    seen: dict[int, int] = defaultdict(int)
    candidates = []
    for identifier, tokens, confidence in zip(identifiers, predictions, confidences, strict=True):
        if identifier == blank_id:
            continue
        candidates.append(ArcCandidate(identifier_names[identifier], seen[identifier], decode_arc(tokens), confidence))
        seen[identifier] += 1
    return candidates


def submission(ranked: dict[tuple[str, int], RankedTestInput]) -> dict[str, list[dict[str, list[list[int]]]]]:
    """Kaggle format: per puzzle, per test input in order, `attempt_1` and `attempt_2` (the best two candidates;
    the best one again when there is only one)."""
    puzzles: dict[str, dict[int, dict]] = defaultdict(dict)
    for (puzzle, test_index), entry in ranked.items():
        grids = entry.grids[:SUBMISSION_ATTEMPTS]
        grids += [grids[0]] * (SUBMISSION_ATTEMPTS - len(grids))
        puzzles[puzzle][test_index] = {f"attempt_{i + 1}": grid.tolist() for i, grid in enumerate(grids)}
    return {puzzle: [tests[i] for i in sorted(tests)] for puzzle, tests in sorted(puzzles.items())}
