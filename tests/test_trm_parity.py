"""Parity with the TRM authors' code (tests/fixtures/trm, see its README): every forward case through the converter,
`save_pretrained` and `AutoModel`, call by call: eval, training and exploration roll-outs, one segment's loss, metrics
and gradients, and one SignSGD step of the puzzle table; and the three 30-step training cases replayed on the model
with the project's optimizers and EMA, apart from the training loop.

Float32 is held to 1e-5 absolute (the README's bound for code that follows the authors' operation order; it is exact
here). bfloat16 is held to the same bound on the kind of CPU that recorded it (its bf16 kernels are the recording's);
on any other CPU, to the README's bfloat16 bounds on the logits and Q logits, with every halting decision equal.
"""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel

from hrm_hf.scripts.convert_official_checkpoint import convert_checkpoint, convert_state_dict
from hrm_hf.training.optim import SparseSignSGD


FIXTURES = Path(__file__).parent / "fixtures" / "trm"
FORWARD_CASES = ["trm_act_continue", "trm_att_rope", "trm_bf16_learned", "trm_mlp_t", "trm_no_puzzle"]
FP32_ABS = 1e-5
BF16_MEAN, BF16_MAX, BF16_ARGMAX = 0.05, 0.3, 0.95


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[1].split()}


class TrmCase:
    """One forward case: its meta, expected tensors, batches, and whether its numbers must match to 1e-5 here."""

    def __init__(self, name: str):
        self.dir = FIXTURES / name
        self.meta = json.loads((self.dir / "meta.json").read_text())
        self.expected = load_file(self.dir / "expected.safetensors")
        bf16 = self.meta["model_config"]["forward_dtype"] == "bfloat16"
        self.exact = not bf16 or set(self.meta["recorded_on"]["cpu_flags"]) <= cpu_flags()

    def batch(self, name: str, with_labels: bool = True) -> dict[str, torch.Tensor]:
        batch = {"input_ids": self[f"{name}.inputs"], "puzzle_identifiers": self[f"{name}.puzzle_identifiers"]}
        if with_labels:
            batch["labels"] = self[f"{name}.labels"].long()
        return batch

    def __getitem__(self, key: str) -> torch.Tensor:
        return self.expected[key]

    def check_float(self, actual: torch.Tensor | float, key: str) -> None:
        """`actual` against `key`: within 1e-5 where exact; elsewhere logits and Q logits within the bf16 bounds."""
        expected = self[key].double()
        actual = torch.as_tensor(actual).detach().double()
        diff = (actual - expected).abs()
        if self.exact:
            assert diff.max().item() <= FP32_ABS, f"{key}: {diff.max().item()}"
        elif key.endswith(".logits"):
            agreement = (actual.argmax(-1) == expected.argmax(-1)).double().mean().item()
            stats = (diff.mean().item(), diff.max().item(), agreement)
            assert stats[0] <= BF16_MEAN and stats[1] <= BF16_MAX and stats[2] >= BF16_ARGMAX, f"{key}: {stats}"
        elif key.endswith(("q_halt_logits", "q_continue_logits")):
            assert diff.max().item() <= BF16_MAX, f"{key}: {diff.max().item()}"

    def check_equal(self, actual: torch.Tensor, key: str) -> None:
        assert torch.equal(actual.long(), self[key].long()), f"{key}: {actual.tolist()} != {self[key].tolist()}"


@pytest.fixture(scope="module", params=FORWARD_CASES)
def case(request, tmp_path_factory):
    fixture = TrmCase(request.param)
    folder = tmp_path_factory.mktemp(request.param)
    convert_checkpoint(fixture.dir / "official_checkpoint").save_pretrained(folder)
    model = AutoModel.from_pretrained(folder, trust_remote_code=True, attn_implementation="sdpa")
    return fixture, model


def test_the_folder_loads_as_trm(case):
    fixture, model = case
    assert type(model).__name__ == "TrmModel" and model.config.model_type == "trm"
    config = fixture.meta["model_config"]
    for name in ("H_cycles", "L_cycles", "L_layers", "mlp_t", "no_ACT_continue", "pos_encodings", "forward_dtype"):
        assert getattr(model.config, name) == config[name], name
    assert not any(name.startswith("H_module") for name, _ in model.named_parameters())  # H_layers is ignored


