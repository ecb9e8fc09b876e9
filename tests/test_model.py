"""The model as a transformers citizen: config validation, init, bad input, save/load round trips, attention choice."""

import ast
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open
from transformers import AutoConfig, AutoModel
from transformers.modeling_utils import AttentionInterface

from hrm_hf import modeling_hrm
from hrm_hf.configuration_hrm import HrmActConfig
from hrm_hf.modeling_hrm import FA4_ATTENTION, HrmActModel, jax_trunc_normal_
from tests.helpers import random_batch, seeded_model, tiny_config


# --- configuration -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("hidden_size", 30),
        ("vocab_size", 0),
        ("num_puzzle_identifiers", 0),
        ("expansion", 0),
        ("rope_theta", 0.0),
        ("rms_norm_eps", -1e-5),
        ("pos_encodings", "alibi"),
        ("H_cycles", 0),
        ("L_layers", -1),
        ("num_heads", 0),
        ("seq_len", 0),
        ("halt_max_steps", 0),
        ("forward_dtype", "float8"),
        ("loss_type", "focal"),
        ("puzzle_emb_ndim", -1),
        ("halt_exploration_prob", 1.5),
        ("blank_puzzle_id", 5),
    ],
)
def test_invalid_config_names_field_and_value(field, value):
    with pytest.raises(ValueError, match=field) as error:
        tiny_config(**{field: value})
    assert str(value) in str(error.value)


def test_config_defaults_follow_release():
    config = HrmActConfig()
    assert config.model_type == "hrm_act_v1"
    assert (config.H_cycles, config.L_cycles, config.H_layers, config.L_layers) == (2, 2, 4, 4)
    assert (config.hidden_size, config.num_heads, config.puzzle_emb_ndim) == (512, 8, 512)
    assert (config.halt_max_steps, config.halt_exploration_prob, config.forward_dtype) == (16, 0.1, "bfloat16")
    assert config.intermediate_size == 1536  # round(4 * 512 * 2/3) = 1365, up to a multiple of 256
    assert tiny_config(puzzle_emb_ndim=40).puzzle_emb_len == 2


def test_model_type_is_not_a_builtin():
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    assert HrmActConfig.model_type not in CONFIG_MAPPING_NAMES


# --- initialisation ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("std", [1.0, 0.05])
def test_truncated_normal_has_requested_std_and_bounds(std):
    torch.manual_seed(0)
    tensor = jax_trunc_normal_(torch.empty(2_000_000), std=std)
    assert abs(tensor.std().item() / std - 1) < 0.01
    bound = tensor.abs().max().item()
    # The bounds are 2 *rescaled* stds: 2 * std / 0.8796 (the truncated normal's std on [-2, 2] is 0.8796).
    assert 2.2 * std < bound <= 2 * std / 0.87962566 + 1e-6


def test_initialisation_follows_the_release():
    config = tiny_config(hidden_size=256, num_heads=4, vocab_size=1000)
    model = HrmActModel(config)
    assert torch.all(model.q_head.weight == 0) and torch.all(model.q_head.bias == -5)
    assert torch.all(model.puzzle_emb.weight == 0)
    assert model.H_init.dtype == model.L_init.dtype == torch.float32  # forward dtype of this config
    assert abs(model.embed_tokens.weight.std().item() * 256**0.5 - 1) < 0.03
    qkv = model.L_module.layers[0].self_attn.qkv_proj.weight
    assert abs(qkv.std().item() * 256**0.5 - 1) < 0.03
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert model.lm_head.bias is None and model.L_module.layers[0].mlp.down_proj.bias is None


def test_puzzle_table_is_a_buffer_outside_parameters():
    model = HrmActModel(tiny_config())
    assert "puzzle_emb.weight" in dict(model.named_buffers())
    assert "puzzle_emb.weight" in model.state_dict()
    assert all("puzzle_emb" not in name for name, _ in model.named_parameters())
    assert model._ddp_params_and_buffers_to_ignore == ["puzzle_emb.weight"]


