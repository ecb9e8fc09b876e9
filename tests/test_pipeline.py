"""The puzzle pipeline every saved model folder registers: text in, the solution in the same form out, through
`pipeline(model=..., trust_remote_code=True)` with no task, in this process and in one without the project."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig

import numpy as np
import pytest
import torch
from transformers import pipeline

from hrm_hf.evaluation.model_folder import save_model_files
from hrm_hf.hub import push_folder
from hrm_hf.pipeline_hrm import PIPELINE_TASK
from hrm_hf.tokenization_hrm import puzzle_type
from tests.helpers import MAZE, SUDOKU, tiny_model


SUDOKU_4X4 = ".12.2.1.13..42.."
ARC_GRID = [[0, 1, 2], [3, 4, 5]]
PUZZLES = {
    "sudoku": (dict(seq_len=16, vocab_size=6), SUDOKU_4X4),
    "maze": (dict(seq_len=900, vocab_size=6), MAZE),
    "arc": (dict(seq_len=900, vocab_size=12), ARC_GRID),
}


def saved_model(folder, **kwargs):
    model = tiny_model(**{"num_puzzle_identifiers": 3, "halt_max_steps": 4, **kwargs})
    save_model_files(model, folder)
    return model


def expected(model, task, puzzle, puzzle_identifier=0, **solve_kwargs) -> dict:
    """What the pipeline must return: the codec around `model.solve`, computed here independently."""
    kind = puzzle_type(task)
    tokens = torch.as_tensor(kind.encode(puzzle, model.config.seq_len))[None]
    out = model.solve(tokens, torch.tensor([puzzle_identifier], dtype=torch.int32), **solve_kwargs)
    solution = kind.decode(out.predictions[0].numpy())
    return {
        "solution": np.asarray(solution).tolist() if isinstance(solution, np.ndarray) else solution,
        "segments": int(out.steps[0]),
        "halt_confidence": float(out.halt_confidence[0]),
    }


def assert_same(result: dict, wanted: dict) -> None:
    assert result["solution"] == wanted["solution"] and result["segments"] == wanted["segments"]
    assert result["halt_confidence"] == pytest.approx(wanted["halt_confidence"], abs=1e-6)


def test_saved_folder_registers_the_pipeline(tmp_path):
    saved_model(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["custom_pipelines"] == {
        PIPELINE_TASK: {"impl": "pipeline_hrm.HrmPuzzlePipeline", "pt": ["AutoModel"]}
    }
    for name in ("pipeline_hrm.py", "tokenization_hrm.py", "modeling_hrm.py", "configuration_hrm.py"):
        assert (tmp_path / name).is_file(), name


@pytest.mark.parametrize("task", sorted(PUZZLES))
def test_pipeline_solves_text_as_model_solve_does(tmp_path, task):
    shape, puzzle = PUZZLES[task]
    model = saved_model(tmp_path, **shape)
    solver = pipeline(model=str(tmp_path), trust_remote_code=True)
    assert type(solver).__name__ == "HrmPuzzlePipeline" and solver.task == PIPELINE_TASK
    assert_same(solver(puzzle), expected(model, task, puzzle))
    fixed = solver(puzzle, halting="fixed", puzzle_identifier=2)
    assert_same(fixed, expected(model, task, puzzle, 2, halting="fixed"))
    assert fixed["segments"] == 4
    assert solver(puzzle, halting="fixed", max_steps=2)["segments"] == 2


def test_adaptive_and_fixed_halting_differ_and_lists_give_lists(tmp_path):
    model = saved_model(tmp_path, seq_len=81, vocab_size=11, halt_bias=10.0)  # the Q head says halt at once
    solver = pipeline(model=str(tmp_path), trust_remote_code=True)
    puzzles = [SUDOKU, SUDOKU.replace(".", "0"), SUDOKU[::-1]]  # the last: turned 180 degrees, still a Sudoku
    adaptive = solver(puzzles)
    for result, puzzle in zip(adaptive, puzzles, strict=True):
        assert_same(result, expected(model, "sudoku", puzzle))
    assert [r["segments"] for r in adaptive] == [1, 1, 1]
    assert all(r["segments"] == 4 for r in solver(puzzles, halting="fixed"))


def test_arc_grid_or_array_is_one_puzzle_and_a_list_of_grids_a_batch(tmp_path):
    model = saved_model(tmp_path, seq_len=900, vocab_size=12)
    solver = pipeline(model=str(tmp_path), trust_remote_code=True)
    grids = [ARC_GRID, [[7]]]
    assert_same(solver(np.array(ARC_GRID), puzzle_identifier=1), expected(model, "arc", ARC_GRID, 1))
    results = solver(grids, puzzle_identifier=1)
    assert len(results) == 2
    for result, grid in zip(results, grids, strict=True):
        assert_same(result, expected(model, "arc", grid, 1))


@pytest.mark.parametrize(
    ("puzzle", "kwargs", "message"),
    [
        ("123", {}, r"^sudoku must have 16 cells, got 3 in '123'\.$"),
        ("x" * 16, {}, r"^sudoku may hold only"),
        (SUDOKU_4X4, {"puzzle_identifier": 3}, r"^puzzle_identifier must lie in \[0, 3\), got 3\.$"),
        (SUDOKU_4X4, {"halting": "sometimes"}, r"^halting must be one of \('adaptive', 'fixed'\), got 'sometimes'\.$"),
        (ARC_GRID, {}, r"^sudoku must be given as a string, got list\.$"),
    ],
)
def test_bad_input_is_one_line_value_error(tmp_path, puzzle, kwargs, message):
    saved_model(tmp_path, seq_len=16, vocab_size=6)
    solver = pipeline(model=str(tmp_path), trust_remote_code=True)
    with pytest.raises(ValueError, match=message):
        solver(puzzle, **kwargs)


def clean_process_code(model: str) -> str:
    """Python run with `-S` (no site: the editable install's finder never loads) and only the environment's
    site-packages on `sys.path`; it proves `hrm_hf` is not importable, then solves the 4x4 Sudoku."""
    site_packages = sysconfig.get_paths()["purelib"]
    return (
        f"import sys; sys.path.append({site_packages!r}); import importlib.util, json\n"
        "assert importlib.util.find_spec('hrm_hf') is None and importlib.util.find_spec('tests') is None\n"
        "from transformers import pipeline\n"
        f"result = pipeline(model={model!r}, trust_remote_code=True)({SUDOKU_4X4!r})\n"
        "print(json.dumps(result))\n"
    )


def run_clean(code: str, cwd, env: dict) -> dict:
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "OMP_NUM_THREADS": "1", **env}
    result = subprocess.run(
        [sys.executable, "-S", "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_pipeline_runs_with_only_transformers(tmp_path):
    model = saved_model(tmp_path / "saved", seq_len=16, vocab_size=6)
    folder = shutil.copytree(tmp_path / "saved", tmp_path / "copied" / "hrm-sudoku")
    (tmp_path / "cwd").mkdir()
    result = run_clean(clean_process_code(str(folder)), tmp_path / "cwd", {"HF_HOME": str(tmp_path / "hf_home")})
    assert_same(result, expected(model, "sudoku", SUDOKU_4X4))


def test_pipeline_from_the_hub_by_repo_id(local_hub, tmp_path):
    model = saved_model(tmp_path / "model", seq_len=16, vocab_size=6)
    push_folder(tmp_path / "model", "tester/hrm-pipeline")
    (tmp_path / "cwd").mkdir()
    result = run_clean(clean_process_code("tester/hrm-pipeline"), tmp_path / "cwd", local_hub.env)
    assert_same(result, expected(model, "sudoku", SUDOKU_4X4))
