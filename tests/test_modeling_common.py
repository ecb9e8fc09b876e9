"""transformers' model-tester checks, written for HRM: arguments, outputs, export, checkpointing, dtypes, resizing."""

import logging

import pytest
import torch
from transformers import Trainer, TrainingArguments
from transformers.modeling_layers import GradientCheckpointingLayer

from hrm_hf.evaluation.card import write_model_card
from hrm_hf.modeling_hrm import HrmActLinear, HrmActModel
from tests.helpers import random_batch, seeded_model, tiny_config


def segment(model: HrmActModel, batch: dict[str, torch.Tensor], **kwargs):
    with torch.no_grad():
        return model(**batch, **kwargs)


# --- forward arguments ---------------------------------------------------------------------------------------------


def test_unknown_argument_raises_type_error_naming_it():
    config = tiny_config()
    model = seeded_model(config)
    batch = random_batch(config)
    with pytest.raises(TypeError, match="puzzle_identifier'"):
        model(input_ids=batch["input_ids"], puzzle_identifier=batch["puzzle_identifiers"])
    with pytest.raises(TypeError, match="num_items_in_batch"):
        model(**batch, num_items_in_batch=64)


def test_attention_mask_is_refused_not_dropped():
    config = tiny_config()
    model = seeded_model(config)
    batch = random_batch(config)
    with pytest.raises(ValueError, match=r"`attention_mask` must be None.*\[4, 16\]"):
        model(**batch, attention_mask=torch.ones(4, config.seq_len))


def test_return_dict_false_gives_the_non_none_fields_in_order():
    config = tiny_config()
    model = seeded_model(config)
    batch = random_batch(config)
    expected = segment(model, batch)
    as_tuple = segment(model, batch, return_dict=False)
    assert isinstance(as_tuple, tuple) and len(as_tuple) == len(expected.to_tuple()) == 6  # no target_q_continue
    for actual, wanted in zip(as_tuple[:4], (expected.loss, expected.logits, expected.q_halt_logits,
                                             expected.q_continue_logits), strict=True):  # fmt: skip
        assert torch.equal(actual, wanted)
    assert torch.equal(as_tuple[4].z_H, expected.carry.z_H)
    model.config.return_dict = False
    assert isinstance(segment(model, batch), tuple)
    assert isinstance(segment(model, batch, return_dict=True), dict)


def test_hidden_states_are_recorded_per_block_application():
    # transformers' model tests: `num_hidden_layers + 1` hidden states, the input of the first layer first; HRM's
    # layers are its block applications, as in transformers' hrm_text.
    config = tiny_config(H_layers=2, L_layers=1, H_cycles=2, L_cycles=3, puzzle_emb_ndim=40)  # a 2-position prefix
    assert config.num_hidden_layers == config.H_cycles * (config.L_cycles * config.L_layers + config.H_layers) == 10
    model = seeded_model(config)
    batch = random_batch(config)
    plain = segment(model, batch)
    out = segment(model, batch, output_hidden_states=True)
    assert plain.hidden_states is None and len(out.hidden_states) == config.num_hidden_layers + 1
    assert all(state.shape == (4, 2 + config.seq_len, config.hidden_size) for state in out.hidden_states)
    assert torch.equal(out.hidden_states[-1], out.carry.z_H)
    assert torch.equal(out.logits, plain.logits)
    z_H, z_L = model.fresh_state(4)
    injection = model.embed_inputs(batch["input_ids"], batch["puzzle_identifiers"])
    torch.testing.assert_close(out.hidden_states[0], z_L + (z_H + injection), rtol=0, atol=0)
    with pytest.raises(ValueError, match="`output_hidden_states`.*'all'"):
        model(**batch, output_hidden_states="all")


def test_cycle_states_follow_the_order_computed():
    config = tiny_config(H_cycles=2, L_cycles=3)
    model = seeded_model(config)
    batch = random_batch(config)
    states = segment(model, batch, output_cycle_states=True).cycle_states
    assert len(states) == config.H_cycles * (config.L_cycles + 1)
    carry = model.initial_carry(batch)
    z_H, z_L = model.fresh_state(4)
    injection = model.embed_inputs(batch["input_ids"], batch["puzzle_identifiers"])
    position_embeddings = model.rotary_emb()
    expected = []
    with torch.no_grad():
        for _ in range(config.H_cycles):
            for _ in range(config.L_cycles):
                z_L = model.L_module(z_L, z_H + injection, position_embeddings)
                expected.append(z_L)
            z_H = model.H_module(z_H, z_L, position_embeddings)
            expected.append(z_H)
    assert carry.halted.all()  # so the segment starts from H_init/L_init, as the replay above does
    for actual, wanted in zip(states, expected, strict=True):
        torch.testing.assert_close(actual, wanted, rtol=0, atol=0)
    with pytest.raises(ValueError, match="output_cycle_states=True"):
        model(**batch, output_hidden_states="cycles")


