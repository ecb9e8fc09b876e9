"""ARC voting (crop, undo augmentation, rank by votes then confidence), pass@k and the Kaggle submission."""

import json

import evaluate
import numpy as np
import pytest

from hrm_hf.evaluation.arc import candidates_from_rows, submission, vote
from hrm_hf.evaluation.scoring import METRICS_DIR
from hrm_hf.tokenization_hrm import ArcAugmentation, arc_canvas


TRUTH = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8)
WRONG = np.array([[7, 7], [7, 7]], dtype=np.uint8)
IDENTITY = ArcAugmentation()
ROTATED = ArcAugmentation(1, (0, 2, 3, 4, 5, 6, 7, 8, 9, 1))
FLIPPED = ArcAugmentation(4, (0, 9, 8, 7, 6, 5, 4, 3, 2, 1))
NAMES = ["<blank>", "task", ROTATED.name("task"), FLIPPED.name("task"), "other"]


def tokens(grid: np.ndarray, augmentation: ArcAugmentation = IDENTITY) -> np.ndarray:
    """How the model would write `grid` of the original puzzle in the augmented puzzle."""
    return arc_canvas(augmentation.apply(grid))


@pytest.fixture
def ranked():
    """Three augmentations of `task` (two vote TRUTH, one WRONG) plus a padding row, and a tie in `other`."""
    rows = [
        (1, tokens(TRUTH), 0.2),
        (2, tokens(TRUTH, ROTATED), 0.4),
        (3, tokens(WRONG, FLIPPED), 0.99),
        (0, tokens(WRONG), 1.0),  # padding: blank identifier
        (0, tokens(WRONG), 1.0),
        (4, tokens(WRONG), 0.3),  # other, test input 0: a tie broken by confidence
        (4, tokens(TRUTH), 0.6),  # other, test input 1
    ]
    identifiers, predictions, confidences = zip(*rows, strict=True)
    return vote(candidates_from_rows(identifiers, predictions, confidences, NAMES, blank_id=0))


def test_votes_across_augmentations_after_undoing_them(ranked):
    task = ranked["task", 0]
    assert [g.tolist() for g in task.grids] == [TRUTH.tolist(), WRONG.tolist()]
    assert task.votes == [2, 1]
    assert task.confidences == pytest.approx([0.3, 0.99])


def test_padding_rows_are_ignored(ranked):
    assert sorted(ranked) == [("other", 0), ("other", 1), ("task", 0)]
    assert sum(ranked["task", 0].votes) == 3


@pytest.mark.parametrize(("confidences", "winner"), [((0.4, 0.5), TRUTH), ((0.5, 0.4), WRONG)])
def test_ties_are_broken_by_mean_confidence(confidences, winner):
    predictions = [tokens(WRONG), tokens(TRUTH, ROTATED)]
    ranked = vote(candidates_from_rows([1, 2], predictions, list(confidences), NAMES, blank_id=0))
    assert ranked["task", 0].votes == [1, 1]
    assert ranked["task", 0].grids[0].tolist() == winner.tolist()


def test_crop_stops_at_eos_and_pad():
    canvas = tokens(TRUTH).reshape(30, 30).copy()
    canvas[5, 5] = 4  # a stray colour far from the grid is not part of it
    (candidate,) = candidates_from_rows([1], [canvas.reshape(-1)], [0.5], NAMES, blank_id=0)
    assert candidate.grid.tolist() == TRUTH.tolist()


def test_submission_has_two_attempts_per_test_input(ranked):
    kaggle = submission(ranked)
    assert list(kaggle) == ["other", "task"]
    assert kaggle["task"] == [{"attempt_1": TRUTH.tolist(), "attempt_2": WRONG.tolist()}]
    assert kaggle["other"][1] == {"attempt_1": TRUTH.tolist(), "attempt_2": TRUTH.tolist()}
    json.dumps(kaggle)


def test_pass_at_k_by_hand():
    metric = evaluate.load(str(METRICS_DIR / "arc_pass_at_k"))
    scores = metric.compute(
        predictions=[["a", "b", "c"], ["x"], ["b", "y"], []],
        references=["b", "x", "z", "q"],
        puzzle_ids=["p1", "p1", "p2", "p3"],
        ks=[1, 2, 5],
    )
    # p1: test inputs solved at rank 2 and 1 -> pass@1 = 1/2, pass@2 = 1; p2 and p3 never solved.
    assert scores == {
        "pass@1": pytest.approx(0.5 / 3),
        "pass@2": pytest.approx(1 / 3),
        "pass@5": pytest.approx(1 / 3),
        "puzzles": 3,
        "test_inputs": 4,
    }


def test_pass_at_k_rejects_bad_k():
    metric = evaluate.load(str(METRICS_DIR / "arc_pass_at_k"))
    with pytest.raises(ValueError, match=r"ks must be positive, got \[0\]"):
        metric.compute(predictions=[["a"]], references=["a"], puzzle_ids=["p"], ks=[0])
