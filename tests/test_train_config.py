"""Training configuration: presets, command-line overrides and errors naming the field and value."""

import pytest
import yaml

from hrm_hf.training.config import TrainConfig, available_presets, build_parser, load_preset, parse_config


def test_every_preset_loads():
    assert {"cpu-demo", "sudoku-extreme-1k", "maze-30x30-hard-1k", "arc-1", "arc-2"} <= set(available_presets())
    for name in available_presets():
        TrainConfig.from_dict(load_preset(name))


def test_authors_recipe_values():
    config = TrainConfig.from_dict(load_preset("arc-1"))
    assert (config.lr, config.puzzle_emb_lr, config.weight_decay, config.epochs) == (1e-4, 1e-2, 0.1, 100000)
    config = TrainConfig.from_dict(load_preset("sudoku-extreme-1k"))
    assert (config.global_batch_size, config.lr_warmup_steps, config.puzzle_emb_weight_decay) == (768, 2000, 1.0)


def test_command_line_overrides_any_field(tmp_path):
    preset = tmp_path / "mine.yaml"
    preset.write_text(yaml.safe_dump({"data_path": "somewhere", "hidden_size": 32, "num_heads": 2}))
    config = parse_config(
        ["--preset", str(preset), "--hidden-size", "64", "--ema", "true", "--max-steps", "none", "--lr", "3e-4"]
    )
    assert (config.hidden_size, config.num_heads, config.ema, config.max_steps, config.lr) == (64, 2, True, None, 3e-4)
    config.save(tmp_path / "saved.yaml")
    assert TrainConfig.from_dict(yaml.safe_load((tmp_path / "saved.yaml").read_text())) == config


def test_help_documents_every_field():
    text = build_parser().format_help()
    for flag in ("--puzzle-emb-lr", "--resume-from-checkpoint", "--keep-last", "--report-to", "--ema-rate"):
        assert flag in text
    assert "SignSGD" in text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("lr", -1.0, "`lr` must be >= 0, got -1.0"),
        ("global_batch_size", 0, "`global_batch_size` must be positive, got 0"),
        ("report_to", "mlflow", "`report_to` must be one of"),
        ("beta2", 1.5, "`beta2` must lie in"),
        ("hidden_size", "big", "`hidden_size` must be of type int, got 'big'"),
        ("colour", 3, "Unknown training config field"),
    ],
)
def test_bad_values_name_field_and_value(field, value, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        TrainConfig.from_dict({"data_path": "x", field: value})


def test_unknown_preset():
    with pytest.raises(ValueError, match="Unknown preset 'nope'"):
        load_preset("nope")
