"""`hrm` ends every failure as one `error:` line on stderr with the documented exit code, whatever type of exception a
library raised from a bad file; `HRM_DEBUG=1` shows the traceback, `HRM_DEBUG=0` does not; Ctrl-C stays Python's.
Inline puzzles are text, never file names, and error lines quote only a short excerpt of them."""

import json
import os
import subprocess
import sys

import pytest

from hrm_hf.errors import MAX_ERROR_CHARS
from hrm_hf.scripts import cli
from hrm_hf.training.config import ConfigError
from hrm_hf.training.loop import PushFailedError


def failing(error: BaseException):
    def main(argv):
        raise error

    return main


def run_hrm(argv: list[str], capsys) -> tuple[int, str]:
    """(exit code, stderr) of `hrm argv` in this process."""
    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    return stop.value.code, capsys.readouterr().err


@pytest.fixture(autouse=True)
def no_debug(monkeypatch):
    monkeypatch.delenv("HRM_DEBUG", raising=False)
    monkeypatch.setattr(sys, "argv", sys.argv)  # `hrm` sets it for argparse


@pytest.mark.parametrize(
    "error, expected",
    [
        (KeyError("splits"), "error: KeyError: 'splits' (unexpected; HRM_DEBUG=1 shows where it was raised)"),
        (TypeError("'int' object is not subscriptable"), "error: TypeError: 'int' object is not subscriptable"),
        (IndexError("list index out of range"), "error: IndexError: list index out of range"),
        (RuntimeError("size mismatch\n  for a: [2]\n  for b: [3]"), "error: RuntimeError: size mismatch for a: [2]"),
        (ValueError("--lr: must be positive, got -1"), "error: --lr: must be positive, got -1"),
        (FileNotFoundError("--model: no such file or folder 'x'."), "error: --model: no such file or folder 'x'."),
    ],
)
def test_any_exception_is_one_line_with_exit_code_1(error, expected, monkeypatch, capsys):
    monkeypatch.setattr("hrm_hf.scripts.show.main", failing(error))
    code, err = run_hrm(["show"], capsys)
    assert code == 1
    assert err.count("\n") == 1 and err.startswith(expected) and "Traceback" not in err


def test_exit_codes_follow_the_error(monkeypatch, capsys):
    for error, expected in ((ConfigError("Training config field `lr`: bad"), 2), (PushFailedError("push"), 3)):
        monkeypatch.setattr("hrm_hf.scripts.show.main", failing(error))
        assert run_hrm(["show"], capsys)[0] == expected


def test_a_long_message_is_cut(monkeypatch, capsys):
    monkeypatch.setattr("hrm_hf.scripts.show.main", failing(RuntimeError("x" * 5000)))
    err = run_hrm(["show"], capsys)[1]
    assert len(err) <= MAX_ERROR_CHARS + len("error: \n") and err.endswith("...\n")


@pytest.mark.parametrize("value, traceback", [("1", True), ("0", False), ("", False), ("off", False)])
def test_hrm_debug_shows_the_traceback_only_when_on(value, traceback, monkeypatch, capsys):
    monkeypatch.setenv("HRM_DEBUG", value)
    monkeypatch.setattr("hrm_hf.scripts.show.main", failing(KeyError("splits")))
    if traceback:
        with pytest.raises(KeyError):
            cli.main(["show"])
    else:
        assert run_hrm(["show"], capsys)[0] == 1


def test_ctrl_c_is_left_to_python(monkeypatch):
    monkeypatch.setattr("hrm_hf.scripts.show.main", failing(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        cli.main(["show"])


def test_a_real_process_prints_one_line(tmp_path):
    """In a fresh process, as a user runs it: a library exception from a bad file is one line, exit code 1."""
    code = "from hrm_hf.scripts import cli, show; show.main = lambda argv: {}['splits']; cli.main(['show'])"
    env = {k: v for k, v in os.environ.items() if k != "HRM_DEBUG"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 1 and done.stderr.splitlines() == [
        "error: KeyError: 'splits' (unexpected; HRM_DEBUG=1 shows where it was raised)"
    ]
    debug = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**env, "HRM_DEBUG": "1"}, timeout=300
    )
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr


# --- hrm solve: text is text ----------------------------------------------------------------------------------------


def test_an_inline_arc_grid_is_a_puzzle_not_a_file_name(monkeypatch, tmp_path):
    from hrm_hf.scripts.solve import parse_args, read_puzzle

    grid = [[(r + c) % 10 for c in range(10)] for r in range(10)]
    kind, puzzle = read_puzzle(parse_args(["--model", "m", "--arc", json.dumps(grid)]))
    assert kind.name == "arc" and puzzle == grid
    long_grid = json.dumps([[0] * 30] * 30)  # longer than any file name the system takes
    assert read_puzzle(parse_args(["--model", "m", "--arc", long_grid]))[1] == [[0] * 30] * 30
    path = tmp_path / "grid.json"
    path.write_text(json.dumps(grid))
    assert read_puzzle(parse_args(["--model", "m", "--arc", str(path)]))[1] == grid


@pytest.mark.parametrize(
    "option, text",
    [
        ("--arc", "[[1, 2], [3" + ", 4" * 400),  # malformed JSON
        ("--maze", "x" * 5000),  # one line: no maze
    ],
)
def test_error_lines_quote_a_short_excerpt(option, text):
    from hrm_hf.scripts.solve import main

    with pytest.raises(SystemExit) as stop:
        main(["--model", "m", option, text])
    message = str(stop.value.code)
    assert message.startswith("error: ") and "..." in message and len(message) < 250


@pytest.mark.parametrize("kind, puzzle", [("sudoku", "1" * 5000), ("arc", [[0, 1, 2]] + [[0, 1]] * 2000)])
def test_codec_errors_quote_a_short_excerpt(kind, puzzle):
    from hrm_hf.tokenization_hrm import PuzzleInputError, puzzle_type

    with pytest.raises(PuzzleInputError) as caught:
        puzzle_type(kind).encode(puzzle, 81)
    assert "..." in str(caught.value) and len(str(caught.value)) < 250


def test_a_bad_file_is_one_line_whatever_the_library_raises(tiny_data, tmp_path, capsys):
    """A model folder whose card inputs are a JSON list, not an object: whatever reads it fails, `hrm evaluate`
    ends in one line with exit code 1."""
    from tests.helpers import tiny_model_folder

    model = tiny_model_folder(tmp_path / "model")
    (model / "card_inputs.json").write_text("[]")
    flags = ["--model", str(model), "--dataset", str(tiny_data), "--output-dir", str(tmp_path / "eval")]
    code, err = run_hrm(["evaluate", *flags, "--halting", "fixed", "--limit", "2", "--update-card"], capsys)
    last = err.splitlines()[-1]  # after the progress bars
    assert code == 1 and last.startswith("error: ")
    assert "Traceback" not in err and sum("error" in line.lower() for line in err.splitlines()) == 1