def test_ddp_neither_reduces_nor_broadcasts_the_puzzle_table(tmp_path):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    own_group = not dist.is_initialized()
    if own_group:
        dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        ddp = DistributedDataParallel(HrmActModel(tiny_config()))
        assert "H_init" in ddp.named_module_buffers and "puzzle_emb.weight" not in ddp.named_module_buffers
    finally:
        if own_group:
            dist.destroy_process_group()


def test_puzzle_embedding_gradients_any_batch_size():
    config = tiny_config()
    model = seeded_model(config).train()
    for batch_size in (3, 7):
        batch = random_batch(config, batch_size)
        model(**batch).loss.backward()
        ids, grads = model.pop_puzzle_emb_grad()
        assert torch.equal(ids, batch["puzzle_identifiers"]) and grads.shape == (batch_size, config.puzzle_emb_ndim)
        assert grads.abs().sum() > 0
        assert model.pop_puzzle_emb_grad() is None
    assert model.puzzle_emb.weight.grad is None


# --- bad input -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, change",
    [
        ("input_ids", lambda b: {**b, "input_ids": b["input_ids"].clone().fill_(11)}),
        ("input_ids", lambda b: {**b, "input_ids": b["input_ids"] - 1 - b["input_ids"]}),
        ("input_ids", lambda b: {**b, "input_ids": b["input_ids"][:, :-1]}),
        ("input_ids", lambda b: {**b, "input_ids": b["input_ids"].float()}),
        ("puzzle_identifiers", lambda b: {**b, "puzzle_identifiers": b["puzzle_identifiers"] + 5}),
        ("puzzle_identifiers", lambda b: {**b, "puzzle_identifiers": b["puzzle_identifiers"][:2]}),
        ("labels", lambda b: {**b, "labels": b["labels"][:, :8]}),
        ("labels", lambda b: {**b, "labels": b["labels"].clone().fill_(-5)}),
    ],
)
def test_bad_input_raises_value_error_naming_the_field(field, change):
    config = tiny_config()
    model = HrmActModel(config).eval()  # a training forward trusts its ids' values: the dataset's load checked them
    with pytest.raises(ValueError, match=f"`{field}`"):
        model(**change(random_batch(config)))


def test_carry_from_another_batch_size_is_rejected():
    config = tiny_config()
    model = HrmActModel(config).eval()
    carry = model(**random_batch(config, batch_size=4)).carry
    with pytest.raises(ValueError, match="`carry`.*4 rows"):
        model(**random_batch(config, batch_size=3), carry=carry)


# --- ACT behaviour -------------------------------------------------------------------------------------------------


def test_eval_runs_every_row_to_halt_max_steps_and_keeps_data():
    config = tiny_config()
    model = seeded_model(config)
    first, second = random_batch(config, seed=1), random_batch(config, seed=2)
    out = model(**first)
    for step in range(2, config.halt_max_steps + 1):
        out = model(**second, carry=out.carry)  # rows have not halted: they keep working on `first`
        assert torch.equal(out.carry.current_data["input_ids"], first["input_ids"])
        assert torch.all(out.carry.steps == step)
    assert torch.all(out.carry.halted) and out.metrics["count"] == 4
    out = model(**second, carry=out.carry)
    assert torch.equal(out.carry.current_data["input_ids"], second["input_ids"]) and torch.all(out.carry.steps == 1)


def test_loss_is_summed_segment_loss_over_batch_size():
    config = tiny_config()
    model = seeded_model(config).train()
    out = model(**random_batch(config))
    m = out.metrics
    assert out.target_q_continue is not None
    expected = (m["lm_loss"] + 0.5 * (m["q_halt_loss"] + m["q_continue_loss"])) / 4
    torch.testing.assert_close(out.loss.detach(), expected)