def test_eval_rollout(case):
    """Eval mode never halts on Q: every row runs `halt_max_steps` segments; states, logits, loss and metrics."""
    fixture, model = case
    model.eval()
    carry = None
    batch_size = fixture["batch1.inputs"].shape[0]
    with torch.no_grad():
        for step in range(fixture.meta["eval_steps"]):
            out = model(**fixture.batch("batch1"), carry=carry)
            carry = out.carry
            for name in ("logits", "q_halt_logits", "q_continue_logits"):
                fixture.check_float(getattr(out, name), f"eval.{step}.{name}")
            fixture.check_float(carry.z_H, f"eval.{step}.z_H")
            fixture.check_float(carry.z_L, f"eval.{step}.z_L")
            fixture.check_equal(carry.halted, f"eval.{step}.halted")
            fixture.check_equal(carry.steps, f"eval.{step}.steps")
            if fixture.exact:
                fixture.check_equal(out.logits.argmax(-1), f"eval.{step}.preds")
                fixture.check_float(out.loss * batch_size, f"eval.{step}.loss")
                expected_metrics = {
                    k.split(".")[-1] for k in fixture.expected if k.startswith(f"eval.{step}.metrics.")
                }
                assert set(out.metrics) == expected_metrics
                for name, value in out.metrics.items():
                    fixture.check_float(value, f"eval.{step}.metrics.{name}")
    assert carry.halted.all()


def roll_out(fixture: TrmCase, model, prefix: str, explore_prob: float = 0.0) -> None:
    """Training mode without gradients: batch1 for the first calls, then batch2; halted rows take new data. With
    exploration, the global generator is seeded before each call as the recording did."""
    model.train()
    model.config.halt_exploration_prob = explore_prob
    carry = None
    try:
        with torch.no_grad():
            for step in range(fixture.meta["train_steps"]):
                if explore_prob:
                    torch.manual_seed(fixture.meta["explore_rng_base"] + step)
                name = "batch1" if step < fixture.meta["batch2_from_step"] else "batch2"
                out = model(**fixture.batch(name), carry=carry)
                carry = out.carry
                keys = {k.split(".", 2)[2] for k in fixture.expected if k.startswith(f"{prefix}.{step}.")}
                assert ("target_q_continue" in keys) == (out.target_q_continue is not None)
                for key in keys & {"logits", "q_halt_logits", "q_continue_logits", "target_q_continue"}:
                    fixture.check_float(getattr(out, key), f"{prefix}.{step}.{key}")
                fixture.check_equal(carry.halted, f"{prefix}.{step}.halted")
                fixture.check_equal(carry.steps, f"{prefix}.{step}.steps")
                if "current_inputs" in keys:
                    fixture.check_equal(carry.current_data["input_ids"], f"{prefix}.{step}.current_inputs")
    finally:
        model.config.halt_exploration_prob = 0.0


def test_train_rollout(case):
    fixture, model = case
    roll_out(fixture, model, "train")


def test_exploration_rollout(case):
    """The exploration draws (a uniform, then a random minimum step count, per row) follow the authors' order."""
    fixture, model = case
    roll_out(fixture, model, "explore", explore_prob=fixture.meta["explore_prob"])


def test_loss_metrics_and_gradients(case):
    """Call 0 on batch1, call 1 on batch2 with call 0's carry: call 1's summed loss, metrics, outputs, carry, and the
    gradient of every parameter and of the batch's puzzle-table rows."""
    fixture, model = case
    model.train()
    model.zero_grad(set_to_none=True)
    batch_size = fixture["batch1.inputs"].shape[0]
    first = model(**fixture.batch("batch1"))
    fixture.check_equal(first.carry.halted, "loss.halted0")
    model.zero_grad(set_to_none=True)
    model.pop_puzzle_emb_grad()
    second = model(**fixture.batch("batch2"), carry=first.carry)
    total = second.loss * batch_size
    total.backward()
    fixture.check_equal(second.carry.halted, "loss.halted")
    fixture.check_equal(second.carry.steps, "loss.steps")
    fixture.check_equal(second.carry.current_data["input_ids"], "loss.current_inputs")
    fixture.check_equal(second.carry.current_data["labels"], "loss.current_labels")
    for name in ("logits", "q_halt_logits", "q_continue_logits", "target_q_continue"):
        if f"loss.{name}" in fixture.expected:
            fixture.check_float(getattr(second, name), f"loss.{name}")
    if not fixture.exact:
        return  # the README bounds bfloat16 logits only off the recording's CPU
    fixture.check_float(first.loss * batch_size, "loss.step0")
    fixture.check_float(total, "loss.total")
    for prefix, out in (("loss.step0_metrics.", first), ("loss.metrics.", second)):
        assert set(out.metrics) == {k.removeprefix(prefix) for k in fixture.expected if k.startswith(prefix)}
        for name, value in out.metrics.items():
            fixture.check_float(value, prefix + name)
    parameters = dict(model.named_parameters())
    expected_grads = {k.removeprefix("grad."): v for k, v in fixture.expected.items() if k.startswith("grad.")}
    puzzle_grad = expected_grads.pop("inner.puzzle_emb.local_weights", None)
    ours = convert_state_dict(expected_grads)
    assert set(ours) == set(parameters)
    for name, expected in ours.items():
        assert parameters[name].grad is not None, name
        diff = (parameters[name].grad.double() - expected.double()).abs().max().item()
        assert diff <= FP32_ABS, f"grad {name}: {diff}"
    popped = model.pop_puzzle_emb_grad()
    assert (popped is None) == (puzzle_grad is None)
    if popped is not None:
        ids, rows_grad = popped
        fixture.check_equal(ids, "loss.local_ids")
        assert (rows_grad.double() - puzzle_grad.double()).abs().max().item() <= FP32_ABS


