"""The model as a transformers citizen: config validation, init, bad input, save/load round trips, attention choice."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from transformers import AutoConfig, AutoModel

from hrm_hf.configuration_hrm import HrmActConfig
from hrm_hf.modeling_hrm import FA4_ATTENTION, HrmActModel, jax_trunc_normal_


def tiny_config(**overrides) -> HrmActConfig:
    fields = dict(
        vocab_size=11, seq_len=16, num_puzzle_identifiers=5, hidden_size=32, num_heads=4, H_layers=1, L_layers=1,
        H_cycles=2, L_cycles=2, halt_max_steps=3, forward_dtype="float32", expansion=2.0,
    )  # fmt: skip
    fields.update(overrides)
    return HrmActConfig(**fields)


def random_batch(config: HrmActConfig, batch_size: int = 4, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {
        "input_ids": torch.randint(0, config.vocab_size, (batch_size, config.seq_len), generator=generator),
        "puzzle_identifiers": torch.randint(0, config.num_puzzle_identifiers, (batch_size,), generator=generator),
        "labels": torch.randint(0, config.vocab_size, (batch_size, config.seq_len), generator=generator),
    }


def seeded_model(config: HrmActConfig) -> HrmActModel:
    torch.manual_seed(0)
    model = HrmActModel(config)
    with torch.no_grad():  # a non-trivial Q head and puzzle table, so that round trips compare real numbers
        model.q_head.weight.normal_(0, 0.1)
        if config.puzzle_emb_ndim:
            model.puzzle_emb.weight.normal_(0, 0.1)
    return model.eval()


# --- configuration -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("hidden_size", 30),
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
    model = HrmActModel(config)
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


def test_without_labels_no_loss_and_single_step_has_no_target():
    config = tiny_config(halt_max_steps=1)
    model = seeded_model(config).train()
    batch = random_batch(config)
    out = model(input_ids=batch["input_ids"], puzzle_identifiers=batch["puzzle_identifiers"])
    assert out.loss is None and out.metrics is None and out.target_q_continue is None
    assert torch.all(out.carry.halted)


# --- attention -----------------------------------------------------------------------------------------------------


def test_attention_defaults_to_sdpa_without_gpu_and_accepts_explicit_choices():
    config = tiny_config()
    assert HrmActModel(config).config._attn_implementation == "sdpa"
    for implementation in ("eager", "sdpa", FA4_ATTENTION):
        model = HrmActModel._from_config(config, attn_implementation=implementation)
        assert model.config._attn_implementation == implementation


def test_fa4_entry_is_registered_and_not_mistaken_for_a_hub_kernel():
    from transformers.integrations.hub_kernels import is_kernel
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
    from transformers.utils.generic import is_flash_attention_requested

    assert FA4_ATTENTION in ALL_ATTENTION_FUNCTIONS.valid_keys()
    assert not is_kernel(FA4_ATTENTION)
    assert not is_flash_attention_requested(requested_attention_implementation=FA4_ATTENTION)


def test_modeling_files_import_only_torch_transformers_and_each_other():
    from pathlib import Path

    root = Path(__file__).parents[1]
    for name in ("modeling_hrm.py", "configuration_hrm.py"):
        for line in (root / name).read_text().splitlines():
            if line.startswith(("import ", "from ")):
                module = line.split()[1]
                assert module.split(".")[0] in {
                    "torch",
                    "transformers",
                    "math",
                    "collections",
                    "dataclasses",
                    "huggingface_hub",
                    "",
                }, line


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
                "cos": model.rotary_emb.cos_cached if hasattr(model, "rotary_emb") else torch.zeros(1)}, out_file)
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
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"HF_HOME": str(tmp_path / "hf")}
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    subprocess.run(
        [sys.executable, "-I", str(script), str(folder), str(tmp_path / "batch.pt"), load_dtype, str(tmp_path / "out.pt")],
        cwd=cwd, env=env, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    loaded = torch.load(tmp_path / "out.pt")
    assert torch.equal(loaded["H_init"].float(), model.H_init.float())
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
