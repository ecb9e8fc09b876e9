"""The `hrm_puzzle` evaluate module against hand-counted values."""

from pathlib import Path

import evaluate
import pytest


METRIC = str(Path(__file__).resolve().parent.parent / "metrics" / "hrm_puzzle")


def test_hrm_puzzle_metric_counts_like_the_release_loss_head():
    metric = evaluate.load(METRIC)
    metric.add_batch(predictions=[[1, 2, 3], [1, 2, 2]], references=[[1, 2, -100], [1, 2, 3]])
    metric.add_batch(predictions=[[0, 0, 0]], references=[[-100, -100, -100]])  # no labels: not counted
    results = metric.compute(q_halt_logits=[1.0, 2.0, -1.0], steps=[2, 4, 16])
    assert results["count"] == 2
    assert results["exact_accuracy"] == pytest.approx(0.5)
    assert results["accuracy"] == pytest.approx((1 + 2 / 3) / 2)
    assert results["q_halt_accuracy"] == pytest.approx(0.5)  # row 2 is wrong but q_halt says solved
    assert results["steps"] == pytest.approx(3.0)


def test_hrm_puzzle_metric_without_optional_inputs():
    results = evaluate.load(METRIC).compute(predictions=[[4, 5]], references=[[4, 5]])
    assert results == {"count": 1, "exact_accuracy": 1.0, "accuracy": 1.0}
