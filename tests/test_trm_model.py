"""TRM as a transformers citizen: its config (defaults, errors), its variants, bad input, the halting rules, save/load
round trips, loading by the folder's family, and a saved folder that loads and solves in a process without hrm_hf."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig

import pytest
import torch
from transformers import AutoModel, pipeline

from hrm_hf.configuration_hrm import HrmActConfig
from hrm_hf.configuration_trm import TrmConfig
from hrm_hf.evaluation.loading import load_model
from hrm_hf.evaluation.model_folder import save_model_files
from hrm_hf.modeling_hrm import HrmActModel
from hrm_hf.modeling_trm import TrmModel
from tests.helpers import random_batch, tiny_config, tiny_trm_model


SUDOKU_4X4 = ".12.2.1.13..42.."


# --- configuration -------------------------------------------------------------------------------------------------


def test_defaults_are_the_authors_trm_recipe():
    config = TrmConfig()
    assert config.model_type == "trm" and isinstance(config, HrmActConfig)
    assert (config.H_cycles, config.L_cycles, config.H_layers, config.L_layers) == (3, 6, 0, 2)
    assert (config.hidden_size, config.num_heads, config.puzzle_emb_ndim, config.puzzle_emb_len) == (512, 8, 512, 16)
    assert (config.mlp_t, config.no_ACT_continue, config.pos_encodings) == (False, True, "rope")
    assert (config.halt_max_steps, config.halt_exploration_prob, config.forward_dtype) == (16, 0.1, "bfloat16")
    assert config.num_hidden_layers == 3 * (6 + 1) * 2


def test_puzzle_emb_len_zero_means_the_ceiling_and_is_stored_so():
    config = tiny_trm_model(puzzle_emb_ndim=40, puzzle_emb_len=0).config
    assert config.puzzle_emb_len == 2
    assert TrmConfig.from_dict(config.to_dict()).puzzle_emb_len == 2
    assert tiny_trm_model(puzzle_emb_ndim=0, puzzle_emb_len=0).config.puzzle_emb_len == 0


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"puzzle_emb_ndim": 0}, r"`puzzle_emb_len` must be 0 when `puzzle_emb_ndim` is 0.*got 16"),
        ({"puzzle_emb_ndim": 70, "puzzle_emb_len": 2}, r"`puzzle_emb_ndim` \(70\) must fit.*\(2 \* 32\)"),
        ({"puzzle_emb_len": -1}, r"`puzzle_emb_len` must be >= 0, got -1"),
        ({"H_layers": -1}, r"`H_layers` must be >= 0.*got -1"),
        ({"L_layers": 0}, r"`L_layers` must be a positive integer, got 0"),
        ({"pos_encodings": "alibi"}, r"`pos_encodings` must be one of \('rope', 'learned', 'none'\), got 'alibi'"),
        ({"mlp_tt": True}, r"TrmConfig: unknown keys 'mlp_tt' \(did you mean 'mlp_t'\?\)"),
    ],
)
def test_invalid_config_is_one_line_naming_the_field(overrides, message):
    with pytest.raises(ValueError, match=message):
        tiny_trm_model(**overrides)


def test_model_type_is_not_a_builtin():
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    assert TrmConfig.model_type not in CONFIG_MAPPING_NAMES


# --- the model -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [{}, {"mlp_t": True, "pos_encodings": "none"}, {"pos_encodings": "learned"}, {"puzzle_emb_ndim": 0,
     "puzzle_emb_len": 0}, {"no_ACT_continue": False, "H_layers": 3}],
)  # fmt: skip
def test_every_variant_runs_a_training_segment(overrides):
    model = tiny_trm_model(**overrides).train()
    batch = random_batch(model.config)
    out = model(**batch)
    out.loss.backward()
    prefix = model.config.puzzle_emb_len
    assert out.logits.shape == (4, 16, 11) and out.carry.z_H.shape == (4, prefix + 16, 32)
    assert (out.target_q_continue is not None) == (not model.config.no_ACT_continue)
    assert ("q_continue_loss" in out.metrics) == (not model.config.no_ACT_continue)
    assert all(p.grad is not None for p in model.parameters())
    assert not any(name.startswith("H_module") for name in model.state_dict())
    block = model.L_module.layers[0]
    assert (block.mlp_t is not None) == model.config.mlp_t and (block.self_attn is None) == model.config.mlp_t


def test_halting_rule_follows_no_act_continue():
    q_halt, q_continue = torch.tensor([0.5, -0.5, 0.5]), torch.tensor([1.0, -1.0, 0.0])
    assert tiny_trm_model().q_halts(q_halt, q_continue).tolist() == [True, False, True]
    assert tiny_trm_model(no_ACT_continue=False).q_halts(q_halt, q_continue).tolist() == [False, True, True]
    steps = torch.tensor([1, 1, 3])
    assert tiny_trm_model().halt_rows(q_halt, q_continue, steps, "fixed", 3).tolist() == [False, False, True]


def test_solve_is_the_forward_rollout_in_eval_mode():
    model = tiny_trm_model()
    batch = random_batch(model.config)
    solved = model.solve(batch["input_ids"], batch["puzzle_identifiers"], halting="fixed")
    carry = None
    with torch.no_grad():
        for _ in range(model.config.halt_max_steps):
            out = model(input_ids=batch["input_ids"], puzzle_identifiers=batch["puzzle_identifiers"], carry=carry)
            carry = out.carry
    assert torch.equal(solved.predictions, out.logits.argmax(-1)) and solved.steps.tolist() == [3] * 4


@pytest.mark.parametrize(
    "change, error, message",
    [
        (lambda b: b | {"input_ids": b["input_ids"][:, :5]}, ValueError, r"`input_ids` must have shape"),
        (lambda b: b | {"input_ids": b["input_ids"].float()}, ValueError, r"`input_ids` must hold integer ids"),
        (lambda b: b | {"puzzle_identifiers": b["puzzle_identifiers"] + 5}, ValueError, r"`puzzle_identifiers`"),
        (lambda b: b | {"labels": b["labels"][:2]}, ValueError, r"`labels` must have the shape"),
        (lambda b: b | {"input_ids": b["input_ids"].tolist()}, TypeError, r"`input_ids` must be a torch.Tensor"),
    ],
)
def test_bad_input_names_the_argument(change, error, message):
    model = tiny_trm_model()
    with pytest.raises(error, match=message):
        model(**change(random_batch(model.config)))


def test_a_carry_of_another_model_is_refused():
    hrm = HrmActModel(tiny_config())
    carry = hrm(**random_batch(hrm.config)).carry
    model = tiny_trm_model()
    with pytest.raises(ValueError, match=r"`carry.z_H` has shape .* the carry comes from another model"):
        model(**random_batch(model.config), carry=carry)


# --- saving and loading --------------------------------------------------------------------------------------------


def test_save_and_load_round_trip_with_the_installed_class_and_auto_model(tmp_path):
    model = tiny_trm_model(mlp_t=True, pos_encodings="learned")
    save_model_files(model, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "trm" and config["auto_map"] == {
        "AutoConfig": "configuration_trm.TrmConfig",
        "AutoModel": "modeling_trm.TrmModel",
    }
    for name in ("modeling_trm.py", "configuration_trm.py", "modeling_hrm.py", "configuration_hrm.py"):
        assert (tmp_path / name).is_file(), name  # the TRM files and the HRM files they import
    batch = random_batch(model.config)
    with torch.no_grad():
        expected = model(**batch)
        for loaded in (load_model(tmp_path), AutoModel.from_pretrained(tmp_path, trust_remote_code=True)):
            assert type(loaded).__name__ == "TrmModel"
            out = loaded.eval()(**batch)
            assert torch.equal(out.logits, expected.logits) and torch.equal(out.q_halt_logits, expected.q_halt_logits)
    assert isinstance(load_model(tmp_path), TrmModel)


def test_loading_refuses_a_folder_of_another_model(tmp_path):
    save_model_files(tiny_trm_model(), tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(config | {"model_type": "llama"}))
    with pytest.raises(ValueError, match=r"`model_type` 'llama' in config.json is none of this package's models"):
        load_model(tmp_path)


def test_a_trm_folder_loads_and_solves_in_a_process_without_hrm_hf(tmp_path):
    """`AutoModel` and `pipeline` with `trust_remote_code` from the folder's files alone (python -S: no editable
    install, only site-packages)."""
    model = tiny_trm_model(vocab_size=6, num_puzzle_identifiers=3, halt_max_steps=4)
    save_model_files(model, tmp_path / "saved")
    folder = shutil.copytree(tmp_path / "saved", tmp_path / "copied" / "trm-sudoku")
    (tmp_path / "cwd").mkdir()
    code = (
        f"import sys; sys.path.append({sysconfig.get_paths()['purelib']!r}); import importlib.util, json\n"
        "assert importlib.util.find_spec('hrm_hf') is None and importlib.util.find_spec('tests') is None\n"
        "from transformers import AutoModel, pipeline\n"
        f"model = AutoModel.from_pretrained({str(folder)!r}, trust_remote_code=True)\n"
        f"result = pipeline(model={str(folder)!r}, trust_remote_code=True)({SUDOKU_4X4!r})\n"
        "print(json.dumps(dict(result, model=type(model).__name__)))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {
        "OMP_NUM_THREADS": "1",
        "HF_HOME": str(tmp_path / "hf_home"),
    }
    ran = subprocess.run(
        [sys.executable, "-S", "-c", code], cwd=tmp_path / "cwd", env=env, capture_output=True, text=True, timeout=300
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    result = json.loads(ran.stdout.strip().splitlines()[-1])
    here = pipeline(model=str(folder), trust_remote_code=True)(SUDOKU_4X4)
    assert result["model"] == "TrmModel"
    assert result["solution"] == here["solution"] and result["segments"] == here["segments"]


# --- transformers-native behaviour ---------------------------------------------------------------------------------


def test_attentions_come_from_the_eager_path_for_every_block_application():
    model = tiny_trm_model(L_layers=2, H_cycles=2, L_cycles=3)
    assert model.config._attn_implementation == "sdpa"
    batch = random_batch(model.config)
    with torch.no_grad():
        plain = model(**batch)
        out = model(**batch, output_attentions=True)
    assert len(out.attentions) == model.config.num_hidden_layers == 2 * (3 + 1) * 2
    seq = model.puzzle_emb_len + model.config.seq_len
    assert all(attention.shape == (4, 4, seq, seq) for attention in out.attentions)
    torch.testing.assert_close(out.logits, plain.logits, rtol=1e-5, atol=1e-5)


def test_torch_export_of_an_eval_segment():
    model = tiny_trm_model(mlp_t=True)
    batch = random_batch(model.config)
    with torch.no_grad():
        carry = model(**batch).carry
        expected = model(**batch, carry=carry)
    exported = torch.export.export(model, args=(), kwargs={**batch, "carry": carry})
    actual = exported.module()(**batch, carry=carry)
    torch.testing.assert_close(actual.logits, expected.logits)
    assert torch.equal(actual.carry.steps, expected.carry.steps)


def test_gradient_checkpointing_gives_the_same_gradients_over_the_last_recursion():
    batch = random_batch(tiny_trm_model().config)

    def gradients(checkpointing: bool) -> dict[str, torch.Tensor]:
        model = tiny_trm_model().train()
        if checkpointing:
            model.activation_checkpointing_enable()
        torch.manual_seed(1)  # the same exploration draws
        model(**batch).loss.backward()
        return {name: p.grad for name, p in model.named_parameters()} | {"puzzle": model.pop_puzzle_emb_grad()[1]}

    plain, checkpointed = gradients(False), gradients(True)
    for name, grad in plain.items():
        torch.testing.assert_close(checkpointed[name], grad, rtol=1e-6, atol=1e-7, msg=name)


def test_weights_stay_float32_whatever_dtype_asks(tmp_path):
    model = tiny_trm_model(forward_dtype="bfloat16")
    model.save_pretrained(tmp_path)
    loaded = TrmModel.from_pretrained(tmp_path, dtype=torch.bfloat16)
    assert {p.dtype for p in loaded.parameters()} == {torch.float32} and loaded.H_init.dtype == torch.bfloat16
    assert loaded.config.dtype == torch.float32


@pytest.mark.parametrize("mlp_t", [False, True])
def test_hidden_and_cycle_states_are_recorded_per_block_and_per_recursion_step(mlp_t):
    model = tiny_trm_model(L_layers=2, H_cycles=2, L_cycles=3, mlp_t=mlp_t)
    batch = random_batch(model.config)
    with torch.no_grad():
        plain = model(**batch)
        out = model(**batch, output_hidden_states=True, output_cycle_states=True)
    assert plain.hidden_states is None and plain.cycle_states is None
    assert len(out.hidden_states) == model.config.num_hidden_layers + 1 == 2 * (3 + 1) * 2 + 1
    assert torch.equal(out.hidden_states[-1], out.carry.z_H) and torch.equal(out.logits, plain.logits)
    z_H, z_L = model.fresh_state(4)
    injection = model.embed_inputs(batch["input_ids"], batch["puzzle_identifiers"])
    position_embeddings = None if mlp_t else model.rotary_emb()
    expected = []
    with torch.no_grad():
        for _ in range(2):
            for _ in range(3):
                z_L = model.L_module(z_L, z_H + injection, position_embeddings)
                expected.append(z_L)
            z_H = model.L_module(z_H, z_L, position_embeddings)  # the same network updates the answer state
            expected.append(z_H)
    assert len(out.cycle_states) == len(expected)
    for actual, wanted in zip(out.cycle_states, expected, strict=True):
        torch.testing.assert_close(actual, wanted, rtol=0, atol=0)


@pytest.mark.parametrize("mlp_t", [False, True])
def test_a_training_segment_with_a_puzzle_table_compiles_as_one_graph(mlp_t):
    model = tiny_trm_model(mlp_t=mlp_t, no_ACT_continue=not mlp_t).train()
    batch = random_batch(model.config)
    eager = tiny_trm_model(mlp_t=mlp_t, no_ACT_continue=not mlp_t).train()
    torch.manual_seed(1)  # the same halting-exploration draws in both
    reference = eager(**batch)
    reference.loss.backward()
    model.size_puzzle_rows(batch["puzzle_identifiers"])
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    torch.manual_seed(1)
    out = compiled(**batch)
    out.loss.backward()
    torch.testing.assert_close(out.loss, reference.loss, rtol=1e-6, atol=1e-6)
    for (name, param), (_, wanted) in zip(model.named_parameters(), eager.named_parameters(), strict=True):
        torch.testing.assert_close(param.grad, wanted.grad, rtol=1e-5, atol=1e-6, msg=name)
    torch.testing.assert_close(model.pop_puzzle_emb_grad()[1], eager.pop_puzzle_emb_grad()[1], rtol=1e-5, atol=1e-6)
