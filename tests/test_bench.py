"""`hrm bench <what>`: one sub-command for the developer benchmarks, and `hrm bench train` runs on every preset."""

import pytest

from hrm_hf.scripts import bench, cli
from hrm_hf.training.config import available_presets


def test_the_benchmarks_are_one_sub_command():
    assert "bench" in cli.SUB_COMMANDS and not [name for name in cli.SUB_COMMANDS if name.startswith("bench-")]
    assert set(bench.BENCHMARKS) == {"step", "train", "segment", "data", "sampler", "cli", "families", "demo"}


def test_bench_lists_the_benchmarks_and_refuses_an_unknown_one(capsys):
    cli.main(["bench", "--help"])
    listed = capsys.readouterr().out
    assert all(f"  {name} " in listed for name in bench.BENCHMARKS)
    with pytest.raises(SystemExit) as exited:
        cli.main(["bench", "segments"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: unknown benchmark 'segments'")


@pytest.mark.parametrize("preset", available_presets())
def test_bench_train_runs_on_every_preset(preset, capsys):
    # The preset's own architecture and epochs; a small batch of short random puzzles and one timed step.
    cli.main(["bench", "train", "--preset", preset, "--global-batch-size", "2", "--seq-len", "16", "--vocab-size",
              "6", "--num-puzzle-identifiers", "3", "--steps", "1", "--warmup-steps", "0", "--num-threads", "1"])  # fmt: skip
    assert "training examples/s" in capsys.readouterr().out


def test_bench_train_help_example_runs(capsys):
    # The first example of `hrm bench train --help`, with fewer steps.
    cli.main(["bench", "train", "--preset", "cpu-demo", "--seq-len", "16", "--vocab-size", "6", "--steps", "2"])
    assert "global batch 64, seq_len 16" in capsys.readouterr().out


def test_the_demo_calibration_recipes_are_each_one_change_of_the_demo_preset(tmp_path):
    from hrm_hf.scripts.bench_demo import PRESET, RECIPES, recipe_run
    from hrm_hf.training.config import TrainConfig, load_preset

    configs = {name: TrainConfig.from_dict(recipe_run(name, tmp_path, 1, 0)) for name in RECIPES}
    preset = TrainConfig.from_dict(load_preset(PRESET) | {"output_dir": str(tmp_path / "preset"),
                                                          "overwrite_output_dir": True, "num_threads": 1, "cpu": True})  # fmt: skip
    assert configs["preset"] == preset
    assert (configs["fp32"].arch.forward_dtype, configs["fp32"].compile) == ("float32", False)
    assert preset.arch.forward_dtype == "bfloat16" and preset.compile
    assert configs["lr1e-3"].lr == 1e-3 != preset.lr
    assert type(configs["hrm"].arch).__name__ == "HrmArguments" and type(preset.arch).__name__ == "TrmArguments"