def test_outputs_follow_the_public_api():
    config = tiny_config(forward_dtype="bfloat16")
    model = seeded_model(config).train()
    out = model(**random_batch(config, batch_size=3))
    assert out.logits.shape == (3, config.seq_len, config.vocab_size) and out.logits.dtype == torch.bfloat16
    for q in (out.q_halt_logits, out.q_continue_logits, out.target_q_continue):
        assert q.shape == (3,) and q.dtype == torch.float32
    assert out.carry.halted.dtype == torch.bool and out.carry.steps.dtype == torch.int32
    assert set(out.carry.current_data) == {"input_ids", "labels", "puzzle_identifiers"}
    assert set(out.metrics) == {
        "count", "accuracy", "exact_accuracy", "q_halt_accuracy", "steps", "lm_loss", "q_halt_loss", "q_continue_loss"
    }  # fmt: skip


def test_without_labels_no_loss_and_single_step_has_no_target():
    config = tiny_config(halt_max_steps=1)
    model = seeded_model(config).train()
    batch = random_batch(config)
    out = model(input_ids=batch["input_ids"], puzzle_identifiers=batch["puzzle_identifiers"])
    assert out.loss is None and out.metrics is None and out.target_q_continue is None
    assert torch.all(out.carry.halted)


# --- attention -----------------------------------------------------------------------------------------------------


def fake_fa4(query, key, value, softmax_scale, causal):
    """FlashAttention 4's convention (`[batch, seq, heads, head_dim]` in, `(out, lse)` back), computed by SDPA."""
    out = F.scaled_dot_product_attention(
        *(t.transpose(1, 2) for t in (query, key, value)), scale=softmax_scale, is_causal=causal
    )
    return out.transpose(1, 2), None


@pytest.fixture
def fa4_importable(monkeypatch):
    """Make `flash_attn.cute` look importable, with SDPA doing its work on the CPU."""
    monkeypatch.setattr(modeling_hrm, "fa4_func", fake_fa4)
    # A model loaded with trust_remote_code registers its own copy of the entry; use the one patched here.
    monkeypatch.setitem(AttentionInterface._global_mapping, FA4_ATTENTION, modeling_hrm.fa4_attention_forward)


def attention_log_lines(caplog, make_model) -> list[tuple[str, str]]:
    """(level, message) of the attention-choice lines logged while making the model twice."""
    for log_once in (logging.Logger.warning_once, logging.Logger.info_once):
        log_once.cache_clear()  # transformers' once-only lines remember earlier tests
    with caplog.at_level(logging.INFO):
        make_model()
        make_model()
    return [(r.levelname, r.getMessage()) for r in caplog.records if "HRM attention" in r.getMessage()]


def test_attention_defaults_to_sdpa_with_one_info_line_saying_why(caplog):
    lines = attention_log_lines(caplog, lambda: HrmActModel(tiny_config()))
    assert lines == [
        (
            "INFO",
            "HRM attention: sdpa (FlashAttention 4 not used: forward_dtype is torch.float32, "
            "FlashAttention needs bfloat16 or float16).",
        )
    ]


def test_attention_warns_only_where_a_gpu_could_run_fa4_but_it_is_not_installed(caplog, monkeypatch):
    monkeypatch.setattr(modeling_hrm, "fa4_unavailable_reason", lambda forward_dtype: modeling_hrm.FA4_NOT_INSTALLED)
    lines = attention_log_lines(caplog, lambda: HrmActModel(tiny_config()))
    assert lines == [
        ("WARNING", f"HRM attention: sdpa (FlashAttention 4 not used: {modeling_hrm.FA4_NOT_INSTALLED}).")
    ]


def test_attention_defaults_to_fa4_where_it_runs(caplog, monkeypatch, fa4_importable):
    monkeypatch.setattr(modeling_hrm, "fa4_unavailable_reason", lambda forward_dtype: None)
    lines = attention_log_lines(caplog, lambda: HrmActModel(tiny_config()))
    assert lines == [("INFO", f"HRM attention: {FA4_ATTENTION}.")]
    assert HrmActModel(tiny_config()).config._attn_implementation == FA4_ATTENTION


