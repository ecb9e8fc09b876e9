"""Limits before allocation: sizes that cannot fit (a model's weights beyond the machine's memory, a SwiGLU width
that rounds to 0, a dataset beyond the free disk) are refused in one line with the estimate before anything is
allocated or written, and a checkpoint that a full disk interrupts leaves nothing half-written."""

import errno
import subprocess
import sys

import pytest
import torch

from hrm_hf import configuration_hrm
from hrm_hf.configuration_hrm import HrmActConfig
from hrm_hf.configuration_trm import TrmConfig
from hrm_hf.modeling_hrm import HrmActModel
from hrm_hf.modeling_trm import TrmModel
from hrm_hf.training import checkpoint
from hrm_hf.training.checkpoint import CheckpointWriteError, checkpoints_dir, list_checkpoints
from hrm_hf.training.loop import train
from tests.helpers import tiny_run_config


SMALL = dict(seq_len=16, vocab_size=6, num_puzzle_identifiers=3, hidden_size=64, num_heads=2)


@pytest.mark.parametrize(
    "model_class, config_class, fields",
    [
        (HrmActModel, HrmActConfig, {}),
        (HrmActModel, HrmActConfig, {"pos_encodings": "learned", "puzzle_emb_ndim": 100}),
        (HrmActModel, HrmActConfig, {"puzzle_emb_ndim": 0, "H_layers": 3}),
        (TrmModel, TrmConfig, {}),
        (TrmModel, TrmConfig, {"mlp_t": True, "pos_encodings": "none"}),
        (TrmModel, TrmConfig, {"pos_encodings": "learned", "puzzle_emb_len": 0}),
    ],
)
def test_parameter_count_is_what_the_model_holds(model_class, config_class, fields):
    config = config_class(**SMALL, **fields)
    with torch.device("meta"):
        model = model_class(config)
    assert config.parameter_count() == sum(tensor.numel() for tensor in model.state_dict().values())


@pytest.mark.parametrize(
    "fields", [{"hidden_size": 2**40, "num_heads": 2**30}, {"num_puzzle_identifiers": 10**13}, {"H_layers": 10**9}]
)
def test_sizes_beyond_the_machine_are_refused_with_the_estimate(fields):
    with pytest.raises(ValueError, match=r"float32 values \([\d,.]+ GiB\), more than this machine's [\d,.]+ GiB"):
        HrmActConfig(**{**SMALL, **fields})


def test_the_limit_is_the_machine_memory(monkeypatch):
    needed = 4 * HrmActConfig(**SMALL).parameter_count()
    monkeypatch.setattr(configuration_hrm, "physical_memory", lambda: needed - 1)
    with pytest.raises(ValueError, match="more than this machine's"):
        HrmActConfig(**SMALL)
    monkeypatch.setattr(configuration_hrm, "physical_memory", lambda: needed)
    HrmActConfig(**SMALL)
    monkeypatch.setattr(configuration_hrm, "physical_memory", lambda: None)  # a system that does not tell
    HrmActConfig(**{**SMALL, "hidden_size": 2**40, "num_heads": 2**30})


def test_a_swiglu_width_that_rounds_to_zero_is_refused():
    with pytest.raises(ValueError, match=r"`expansion` \(0.001\) gives the SwiGLU over hidden_size=64 an inner width"):
        HrmActConfig(**SMALL, expansion=0.001)
    with pytest.raises(ValueError, match="over puzzle_emb_len \\+ seq_len=32 an inner width of 0"):
        TrmConfig(**SMALL, expansion=0.02, mlp_t=True)
    TrmConfig(**SMALL, expansion=0.02)  # attention instead: only the hidden width's SwiGLU, which is wide enough


def hrm(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hrm_hf.scripts", *argv], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    "argv, words",
    [
        (["sudoku", "--generate=10", "--size=4", "--num-aug=100000000000"], "--num-aug 100000000000: about"),
        (["maze", "--generate=100000000000"], "--generate 100000000000: about 200,000,000,000 rows of 900 tokens"),
    ],
)
def test_build_dataset_beyond_the_free_disk_is_refused_before_any_row(tmp_path, argv, words):
    result = hrm("build-dataset", *argv, f"--output-dir={tmp_path / 'out'}")
    assert result.returncode != 0 and result.stderr.count("\n") == 1, result.stderr
    assert words in result.stderr and "GiB free where --output-dir" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "failure", [OSError(errno.ENOSPC, "No space left on device"), RuntimeError("file write failed")]
)
def test_a_full_disk_while_checkpointing_leaves_nothing_half_written(tiny_data, tmp_path, monkeypatch, failure):
    real_save = checkpoint.torch.save

    def full_disk_at_the_second(obj, path, *args, **kwargs):  # step 1's checkpoint is written, step 2's is not
        if ".tmp-step-2" in str(path):
            raise failure
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(checkpoint.torch, "save", full_disk_at_the_second)
    config = tiny_run_config(tiny_data, tmp_path, max_steps=3, checkpoint_every=1, keep_last=0)
    with pytest.raises(CheckpointWriteError, match=r"step-2 could not be written \(.*\); nothing of it is kept"):
        train(config)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-1"]
    assert not [p for p in checkpoints_dir(tmp_path).iterdir() if p.name.startswith(".")]