def test_config_output_flags_are_the_defaults():
    config = tiny_config(output_hidden_states=True, output_attentions=True)
    model = seeded_model(config)
    out = segment(model, random_batch(config))
    assert len(out.hidden_states) == config.num_hidden_layers + 1
    assert len(out.attentions) == config.num_hidden_layers and out.cycle_states is None
    assert segment(model, random_batch(config), output_attentions=False).attentions is None


def test_training_records_the_segment_not_its_bootstrap_pass():
    config = tiny_config()
    model = seeded_model(config).train()
    out = model(**random_batch(config), output_hidden_states=True, output_cycle_states=True)
    assert out.target_q_continue is not None  # the bootstrap pass ran
    assert len(out.hidden_states) == config.num_hidden_layers + 1
    assert len(out.cycle_states) == config.H_cycles * (config.L_cycles + 1)


def test_attentions_come_from_the_eager_path_for_every_block_application():
    config = tiny_config(H_layers=2, L_layers=1, H_cycles=2, L_cycles=3)
    model = seeded_model(config)
    assert model.config._attn_implementation == "sdpa"
    batch = random_batch(config)
    plain = segment(model, batch)
    out = segment(model, batch, output_attentions=True)
    assert (
        len(out.attentions)
        == config.num_hidden_layers
        == config.H_cycles * (config.L_cycles * config.L_layers + config.H_layers)
    )
    seq = model.puzzle_emb_len + config.seq_len
    for attention in out.attentions:
        assert attention.shape == (4, config.num_heads, seq, seq) and attention.dtype == torch.float32
        torch.testing.assert_close(attention.sum(-1), torch.ones(4, config.num_heads, seq))
    # the eager path computes the same segment as SDPA, within float32 rounding
    torch.testing.assert_close(out.logits, plain.logits, rtol=1e-5, atol=1e-5)
    assert not torch.equal(out.attentions[0], out.attentions[1])


# --- transformers.Trainer ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("accumulation_steps", [1, 2, 4])
def test_trainer_gradient_accumulation_updates_as_the_full_batch(tmp_path, accumulation_steps):
    config = tiny_config()
    batch = random_batch(config, batch_size=8)
    rows = [{key: value[i] for key, value in batch.items()} for i in range(8)]

    reference = seeded_model(config).train()
    reference(**batch).loss.backward()
    expected = {name: (p - p.grad).detach() for name, p in reference.named_parameters()}

    model = seeded_model(config)
    args = TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=8 // accumulation_steps,
        gradient_accumulation_steps=accumulation_steps, max_steps=1, max_grad_norm=0.0, lr_scheduler_type="constant",
        use_cpu=True, report_to=[], save_strategy="no", disable_tqdm=True, logging_strategy="no",
    )  # fmt: skip
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    trainer = Trainer(model=model, args=args, train_dataset=rows, optimizers=(optimizer, None))
    assert trainer.model_accepts_loss_kwargs is False
    trainer.train()
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.detach(), expected[name], rtol=1e-5, atol=1e-6, msg=name)


# --- torch.export, gradient checkpointing --------------------------------------------------------------------------


def test_torch_export_of_an_eval_segment():
    config = tiny_config()
    model = seeded_model(config)
    batch = random_batch(config)
    carry = segment(model, batch).carry
    exported = torch.export.export(model, args=(), kwargs={**batch, "carry": carry})
    actual, expected = exported.module()(**batch, carry=carry), segment(model, batch, carry=carry)
    torch.testing.assert_close(actual.logits, expected.logits)
    torch.testing.assert_close(actual.carry.z_H, expected.carry.z_H)
    assert torch.equal(actual.carry.steps, expected.carry.steps) and torch.equal(
        actual.metrics["count"], torch.tensor(0)
    )


def test_gradient_checkpointing_gives_the_same_gradients_on_the_one_step_path():
    config = tiny_config()
    batch = random_batch(config)

    def gradients(checkpointing: bool) -> tuple[dict[str, torch.Tensor], int]:
        model = seeded_model(config).train()
        calls = []
        if checkpointing:
            model.activation_checkpointing_enable()
            for block in model.modules():
                if isinstance(block, GradientCheckpointingLayer):
                    inner = block._gradient_checkpointing_func
                    block._gradient_checkpointing_func = lambda *a, inner=inner, **k: calls.append(1) or inner(*a, **k)
        torch.manual_seed(1)  # the same exploration draws
        model(**batch).loss.backward()
        grads = {name: p.grad for name, p in model.named_parameters()}
        grads["puzzle_emb"] = model.pop_puzzle_emb_grad()[1]
        return grads, len(calls)

    plain, no_calls = gradients(False)
    checkpointed, calls = gradients(True)
    assert no_calls == 0
    assert calls == config.L_layers + config.H_layers  # only the last L and the last H pass keep a graph
    for name, grad in plain.items():
        torch.testing.assert_close(checkpointed[name], grad, rtol=1e-6, atol=1e-7, msg=name)


