"""Training configuration: presets and `--config` files as defaults, command-line overrides through
`HfArgumentParser`, and errors naming the field and value."""

import dataclasses
import re
import subprocess
import sys
from typing import ClassVar

import pytest
import yaml

from hrm_hf.configuration_hrm import HrmActConfig
from hrm_hf.data.metadata import PuzzleDatasetMetadata
from hrm_hf.modeling_hrm import HrmActModel
from hrm_hf.training.config import (
    ConfigError,
    RunConfig,
    TrainConfig,
    available_presets,
    load_preset,
    parse_config,
)
from hrm_hf.training.families import MODEL_FAMILIES, HrmArguments, ModelFamily
from hrm_hf.training.loop import build_model, create_accelerator


ARCH_FIELDS = [item.name for item in dataclasses.fields(HrmArguments)]


TRM_PRESETS = {"trm-sudoku-extreme-1k-mlp", "trm-sudoku-extreme-1k-att", "trm-maze-30x30-hard-1k", "trm-arc-1",
               "trm-arc-2"}  # fmt: skip
CPU_TRM_PRESETS = {"cpu-demo-sudoku9", "pretrained-sudoku9"}  # ours, not the authors': the demo and the packaged model


def test_every_preset_loads_with_its_architecture_in_an_arch_section():
    assert {"cpu-demo", "sudoku-extreme-1k", "maze-30x30-hard-1k", "arc-1", "arc-2"} <= set(available_presets())
    assert TRM_PRESETS <= set(available_presets())
    for name in available_presets():
        values = load_preset(name)
        assert values["arch"]["name"] == ("trm" if name in TRM_PRESETS | CPU_TRM_PRESETS else "hrm")
        fields = [item.name for item in dataclasses.fields(MODEL_FAMILIES[values["arch"]["name"]].arguments)]
        assert set(values["arch"]) - {"name"} <= set(fields) and not set(values) & set(fields)
        TrainConfig.from_dict(values)


def test_trm_recipes_are_the_authors():
    """TRM's README commands over its `cfg_pretrain.yaml` and `arch/trm.yaml`: EMA on, 3 x 6 cycles of two layers on
    Sudoku (the MLP variant without positions), 3 x 4 elsewhere."""
    for name in TRM_PRESETS:
        config = TrainConfig.from_dict(load_preset(name))
        assert (config.ema, config.ema_rate, config.global_batch_size, config.lr, config.lr_warmup_steps) == (
            True, 0.999, 768, 1e-4, 2000)  # fmt: skip
        arch = config.arch
        assert (arch.hidden_size, arch.L_layers, arch.H_cycles, arch.halt_max_steps, arch.forward_dtype) == (
            512, 2, 3, 16, "bfloat16")  # fmt: skip
        arc = name.startswith("trm-arc")
        assert (config.puzzle_emb_lr, config.weight_decay, config.epochs) == (
            (1e-2, 0.1, 100000) if arc else (1e-4, 1.0, 50000))  # fmt: skip
        assert arch.L_cycles == (6 if "sudoku" in name else 4)
        assert (arch.mlp_t, arch.pos_encodings) == ((True, "none") if name.endswith("-mlp") else (False, "rope"))


def test_a_saved_config_without_a_family_name_is_hrm(tmp_path):
    values = load_preset("cpu-demo")
    del values["arch"]["name"]
    assert TrainConfig.from_dict(values) == TrainConfig.from_dict(load_preset("cpu-demo"))


def test_the_run_and_the_model_config_are_separate_objects():
    config = TrainConfig.from_dict(load_preset("cpu-demo"))
    assert config.family is MODEL_FAMILIES["hrm"] and isinstance(config.arch, HrmArguments)
    model_config = config.model_config(vocab_size=7, seq_len=16, num_puzzle_identifiers=3, blank_puzzle_id=0)
    assert isinstance(model_config, HrmActConfig) and (model_config.vocab_size, model_config.hidden_size) == (7, 128)
    assert not {item.name for item in dataclasses.fields(RunConfig)} & set(ARCH_FIELDS)


