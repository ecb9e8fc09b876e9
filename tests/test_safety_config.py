"""Config and forward-input guards: unknown or misspelt config keys, non-finite sizes, carries from another model and
empty batches are a `ValueError` naming the field, never a silent default or an error inside torch."""

import json

import pytest

from hrm_hf.configuration_hrm import HrmActConfig
from hrm_hf.modeling_hrm import HrmActModel
from tests.helpers import random_batch, tiny_config


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"hiden_size": 64}, "unknown keys 'hiden_size' (did you mean 'hidden_size'?)"),
        ({"halt_max_step": 4, "colour": 1}, "unknown keys 'colour', 'halt_max_step' (did you mean 'halt_max_steps'?)"),
        ({"expansion": float("inf")}, "`expansion` must be positive and finite, got inf"),
        ({"rope_theta": float("nan")}, "`rope_theta` must be positive and finite, got nan"),
    ],
)
def test_bad_config_keys_and_values_are_named(overrides, message):
    with pytest.raises(ValueError) as error:
        tiny_config(**overrides)
    assert message in str(error.value)


def test_config_aliases_and_transformers_keys_are_accepted():
    config = tiny_config(num_attention_heads=2, torch_dtype="float32", output_attentions=False)
    assert config.num_heads == 2


def test_misspelt_key_in_config_json_is_named(tmp_path):
    tiny_config().save_pretrained(tmp_path)
    content = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**content, "halt_max_step": 8}))
    with pytest.raises(ValueError, match="'halt_max_step' \\(did you mean 'halt_max_steps'\\?\\)"):
        HrmActConfig.from_pretrained(tmp_path)


@pytest.mark.parametrize(
    "change", [{"hidden_size": 64, "num_heads": 4}, {"num_puzzle_identifiers": 5, "puzzle_emb_ndim": 0}]
)
def test_carry_from_another_model_is_rejected(change):
    config = tiny_config()
    carry = HrmActModel(tiny_config(**change)).eval()(**random_batch(config)).carry
    with pytest.raises(ValueError, match="`carry.z_H` has shape .* the carry comes from another model"):
        HrmActModel(config).eval()(**random_batch(config), carry=carry)


def test_empty_batch_is_rejected():
    config = tiny_config()
    batch = {name: value[:0] for name, value in random_batch(config).items()}
    with pytest.raises(ValueError, match="`input_ids` is an empty batch"):
        HrmActModel(config)(**batch)