def test_explicit_attention_choices(monkeypatch):
    config = tiny_config()
    for implementation in ("eager", "sdpa"):
        model = HrmActModel._from_config(config, attn_implementation=implementation)
        assert model.config._attn_implementation == implementation
    monkeypatch.setattr(modeling_hrm, "fa4_func", None)
    with pytest.raises(ImportError, match="pip install flash-attn-4"):
        HrmActModel._from_config(config, attn_implementation=FA4_ATTENTION)


def test_fa4_entry_converts_layouts_both_ways(fa4_importable):
    reference = seeded_model(tiny_config())
    # A config of its own: `_from_config` sets the attention choice on the config object it is given.
    model = HrmActModel._from_config(tiny_config(), attn_implementation=FA4_ATTENTION)
    model.load_state_dict(reference.state_dict())
    assert (reference.config._attn_implementation, model.config._attn_implementation) == ("sdpa", FA4_ATTENTION)
    batch = random_batch(reference.config)
    with torch.no_grad():
        expected, actual = reference(**batch), model.eval()(**batch)
    torch.testing.assert_close(actual.logits, expected.logits)
    torch.testing.assert_close(actual.q_halt_logits, expected.q_halt_logits)


def test_fa4_entry_is_registered_and_not_mistaken_for_a_hub_kernel():
    from transformers.integrations.hub_kernels import is_kernel
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
    from transformers.utils.generic import is_flash_attention_requested

    assert FA4_ATTENTION in ALL_ATTENTION_FUNCTIONS.valid_keys()
    assert not is_kernel(FA4_ATTENTION)
    assert not is_flash_attention_requested(requested_attention_implementation=FA4_ATTENTION)


