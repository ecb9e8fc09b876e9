"""Test-time scaling of a dataset evaluation: every row solved under K transforms of its puzzle type and by every
model of an ensemble, the answers mapped back to the original puzzle and one selected per row.

The transforms are the puzzle type's own augmentations (`PuzzleType.random_augmentations`, the identity first), and
the selection is the pipeline's (`pipeline_hrm.select_answer`: votes, then mean halting confidence, as the authors'
ARC voting ranks; `rules` first drops answers that break the puzzle's rules). With K=1 and one model the selected
row is the solved row itself, so the evaluation is the plain one, number for number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..pipeline_hrm import augmented, check_selection, check_tta, select_answer, test_time_augmentations, unaugmented
from .halting import SolvedRow


if TYPE_CHECKING:
    from ..tokenization_hrm import PuzzleType


@dataclass
class Candidates:
    """Every answer of every row of a split, mapped back to the original puzzles.

    Attributes:
        copies: one list of solved rows per (model, transform), each in dataset order; the predictions are answers to
            the original puzzle, `steps` the segments that copy used.
        seconds: the wall-clock of solving them all.
        protocol: how they were made: halting, segments, tta, models.
    """

    copies: list[list[SolvedRow]]
    seconds: float
    protocol: dict


def augmented_arrays(
    arrays: dict[str, np.ndarray], kind: PuzzleType | None, tta: int, seed: int
) -> tuple[dict[str, np.ndarray], list]:
    """The rows to solve: each row's `tta` transformed copies side by side (row-major: row 0's copies, row 1's, ...,
    so a puzzle's copies run in one batch), and the transform of each copy by row, `[rows][tta]`."""
    rows, seq_len = arrays["input_ids"].shape
    if tta == 1:
        return {key: arrays[key] for key in ("input_ids", "puzzle_identifiers")}, [[None]] * rows
    check_tta(kind, tta)
    rng = np.random.default_rng(seed)
    transforms = [test_time_augmentations(kind, rng, tta, seq_len) for _ in range(rows)]
    inputs = np.stack([
        augmented(kind, tokens, transform)
        for tokens, row_transforms in zip(arrays["input_ids"], transforms, strict=True)
        for transform in row_transforms
    ])  # fmt: skip
    return {"input_ids": inputs, "puzzle_identifiers": np.repeat(arrays["puzzle_identifiers"], tta)}, transforms


def mapped_back(solved: list[SolvedRow], transforms: list[list], kind: PuzzleType | None) -> list[list[SolvedRow]]:
    """The solved copies (row-major, as `augmented_arrays` laid them out) regrouped by transform, each answer mapped
    back to its original puzzle."""
    tta = len(transforms[0]) if transforms else 1
    copies = []
    for copy in range(tta):
        rows = []
        for row, row_transforms in enumerate(transforms):
            solved_copy = solved[row * tta + copy]
            predictions = solved_copy.predictions
            if row_transforms[copy] is not None:
                predictions = torch.as_tensor(unaugmented(kind, predictions.numpy(), row_transforms[copy]))
            rows.append(SolvedRow(row, predictions, solved_copy.steps, solved_copy.q_halt_logit))
        copies.append(rows)
    return copies


def select_rows(
    copies: list[list[SolvedRow]], arrays: dict[str, np.ndarray], kind: PuzzleType | None, select: str
) -> list[SolvedRow]:
    """One answer per row: the selected one of its copies, with the segments of all copies (the compute it cost) and
    the mean `q_halt` logit of the copies that gave it. One copy is returned as it is."""
    check_selection(select)
    if select == "rules" and kind is None:
        raise ValueError("select='rules' needs the puzzle type, whose rules it checks; the dataset names none.")
    if len(copies) == 1:
        return copies[0]
    selected = []
    for row, candidates in enumerate(zip(*copies, strict=True)):
        answers = [candidate.predictions.numpy() for candidate in candidates]
        confidences = [candidate.halt_confidence for candidate in candidates]
        best, ranked = select_answer(kind, arrays["input_ids"][row], answers, confidences, select)
        voters = ranked.members[0]
        selected.append(
            SolvedRow(
                row,
                candidates[best].predictions,
                sum(candidate.steps for candidate in candidates),
                float(np.mean([candidates[i].q_halt_logit for i in voters])),
            )
        )
    return selected
