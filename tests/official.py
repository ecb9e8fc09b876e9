"""Replays of the authors' golden fixtures (tests/fixtures/official, see its README) on this project's model.

Each replay returns {check name: largest difference} so the tests can assert tolerances and a person can print them.
"""

import json
from pathlib import Path

import torch
from safetensors.torch import load_file


FIXTURES = Path(__file__).parent / "fixtures" / "official"
CASES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())
# Release parameter names -> ours, for the gradient keys.
RELEASE_TO_OURS = [
    ("inner.embed_tokens.embedding_weight", "embed_tokens.weight"),
    ("inner.embed_pos.embedding_weight", "embed_positions.weight"),
    ("inner.H_level.", "H_module."),
    ("inner.L_level.", "L_module."),
    ("inner.", ""),
]


class Fixture:
    """One case: its config (`meta.json`), expected tensors, and the two batches as model keyword arguments."""

    def __init__(self, case: str):
        self.case = case
        self.dir = FIXTURES / case
        self.meta = json.loads((self.dir / "meta.json").read_text())
        self.expected = load_file(self.dir / "expected.safetensors")
        self.is_bf16 = self.meta["config"]["forward_dtype"] == "bfloat16"

    def batch(self, name: str, with_labels: bool = True) -> dict[str, torch.Tensor]:
        batch = {
            "input_ids": self.expected[f"{name}.inputs"],
            "puzzle_identifiers": self.expected[f"{name}.puzzle_identifiers"],
        }
        if with_labels:
            batch["labels"] = self.expected[f"{name}.labels"].long()
        return batch

    def __getitem__(self, key: str) -> torch.Tensor:
        return self.expected[key]


def our_parameter_name(release_name: str) -> str:
    for old, new in RELEASE_TO_OURS:
        release_name = release_name.replace(old, new, 1) if release_name.startswith(old) else release_name
    return release_name


def max_abs(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return (actual.double() - expected.double()).abs().max().item()


def logit_stats(actual: torch.Tensor, expected: torch.Tensor) -> dict[str, float]:
    diff = (actual.double() - expected.double()).abs()
    agreement = (actual.argmax(-1) == expected.argmax(-1)).double().mean().item()
    return {"max": diff.max().item(), "mean": diff.mean().item(), "argmax_agreement": agreement}


def replay_eval(model, fixture: Fixture) -> list[dict]:
    """Eval mode, batch1 every call for `halt_max_steps` calls: per call logits/Q stats and exact halting."""
    model.eval()
    carry, calls = None, []
    with torch.no_grad():
        for step in range(fixture.meta["config"]["halt_max_steps"]):
            out = model(**fixture.batch("batch1", with_labels=False), carry=carry)
            carry = out.carry
            calls.append(
                {
                    "logits": logit_stats(out.logits, fixture[f"eval.{step}.logits"]),
                    "q_halt": max_abs(out.q_halt_logits, fixture[f"eval.{step}.q_halt_logits"]),
                    "q_continue": max_abs(out.q_continue_logits, fixture[f"eval.{step}.q_continue_logits"]),
                    "halted_equal": torch.equal(carry.halted, fixture[f"eval.{step}.halted"]),
                    "steps_equal": torch.equal(carry.steps.long(), fixture[f"eval.{step}.steps"].long()),
                }
            )
    return calls


def replay_train(model, fixture: Fixture) -> list[dict]:
    """Training mode: batch1 for the first calls, batch2 from `batch2_from_step` on; halted rows take new data."""
    model.train()
    carry, calls = None, []
    with torch.no_grad():
        for step in range(fixture.meta["train_steps"]):
            name = "batch1" if step < fixture.meta["batch2_from_step"] else "batch2"
            out = model(**fixture.batch(name), carry=carry)
            carry = out.carry
            calls.append(
                {
                    "logits": logit_stats(out.logits, fixture[f"train.{step}.logits"]),
                    "q_halt": max_abs(out.q_halt_logits, fixture[f"train.{step}.q_halt_logits"]),
                    "q_continue": max_abs(out.q_continue_logits, fixture[f"train.{step}.q_continue_logits"]),
                    "target_q_continue": max_abs(out.target_q_continue, fixture[f"train.{step}.target_q_continue"]),
                    "halted_equal": torch.equal(carry.halted, fixture[f"train.{step}.halted"]),
                    "steps_equal": torch.equal(carry.steps.long(), fixture[f"train.{step}.steps"].long()),
                    "inputs_equal": torch.equal(
                        carry.current_data["input_ids"].long(), fixture[f"train.{step}.current_inputs"].long()
                    ),
                }
            )
    return calls


def replay_loss(model, fixture: Fixture, loss_type: str = "stablemax_cross_entropy") -> dict:
    """Call 0 on batch1, call 1 on batch2 with call 0's carry; the summed loss, metrics and gradients of call 1."""
    model.config.loss_type = loss_type
    model.train()
    model.zero_grad(set_to_none=True)
    first = model(**fixture.batch("batch1"))
    model.zero_grad(set_to_none=True)
    model.pop_puzzle_emb_grad()
    second = model(**fixture.batch("batch2"), carry=first.carry)
    batch_size = fixture["batch2.inputs"].shape[0]
    total = second.loss * batch_size
    total.backward()
    report = {"step0": abs(first.loss.item() * batch_size - fixture["loss.step0"].item()), "total": total.item()}
    if loss_type != "stablemax_cross_entropy":
        return report
    report["total"] = abs(total.item() - fixture["loss.total"].item())
    report["metrics"] = {
        name: abs(float(value) - fixture[f"loss.metrics.{name}"].item()) for name, value in second.metrics.items()
    }
    report["metric_names_equal"] = set(second.metrics) == {
        key.removeprefix("loss.metrics.") for key in fixture.expected if key.startswith("loss.metrics.")
    }
    parameters = dict(model.named_parameters())
    grads = {}
    for key, expected in fixture.expected.items():
        if not key.startswith("grad.") or key == "grad.inner.puzzle_emb.local_weights":
            continue
        grads[key] = relative_error(parameters[our_parameter_name(key.removeprefix("grad."))].grad, expected)
    report["grads"] = grads
    report["grads_checked"] = len(grads)
    if "grad.inner.puzzle_emb.local_weights" in fixture.expected:
        ids, rows_grad = model.pop_puzzle_emb_grad()
        report["puzzle_ids_equal"] = torch.equal(ids.long(), fixture["loss.local_ids"].long())
        report["grads"]["puzzle_emb"] = relative_error(rows_grad, fixture["grad.inner.puzzle_emb.local_weights"])
    return report


def relative_error(actual: torch.Tensor | None, expected: torch.Tensor) -> float:
    """Largest absolute error relative to the largest expected magnitude (inf when the gradient is missing)."""
    if actual is None:
        return float("inf")
    return max_abs(actual, expected) / max(expected.abs().max().item(), 1e-12)
