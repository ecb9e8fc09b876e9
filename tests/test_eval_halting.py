"""Adaptive and fixed halting: the model's `solve` and the queue scheduler of `evaluation.halting`."""

from collections.abc import Iterator

import pytest
import torch

from hrm_hf.evaluation.halting import roll_out_segments, solve_stream
from tests.helpers import tiny_model


def rows_of(batches: list[dict[str, torch.Tensor]]) -> Iterator[dict[str, torch.Tensor]]:
    """The single rows of `batches`, in order: the stream `solve_stream` takes."""
    for batch in batches:
        for i in range(len(batch["input_ids"])):
            yield {key: value[i] for key, value in batch.items()}


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def batch():
    generator = torch.Generator().manual_seed(1)
    return {
        "input_ids": torch.randint(1, 6, (24, 16), generator=generator),
        "puzzle_identifiers": torch.randint(0, 3, (24,), generator=generator),
    }


def test_adaptive_rows_that_run_to_the_maximum_match_fixed(model, batch):
    fixed = model.solve(batch["input_ids"], batch["puzzle_identifiers"], halting="fixed")
    adaptive = model.solve(batch["input_ids"], batch["puzzle_identifiers"], halting="adaptive")
    assert fixed.steps.tolist() == [4] * 24
    full = adaptive.steps == 4
    assert 0 < full.sum() < 24, "the test model must halt some rows early and not others"
    torch.testing.assert_close(adaptive.predictions[full], fixed.predictions[full], rtol=0, atol=0)
    torch.testing.assert_close(adaptive.halt_confidence[full], fixed.halt_confidence[full])


def test_adaptive_halting_follows_the_q_head(model, batch):
    """A row halted early exactly when, at that segment, q_halt > q_continue (replayed with the ACT forward)."""
    adaptive = model.solve(batch["input_ids"], batch["puzzle_identifiers"], halting="adaptive")
    carry, first_halt = None, torch.zeros(24, dtype=torch.long)
    for step in range(1, 5):
        out = model(batch["input_ids"], batch["puzzle_identifiers"], carry=carry)
        carry = out.carry
        wants = (out.q_halt_logits > out.q_continue_logits) | (step == 4)
        first_halt = torch.where((first_halt == 0) & wants, step, first_halt)
    assert adaptive.steps.tolist() == first_halt.tolist()


@pytest.mark.parametrize("halting", ["fixed", "adaptive"])
def test_scheduler_matches_solve_with_any_slot_count(model, batch, halting):
    expected = model.solve(batch["input_ids"], batch["puzzle_identifiers"], halting=halting)
    batches = [{k: v[:10] for k, v in batch.items()}, {k: v[10:] for k, v in batch.items()}]
    for slots in (1, 5, 64):
        rows = sorted(solve_stream(model, rows_of(batches), slots, halting), key=lambda row: row.index)
        assert [row.index for row in rows] == list(range(24))
        assert [row.steps for row in rows] == expected.steps.tolist()
        assert torch.equal(torch.stack([row.predictions for row in rows]), expected.predictions)
        torch.testing.assert_close(torch.tensor([row.halt_confidence for row in rows]), expected.halt_confidence)


def test_finished_rows_leave_and_queued_rows_take_their_slots(model, batch, monkeypatch):
    """Never more than `batch_size` rows in flight, and the segment work equals the sum of rows' segments."""
    sizes, run_segment = [], model.run_segment

    def counting(z_H, z_L, data):
        sizes.append(data["input_ids"].shape[0])
        return run_segment(z_H, z_L, data)

    monkeypatch.setattr(model, "run_segment", counting)
    rows = list(solve_stream(model, rows_of([batch]), 5, "adaptive"))
    assert max(sizes) == 5
    assert sum(sizes) == sum(row.steps for row in rows) < 4 * 24
    assert sorted(row.index for row in rows) == list(range(24))


def test_max_steps_caps_segments(model, batch):
    out = model.solve(batch["input_ids"], batch["puzzle_identifiers"], halting="fixed", max_steps=2)
    assert out.steps.tolist() == [2] * 24


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"halting": "sometimes"}, "`halting` must be 'fixed' or 'adaptive', got 'sometimes'"),
        ({"max_steps": 0}, "`max_steps` must be at least 1, got 0"),
    ],
)
def test_bad_solve_arguments_are_named(model, batch, kwargs, message):
    with pytest.raises(ValueError, match=message):
        model.solve(batch["input_ids"], **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "batch_size must be at least 1, got 0"),
        ({"max_steps": 0}, "max_steps must be at least 1, got 0"),
    ],
)
def test_scheduler_rejects_bad_arguments(model, batch, kwargs, message):
    with pytest.raises(ValueError, match=message):
        list(solve_stream(model, rows_of([batch]), **{"batch_size": 5, **kwargs}))


def test_a_diverged_model_predicts_no_token(batch):
    """argmax would take a NaN for the largest logit (any token); both solvers predict -1 there instead."""
    model = tiny_model()
    with torch.no_grad():
        model.lm_head.weight[:, :3].fill_(float("nan"))
    solved = model.solve(batch["input_ids"], batch["puzzle_identifiers"], halting="fixed")
    assert (solved.predictions == -1).all()
    rows = rows_of([batch])
    streamed = list(solve_stream(model, rows, batch_size=8, halting="fixed"))
    assert all((row.predictions == -1).all() for row in streamed) and len(streamed) == 24


def test_roll_out_segments_holds_solves_answers_at_the_halting_segment(model, batch):
    """Every segment's prediction is kept: the one at `halt_steps` is adaptive `solve`'s, the last is fixed's."""
    rollout = roll_out_segments(model, batch["input_ids"], batch["puzzle_identifiers"])
    adaptive = model.solve(batch["input_ids"], batch["puzzle_identifiers"], halting="adaptive")
    fixed = model.solve(batch["input_ids"], batch["puzzle_identifiers"], halting="fixed")
    assert rollout.predictions.shape == (4, 24, 16) and rollout.q_halt_logits.shape == (4, 24)
    assert rollout.halt_steps.tolist() == adaptive.steps.tolist()
    at_halt = rollout.predictions[rollout.halt_steps.long() - 1, torch.arange(24)]
    assert torch.equal(at_halt, adaptive.predictions)
    assert torch.equal(rollout.predictions[-1], fixed.predictions)
    assert not all(torch.equal(rollout.predictions[0], step) for step in rollout.predictions[1:])
