"""The user's path: the wheel, a non-editable install in a fresh virtualenv, and the `hrm` command run from an empty
folder that holds the user's own `data/` and `scripts/` packages (names our sources use too)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parent.parent
TORCH_PIN = "torch==2.13.0"  # the CPU build; installed first so that pip pulls no CUDA packages


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
        cwd=out, env=dict(os.environ))  # fmt: skip
    (found,) = out.glob("hrm_hf-*.whl")
    return found


def test_the_wheel_holds_one_package_with_its_data(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"hrm_hf", wheel.name.split("-py3")[0] + ".dist-info"}
    for required in ("hrm_hf/modeling_hrm.py", "hrm_hf/configuration_hrm.py", "hrm_hf/tokenization_hrm.py", "hrm_hf/pipeline_hrm.py",
                     "hrm_hf/model_card.md", "hrm_hf/metrics/hrm_puzzle/hrm_puzzle.py",
                     "hrm_hf/metrics/arc_pass_at_k/arc_pass_at_k.py", "hrm_hf/training/presets/cpu-demo.yaml",
                     "hrm_hf/scripts/cli.py", "hrm_hf/data/__init__.py"):  # fmt: skip
        assert required in names, required
    assert not any(name.startswith("hrm_hf/tests/") for name in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("/entry_points.txt"))).decode()
    assert "hrm = hrm_hf.scripts.cli:main" in metadata
    license_files = [n for n in names if "/licenses/" in n]
    assert any(n.endswith("/LICENSE") for n in license_files) and any(n.endswith("/NOTICE") for n in license_files)


@pytest.mark.slow
def test_installed_hrm_runs_from_an_empty_folder(wheel, tmp_path):
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env |= {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": "."}
    run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=env)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    run([*pip, TORCH_PIN], cwd=tmp_path, env=env)
    run([*pip, str(wheel)], cwd=tmp_path, env=env)
    hrm = str(venv / "bin" / "hrm")

    # The user's folder: their own `data` and `scripts` packages, on sys.path through PYTHONPATH=".".
    user = tmp_path / "user"
    for package in ("data", "scripts", "training", "evaluation"):
        (user / package).mkdir(parents=True)
        (user / package / "__init__.py").write_text(f"raise ImportError('the user\\'s own {package} was imported')\n")
    figures = {}

    start = time.perf_counter()
    run([hrm, "--help"], cwd=user, env=env)
    figures["hrm --help s"] = time.perf_counter() - start
    run([hrm, "build-dataset", "sudoku", "--generate", "300", "--test-generate", "40", "--size", "4",
         "--min-clues", "10", "--max-clues", "10", "--output-dir", "outputs/sudoku4"], cwd=user, env=env)  # fmt: skip
    start = time.perf_counter()
    run([hrm, "train", "--preset", "cpu-demo", "--data-path", "outputs/sudoku4", "--output-dir", "outputs/run",
         "--max-steps", "30", "--eval-interval", "100", "--log-every", "10"], cwd=user, env=env)  # fmt: skip
    figures["train 30 steps s"] = time.perf_counter() - start
    model = user / "outputs" / "run" / "model"
    assert {"config.json", "model.safetensors", "modeling_hrm.py", "configuration_hrm.py", "README.md"} <= {
        p.name for p in model.iterdir()
    }
    run([hrm, "evaluate", "--model", "outputs/run/model", "--dataset", "outputs/sudoku4", "--limit", "20",
         "--output-dir", "outputs/eval"], cwd=user, env=env)  # fmt: skip
    report = json.loads((user / "outputs" / "eval" / "metrics.json").read_text())
    figures |= {f"evaluate {mode} exact": m["exact_accuracy"] for mode, m in report["results"].items()}
    # A 30-step model may answer wrongly: solve then says "not solved" and exits 1; either way it ran end to end.
    solved = subprocess.run([hrm, "solve", "--model", "outputs/run/model", "--sudoku", "341...4342.1.3.4"], cwd=user,
                            env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert solved.returncode in (0, 1) and "segments" in solved.stdout + solved.stderr, solved.stderr[-2000:]
    assert "Traceback" not in solved.stderr
    # The module form (what `accelerate launch -m` runs) with the user's folder first on sys.path.
    run([str(venv / "bin" / "python"), "-m", "hrm_hf.scripts", "train", "--help"], cwd=user, env=env)
    loaded = run([str(venv / "bin" / "python"), "-c",
                  "from transformers import AutoModel; m = AutoModel.from_pretrained('outputs/run/model', "
                  "trust_remote_code=True); print(type(m).__name__, m.config.seq_len, m.num_parameters())"],
                 cwd=user, env=env)  # fmt: skip
    assert loaded.stdout.split()[:2] == ["HrmActModel", "16"]
    print(" ".join(f"{k}={v:.3g}" for k, v in figures.items()))