def test_a_second_family_plugs_in_by_its_name(monkeypatch, tmp_path):
    """The loop builds whatever model the registry names; the family's fields are its command-line options."""

    @dataclasses.dataclass
    class OtherArguments(HrmArguments):
        name: ClassVar[str] = "other"

    class OtherModel(HrmActModel):
        pass

    monkeypatch.setitem(MODEL_FAMILIES, "other", ModelFamily(HrmActConfig, OtherModel, OtherArguments))
    (tmp_path / "other.yaml").write_text(yaml.safe_dump({"data_path": "x", "arch": {"name": "other", "num_heads": 2}}))
    config = parse_config(["--config", str(tmp_path / "other.yaml"), "--hidden-size", "32"])
    assert config.to_dict()["arch"] == {"name": "other", **dataclasses.asdict(OtherArguments(hidden_size=32,
                                                                                              num_heads=2))}  # fmt: skip
    data = PuzzleDatasetMetadata(vocab_size=6, seq_len=16, num_puzzle_identifiers=3, total_groups=1,
                                 mean_puzzle_examples=1.0)  # fmt: skip
    model = build_model(config, data)
    assert type(model) is OtherModel and (model.config.hidden_size, model.config.seq_len) == (32, 16)


def test_an_unknown_model_family_is_named():
    with pytest.raises(ConfigError, match=re.escape("`arch.name`: unknown model family 'hrn'; did you mean `hrm`?")):
        TrainConfig.from_dict({"data_path": "x", "arch": {"name": "hrn"}})


def test_authors_recipe_values():
    config = TrainConfig.from_dict(load_preset("arc-1"))
    assert (config.lr, config.puzzle_emb_lr, config.weight_decay, config.epochs) == (1e-4, 1e-2, 0.1, 100000)
    config = TrainConfig.from_dict(load_preset("sudoku-extreme-1k"))
    assert (config.global_batch_size, config.lr_warmup_steps, config.puzzle_emb_weight_decay) == (768, 2000, 1.0)
    assert (config.arch.hidden_size, config.arch.forward_dtype, config.arch.halt_max_steps) == (512, "bfloat16", 16)


def test_architecture_fields_are_hrm_act_configs_own():
    hrm_defaults = HrmActConfig()
    config = TrainConfig(data_path="x")
    for name in ARCH_FIELDS:
        if name != "puzzle_emb_ndim":  # HrmActConfig fills None in from hidden_size
            assert getattr(config.arch, name) == getattr(hrm_defaults, name), name


def test_command_line_overrides_the_config_file(tmp_path):
    preset = tmp_path / "mine.yaml"
    preset.write_text(yaml.safe_dump({"data_path": "somewhere", "max_steps": 9, "arch": {"hidden_size": 32,
                                                                                         "num_heads": 2}}))  # fmt: skip
    config = parse_config(["--config", str(preset), "--hidden-size", "64", "--ema", "--lr", "3e-4"])
    assert (config.arch.hidden_size, config.arch.num_heads, config.ema, config.max_steps, config.lr) == (
        64, 2, True, 9, 3e-4)  # fmt: skip
    assert parse_config(["--config", str(preset), "--ema", "--no-ema"]).ema is False
    assert parse_config(["--config", str(preset), "--report-to", "tensorboard", "wandb"]).report_to == [
        "tensorboard", "wandb"]  # fmt: skip
    config.save(tmp_path / "saved.yaml")
    saved = yaml.safe_load((tmp_path / "saved.yaml").read_text())
    assert saved["arch"]["hidden_size"] == 64 and saved["arch"]["name"] == "hrm" and "hidden_size" not in saved
    assert parse_config(["--config", str(tmp_path / "saved.yaml")]) == config


def test_the_trm_trainer_options_from_the_command_line(tmp_path):
    preset = tmp_path / "mine.yaml"
    preset.write_text(yaml.safe_dump({"data_path": "a", "arch": {"name": "trm", "hidden_size": 32, "num_heads": 2}}))
    config = parse_config(["--config", str(preset), "--extra-data-paths", "b", "c", "--test-data-paths", "d",
                           "--min-eval-interval", "2", "--freeze-weights", "--ema", "--ema-rate", "0.99"])  # fmt: skip
    assert (config.extra_data_paths, config.test_data_paths, config.min_eval_interval) == (["b", "c"], ["d"], 2)
    assert (config.freeze_weights, config.ema, config.ema_rate, config.arch.name) == (True, True, 0.99, "trm")
    config.save(tmp_path / "saved.yaml")
    assert parse_config(["--config", str(tmp_path / "saved.yaml")]) == config
    defaults = TrainConfig(data_path="x")
    assert (defaults.extra_data_paths, defaults.test_data_paths, defaults.min_eval_interval) == ([], [], 0)
    assert (defaults.freeze_weights, defaults.ema) == (False, False)