# --- dtypes --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pos_encodings, puzzle_emb_ndim", [("rope", 32), ("learned", 0)])
def test_weights_are_built_in_float32_whatever_dtype_asks(pos_encodings, puzzle_emb_ndim):
    config = tiny_config(forward_dtype="bfloat16", pos_encodings=pos_encodings, puzzle_emb_ndim=puzzle_emb_ndim)
    model = HrmActModel._from_config(config, dtype=torch.bfloat16)
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert puzzle_emb_ndim == 0 or model.puzzle_emb.weight.dtype == torch.float32
    assert model.H_init.dtype == torch.bfloat16 and model.config.dtype == torch.float32
    children = dict(model.named_children())
    assert set(model._keep_in_fp32_modules_strict) == set(children)  # every module, and only modules that exist
    assert ("embed_positions" in children) == (pos_encodings == "learned")
    assert ("puzzle_emb" in children) == (puzzle_emb_ndim > 0)


def test_from_pretrained_dtype_says_what_it_does_and_config_stays_honest(tmp_path, caplog):
    config = tiny_config()
    model = seeded_model(config)
    model.save_pretrained(tmp_path)
    logging.Logger.warning_once.cache_clear()
    with caplog.at_level(logging.WARNING):
        loaded = HrmActModel.from_pretrained(tmp_path, dtype=torch.bfloat16).eval()
    lines = [r.getMessage() for r in caplog.records if "float32" in r.getMessage()]
    assert lines == [
        "HRM keeps its weights in float32 and computes in `forward_dtype` (float32): `dtype=torch.bfloat16` changes "
        "neither. Set `forward_dtype` to change the compute dtype."
    ]
    assert loaded.config.dtype == torch.float32 and loaded.dtype == torch.float32
    batch = random_batch(config)
    assert torch.equal(segment(loaded, batch).logits, segment(model, batch).logits)


# --- config names, embeddings, sizes -------------------------------------------------------------------------------


def test_standard_config_names():
    config = tiny_config(num_heads=4)
    assert config.num_attention_heads == 4
    assert tiny_config(num_attention_heads=2).num_heads == 2
    with pytest.raises(ValueError, match="`tie_word_embeddings` must be False"):
        tiny_config(tie_word_embeddings=True)


def test_resize_token_embeddings_keeps_the_casting_head():
    config = tiny_config(forward_dtype="bfloat16")
    model = seeded_model(config)
    model.resize_token_embeddings(13)
    assert type(model.lm_head) is HrmActLinear and model.lm_head.weight.dtype == torch.float32
    assert model.embed_tokens.weight.shape == (13, config.hidden_size) and model.config.vocab_size == 13
    batch = random_batch(config)
    batch["input_ids"][:, 0] = 12
    out = segment(model, batch)
    assert out.logits.shape == (4, config.seq_len, 13) and out.logits.dtype == torch.bfloat16


def test_puzzle_table_size_is_reported_next_to_num_parameters():
    config = tiny_config(num_puzzle_identifiers=5000, puzzle_emb_ndim=32)
    model = HrmActModel(config)
    assert model.num_puzzle_table_values() == 5000 * 32 > model.num_parameters()
    assert model.num_parameters() == sum(p.numel() for p in model.parameters())
    assert HrmActModel(tiny_config(puzzle_emb_ndim=0)).num_puzzle_table_values() == 0


def test_model_card_shows_parameters_and_puzzle_table(tmp_path):
    model = HrmActModel(tiny_config(num_puzzle_identifiers=5000, puzzle_emb_ndim=32))
    model.save_pretrained(tmp_path)
    text = write_model_card(tmp_path).read_text()
    expected = f"{model.num_parameters():,} parameters and a puzzle-embedding table of {5000 * 32:,}\nvalues"
    assert expected in text


# --- save / load ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("max_shard_size", [None, "20KB"])
def test_save_and_load_gives_the_same_model(tmp_path, max_shard_size):
    config = tiny_config()
    model = seeded_model(config)
    model.save_pretrained(tmp_path, **({"max_shard_size": max_shard_size} if max_shard_size else {}))
    assert (len(list(tmp_path.glob("*.safetensors"))) > 1) == (max_shard_size is not None)
    loaded = HrmActModel.from_pretrained(tmp_path).eval()
    assert loaded.state_dict().keys() == model.state_dict().keys()
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    batch = random_batch(config)
    first, second = segment(model, batch), segment(loaded, batch)
    assert torch.equal(first.logits, second.logits) and torch.equal(first.loss, second.loss)
