"""Adam-atan2 against its formula, SparseSignSGD against the release's fixture, and the schedule's shape."""

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from hrm_hf.training.optim import AdamAtan2, SparseSignSGD, make_schedule


FIXTURES = Path(__file__).parent / "fixtures" / "official"


def adam_atan2_reference(p, grads, lr, betas, wd):
    """Adam-atan2 written out step by step in float64: decoupled weight decay, then `atan2` of the bias-corrected
    moments (no eps, no scale factor)."""
    p, m, v = p.double().clone(), torch.zeros_like(p, dtype=torch.float64), torch.zeros_like(p, dtype=torch.float64)
    b1, b2 = betas
    for t, g in enumerate(grads, start=1):
        g = g.double()
        p = p * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * torch.atan2(m / (1 - b1**t), v.sqrt() / math.sqrt(1 - b2**t))
    return p


def test_adam_atan2_matches_formula():
    torch.manual_seed(0)
    start = torch.randn(5, 7)
    grads = [torch.randn(5, 7) * 10 ** (i - 2) for i in range(5)]
    param = torch.nn.Parameter(start.clone())
    optimizer = AdamAtan2([param], lr=0.01, betas=(0.9, 0.95), weight_decay=0.5)
    for g in grads:
        param.grad = g.clone()
        optimizer.step()
    expected = adam_atan2_reference(start, grads, 0.01, (0.9, 0.95), 0.5)
    torch.testing.assert_close(param.detach().double(), expected, rtol=0, atol=1e-6)
    # No 1.27 scale and no epsilon: one step moves each weight by lr * atan2(g, |g|) = +-lr * pi/4 (no decay).
    param = torch.nn.Parameter(torch.zeros(3))
    param.grad = torch.tensor([1e-12, -3.0, 5.0])
    AdamAtan2([param], lr=0.1, weight_decay=0.0).step()
    torch.testing.assert_close(param.detach(), torch.tensor([-1, 1, -1]) * 0.1 * math.pi / 4)


def test_adam_atan2_rejects_bad_values():
    with pytest.raises(ValueError, match="betas"):
        AdamAtan2([torch.nn.Parameter(torch.zeros(1))], betas=(1.0, 0.95))


SIGNSGD_CASES = sorted(
    p.name for p in FIXTURES.iterdir() if "signsgd.grad" in load_file(p / "expected.safetensors") if p.is_dir()
)


def test_signsgd_fixtures_present():
    assert SIGNSGD_CASES


@pytest.mark.parametrize("case", SIGNSGD_CASES)
def test_sparse_signsgd_matches_fixture(case):
    expected = load_file(FIXTURES / case / "expected.safetensors")
    hyper = json.loads((FIXTURES / case / "meta.json").read_text())["signsgd"]
    table = expected["signsgd.weights_before"].clone()
    SparseSignSGD(table, lr=hyper["lr"], weight_decay=hyper["weight_decay"]).step(
        expected["signsgd.ids"], expected["signsgd.grad"]
    )
    torch.testing.assert_close(table, expected["signsgd.weights_after"], rtol=0, atol=1e-6)


def test_sparse_signsgd_sums_duplicates_and_leaves_other_rows():
    table = torch.ones(4, 2)
    # Row 1 appears twice with gradients that cancel on one coordinate.
    SparseSignSGD(table, lr=0.1, weight_decay=1.0).step(
        torch.tensor([1, 1, 3]), torch.tensor([[1.0, 2.0], [-1.0, 1.0], [1.0, -1.0]])
    )
    expected = torch.tensor([[1.0, 1.0], [0.9, 0.8], [1.0, 1.0], [0.8, 1.0]])
    torch.testing.assert_close(table, expected)


def test_schedule_warmup_cosine_floor():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2.0)
    schedule = make_schedule(optimizer, warmup_steps=10, total_steps=110, min_ratio=0.1)
    rates = {}
    for step in range(1, 111):  # the rate optimizer step `step` uses
        rates[step] = optimizer.param_groups[0]["lr"]
        optimizer.step()
        schedule.step()
    assert rates[1] == pytest.approx(0.2)  # warmup: step / warmup * lr, never a wasted zero step
    assert rates[5] == pytest.approx(1.0)
    assert rates[10] == pytest.approx(2.0)
    assert rates[60] == pytest.approx(2.0 * (0.1 + 0.9 * 0.5))  # cosine half way
    assert rates[110] == pytest.approx(0.2)  # the floor, lr * lr_min_ratio