@pytest.mark.parametrize("name", [name for name in FORWARD_CASES if TrmCase(name).meta["signsgd"]])
def test_sparse_signsgd_step(name):
    """One step of the project's SparseSignSGD equals the authors' `_sparse_emb_signsgd_dist` (first and last id
    equal, so a row's gradients are summed before the sign)."""
    fixture = TrmCase(name)
    hyper = fixture.meta["signsgd"]
    table = fixture["signsgd.weights_before"].clone()
    SparseSignSGD(table, lr=hyper["lr"], weight_decay=hyper["weight_decay"]).step(
        fixture["signsgd.ids"], fixture["signsgd.grad"]
    )
    torch.testing.assert_close(table, fixture["signsgd.weights_after"], rtol=0, atol=1e-6)


def test_gradients_reach_every_parameter_through_the_last_recursion(case):
    """TRM's gradient window: a segment's loss reaches every parameter, and no buffer asks for gradients."""
    fixture, model = case
    model.train()
    model.zero_grad(set_to_none=True)
    model(**fixture.batch("batch1")).loss.backward()
    assert [name for name, p in model.named_parameters() if p.grad is None] == []
    assert all(not t.requires_grad for t in model.buffers())
    model.pop_puzzle_emb_grad()


@pytest.mark.parametrize("name", ["trm_e2e_fp32", "trm_mlp_fp32", "trm_sudoku_fp32"])
def test_training_trajectory_with_the_projects_optimizers(name):
    """The authors' 30 `train_batch` steps replayed on the model alone: their recorded batches, learning rates and
    seeds, the project's AdamAtan2, SparseSignSGD and EMA. Losses, carries, final weights and the EMA weights."""
    from hrm_hf.training.ema import EMA
    from hrm_hf.training.optim import AdamAtan2

    folder = FIXTURES / name
    meta = json.loads((folder / "meta.json").read_text())
    run, expected = meta["config"], load_file(folder / "expected.safetensors")
    model = convert_checkpoint(folder).train()
    adam = AdamAtan2(model.parameters(), betas=(run["beta1"], run["beta2"]), weight_decay=run["weight_decay"])
    signsgd = SparseSignSGD(model.puzzle_emb.weight, weight_decay=run["puzzle_emb_weight_decay"])
    ema = EMA(model, rate=run["ema_rate"])
    carry = None
    for step in range(1, 31):
        if meta["rng_base"] is not None:  # the whole-run case seeds nothing per step, as the authors' launch()
            torch.manual_seed(meta["rng_base"] + step)
        batch = {key: expected[f"batch.{step}.{field}"] for key, field in
                 (("input_ids", "inputs"), ("puzzle_identifiers", "puzzle_identifiers"), ("labels", "labels"))}  # fmt: skip
        out = model(**batch, carry=carry)
        carry = out.carry
        out.loss.backward()  # the mean over the global batch of 16 rows, as the authors' loss / 16
        assert abs(out.loss.item() - expected[f"loss.{step}"].item() / 16) <= FP32_ABS, step
        signsgd.param_groups[0]["lr"] = expected[f"puzzle_emb_lr.{step}"].item()
        signsgd.step(*model.pop_puzzle_emb_grad())
        adam.param_groups[0]["lr"] = expected[f"lr.{step}"].item()
        adam.step()
        model.zero_grad(set_to_none=True)
        ema.update()
        assert torch.equal(carry.halted, expected[f"carry.{step}.halted"]), step
        assert torch.equal(carry.steps.long(), expected[f"carry.{step}.steps"].long()), step
    final = convert_state_dict(
        {k.removeprefix("final."): v for k, v in expected.items() if k.startswith("final.model.")}
    )
    averaged = convert_state_dict({k.removeprefix("ema."): v for k, v in expected.items() if k.startswith("ema.")})
    state = model.state_dict()
    assert set(final) == set(state) and set(averaged) == set(ema.shadow)
    for key, tensor in final.items():
        assert (state[key].double() - tensor.double()).abs().max().item() <= FP32_ABS, key
    for key, tensor in averaged.items():
        assert (ema.shadow[key].double() - tensor.double()).abs().max().item() <= FP32_ABS, key