def imported_modules(tree: ast.AST) -> list[tuple[str, bool]]:
    """(top-level module, guarded by try) for every import in `tree`; relative imports give ""."""
    guarded = {id(node) for t in ast.walk(tree) if isinstance(t, ast.Try) for b in t.body for node in ast.walk(b)}
    modules = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [(alias.name.split(".")[0], id(node) in guarded) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules.append(("" if node.level else node.module.split(".")[0], id(node) in guarded))
    return modules


def test_modeling_files_import_only_torch_transformers_and_each_other():
    # huggingface_hub is transformers' own dependency; its `strict` is how transformers configs validate.
    allowed = {
        "torch",
        "transformers",
        "huggingface_hub",
        "math",
        "collections",
        "contextlib",
        "dataclasses",
        "difflib",
        "os",
        "typing",
        "",
    }
    root = Path(__file__).parents[1]
    for name in ("modeling_hrm.py", "configuration_hrm.py"):
        for module, guarded in imported_modules(ast.parse((root / name).read_text())):
            assert module in allowed or (module == "flash_attn" and guarded), (name, module)
    assert ("flash_attn", True) in imported_modules(ast.parse((root / "modeling_hrm.py").read_text()))


# --- save / load ---------------------------------------------------------------------------------------------------

LOAD_IN_CLEAN_PROCESS = textwrap.dedent(
    """
    import importlib.util, json, sys
    import torch
    sys.modules["hrm_hf"] = None  # the checkout's package must not be what loads the model
    assert importlib.util.find_spec("modeling_hrm") is None
    from transformers import AutoModel
    folder, batch_file, dtype, out_file = sys.argv[1:]
    model = AutoModel.from_pretrained(folder, trust_remote_code=True, dtype=getattr(torch, dtype)).eval()
    assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
    batch = torch.load(batch_file)
    carry, logits = None, []
    with torch.no_grad():
        for _ in range(model.config.halt_max_steps):
            out = model(**batch, carry=carry)
            carry = out.carry
            logits.append(out.logits.float())
    torch.save({"logits": torch.stack(logits), "q": out.q_halt_logits, "H_init": model.H_init,
                "cos": model.rotary_emb.cos_cached if hasattr(model, "rotary_emb") else torch.zeros(1),
                "dtypes": {name: str(tensor.dtype) for name, tensor in model.state_dict().items()}}, out_file)
    """
)


@pytest.mark.parametrize(
    "forward_dtype, load_dtype, pos_encodings",
    [("float32", "float32", "rope"), ("bfloat16", "bfloat16", "rope"), ("float32", "bfloat16", "learned")],
)
def test_save_and_load_in_a_clean_process(tmp_path, forward_dtype, load_dtype, pos_encodings):
    config = tiny_config(forward_dtype=forward_dtype, pos_encodings=pos_encodings)
    model = seeded_model(config)
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    saved = json.loads((folder / "config.json").read_text())
    assert saved["auto_map"] == {
        "AutoConfig": "configuration_hrm.HrmActConfig",
        "AutoModel": "modeling_hrm.HrmActModel",
    }
    assert {"model.safetensors", "modeling_hrm.py", "configuration_hrm.py"} <= {p.name for p in folder.iterdir()}
    with safe_open(folder / "model.safetensors", "pt") as saved_tensors:
        assert set(saved_tensors.keys()) == set(model.state_dict())  # puzzle table included, RoPE tables rebuilt
        assert "puzzle_emb.weight" in saved_tensors.keys()

    batch = random_batch(config)
    batch.pop("labels")
    torch.save(batch, tmp_path / "batch.pt")
    carry, expected = None, []
    with torch.no_grad():
        for _ in range(config.halt_max_steps):
            out = model(**batch, carry=carry)
            carry = out.carry
            expected.append(out.logits.float())

    script = tmp_path / "load.py"
    script.write_text(LOAD_IN_CLEAN_PROCESS)
    # The same intra-op thread count as here (an earlier test may have set ours): float32 sums are then bit-equal.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {
        "HF_HOME": str(tmp_path / "hf"), "OMP_NUM_THREADS": str(torch.get_num_threads())}  # fmt: skip
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    subprocess.run(
        [sys.executable, "-I", str(script), str(folder), str(tmp_path / "batch.pt"), load_dtype, str(tmp_path / "out.pt")],
        cwd=cwd, env=env, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    loaded = torch.load(tmp_path / "out.pt")
    # float32 weights and puzzle table, H_init/L_init in the forward dtype, whatever `dtype=` asked
    assert loaded["dtypes"] == {name: str(tensor.dtype) for name, tensor in model.state_dict().items()}
    assert torch.equal(loaded["H_init"], model.H_init)
    if pos_encodings == "rope":
        assert loaded["cos"].dtype == torch.float32 and torch.equal(loaded["cos"], model.rotary_emb.cos_cached)
    assert torch.equal(loaded["logits"], torch.stack(expected))
    assert torch.equal(loaded["q"], out.q_halt_logits)


def test_auto_config_and_auto_model_round_trip(tmp_path):
    config = tiny_config(puzzle_emb_ndim=0, pos_encodings="learned")
    model = seeded_model(config)
    model.save_pretrained(tmp_path)
    loaded = AutoModel.from_pretrained(tmp_path, trust_remote_code=True)
    assert AutoConfig.from_pretrained(tmp_path, trust_remote_code=True).to_dict()["pos_encodings"] == "learned"
    for (name, tensor), (_, other) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(tensor, other), name


@pytest.mark.slow
def test_torch_compile_of_a_training_segment_runs():
    config = tiny_config()
    model = seeded_model(config).train()
    compiled = torch.compile(model)
    batch = random_batch(config)
    out = compiled(**batch)
    out.loss.backward()
    eager = seeded_model(config).train()
    reference = eager(**batch)
    torch.testing.assert_close(out.logits, reference.logits, atol=1e-4, rtol=1e-4)
    assert all(p.grad is not None for p in model.parameters())
    reference.loss.backward()
    (ids, grads), (_, reference_grads) = model.pop_puzzle_emb_grad(), eager.pop_puzzle_emb_grad()
    assert torch.equal(ids, batch["puzzle_identifiers"])
    torch.testing.assert_close(grads, reference_grads, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="`input_ids` must have shape"):  # shape checks survive compilation
        compiled(**{**batch, "input_ids": batch["input_ids"][:, :-1]})