def test_a_preset_or_config_is_required():
    with pytest.raises(ConfigError, match="Give --preset"):
        parse_config(["--data-path", "x"])


def test_help_shows_every_field_with_its_default_and_choices(capsys):
    with pytest.raises(SystemExit):
        parse_config(["--preset", "cpu-demo", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in [*RunConfig.__dataclass_fields__, *ARCH_FIELDS, "preset", "config"]:
        assert f"--{name.replace('_', '-')}" in text, name
    assert "--no-ema" in text and "SignSGD" in text
    assert "Low-level steps per high-level step. (default: 2)" in text  # the family's field help, the preset's value
    assert "(default: 3000)" in text  # the preset's max_steps
    assert "{float32,bfloat16,float16}" in text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("lr", -1.0, "`lr` must be >= 0, got -1.0"),
        ("lr", float("inf"), "`lr` must be a finite number, got inf"),
        ("global_batch_size", 0, "`global_batch_size` must be positive, got 0"),
        ("report_to", ["mlflow"], "`report_to` must name trackers among"),
        ("beta2", 1.5, "`beta2` must lie in"),
        ("arch", {"hidden_size": "big"}, "`arch.hidden_size` must be of type int, got 'big'"),
        (
            "arch",
            {"forward_dtype": "bf16"},
            "`arch.forward_dtype` must be one of ('float32', 'bfloat16', 'float16'), got 'bf16'",
        ),
        ("arch", {"num_heads": 3}, "`hidden_size` (512) must be divisible by `num_heads` (3)"),
        ("colour", 3, "Unknown training config field `colour`"),
        ("min_eval_interval", -1, "`min_eval_interval` must be >= 0, got -1"),
        ("extra_data_paths", ["a", ""], "`extra_data_paths` must name dataset folders or Hub repo ids, got ['a', '']"),
        ("test_data_paths", "b", "`test_data_paths` must be of type list, got 'b'"),
        ("hiden_size", 64, "Unknown training config field `hiden_size`; did you mean `arch.hidden_size`"),
        (
            "arch",
            {"halt_max_step": 4},
            "Unknown architecture field `arch.halt_max_step`; did you mean `halt_max_steps`",
        ),
    ],
)
def test_bad_values_name_field_and_value(field, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        TrainConfig.from_dict({"data_path": "x", field: value})


def test_unknown_preset():
    with pytest.raises(ConfigError, match="Unknown preset 'nope'"):
        load_preset("nope")


def test_a_launcher_mixed_precision_is_refused(monkeypatch):
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "bf16")
    with pytest.raises(ConfigError, match="mixed precision 'bf16'.*--forward-dtype"):
        create_accelerator(TrainConfig(data_path="x"))


def test_a_tracker_that_is_not_installed_is_refused(monkeypatch):
    monkeypatch.setitem(sys.modules["hrm_hf.training.loop"].TRACKER_AVAILABLE, "wandb", lambda: False)
    with pytest.raises(ConfigError, match=r"tracker 'wandb' is not installed \(pip install 'hrm-hf\[wandb\]'\)"):
        create_accelerator(TrainConfig(data_path="x", report_to=["wandb"]))


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--preset", "cpu-demo", "--forward-dtype", "bf16"], 2, "invalid choice: 'bf16'"),
        (["--preset", "cpu-demo", "--lr", "nan"], 2, "error: Training config field `lr` must be a finite number"),
        (["--data-path", "x"], 2, "error: Give --preset"),
    ],
)
def test_the_command_fails_in_one_line_before_reading_data(args, code, message):
    done = subprocess.run(
        [sys.executable, "-m", "hrm_hf.scripts", "train", *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == code and message in done.stderr and "Traceback" not in done.stderr
