"""The training step's hot path: a segment with a puzzle table compiles as one graph, and a training step reads
nothing back to the host (each read would stall a GPU step)."""

import pytest
import torch

from hrm_hf.training.loop import Trainer
from tests.helpers import random_batch, seeded_model, tiny_config, tiny_run_config


HOST_READS = {torch.Tensor: ("item", "tolist", "__bool__", "__int__", "__float__", "unique"), torch: ("unique",)}


@pytest.fixture
def host_reads(monkeypatch) -> list[str]:
    """Every host read made while the fixture is active, by name; reading one also raises, so the traceback shows
    where it was made."""
    reads: list[str] = []
    for owner, names in HOST_READS.items():
        for name in names:

            def refuse(*args, name=name, **kwargs):
                reads.append(name)
                raise AssertionError(f"host read: {name}")

            monkeypatch.setattr(owner, name, refuse)
    return reads


def test_a_training_segment_with_a_puzzle_table_compiles_as_one_graph():
    config = tiny_config()
    batch = random_batch(config)
    eager = seeded_model(config).train()
    torch.manual_seed(1)  # the same halting-exploration draws in both
    reference = eager(**batch)
    reference.loss.backward()
    model = seeded_model(config).train()
    model.size_puzzle_rows(batch["puzzle_identifiers"])  # the one tensor a compiled forward cannot create
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    torch.manual_seed(1)
    out = compiled(**batch)
    out.loss.backward()
    torch.testing.assert_close(out.loss, reference.loss, rtol=1e-6, atol=1e-6)
    for (name, param), (_, wanted) in zip(model.named_parameters(), eager.named_parameters(), strict=True):
        torch.testing.assert_close(param.grad, wanted.grad, rtol=1e-5, atol=1e-6, msg=name)
    (ids, grads), (wanted_ids, wanted_grads) = model.pop_puzzle_emb_grad(), eager.pop_puzzle_emb_grad()
    assert torch.equal(ids, wanted_ids) and torch.equal(ids, batch["puzzle_identifiers"])
    torch.testing.assert_close(grads, wanted_grads, rtol=1e-5, atol=1e-6)
    explanation = torch._dynamo.explain(model)(**batch)
    assert explanation.graph_count == 1 and explanation.graph_break_count == 0


def test_a_training_step_reads_nothing_back_to_the_host(tiny_data, tmp_path, request):
    trainer = Trainer(tiny_run_config(tiny_data, tmp_path, max_steps=4, ema=True))
    assert trainer.sparse is not None and trainer.ema is not None  # every update of the step is exercised
    batches = iter(trainer.sampler)
    first, second = next(batches), next(batches)
    reads = request.getfixturevalue("host_reads")
    trainer.train_step(first)  # every row starts fresh
    sums = trainer.train_step(second)  # with the first step's carry
    assert reads == []
    assert {"count", "loss", "lm_loss"} <= set(sums)
