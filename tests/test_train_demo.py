"""The quick CPU demo (`hrm demo --puzzles sudoku4`) reaches its goal: at least 90% exact accuracy on held-out 4x4
Sudoku, then shows one held-out puzzle segment by segment, in the terminal and as a GIF (slow: minutes on 2 cores).
The 9x9 showcase takes ten minutes, too long for the suite: `hrm bench demo` measures it."""

import pytest
from PIL import Image

from hrm_hf.scripts import demo


@pytest.mark.slow
def test_cpu_demo_reaches_90_percent_on_held_out_puzzles(tmp_path, capsys):
    demo.main(["--puzzles", "sudoku4", "--output-dir", str(tmp_path / "demo")])
    out = capsys.readouterr().out
    accuracy = float(out.split("Held-out exact accuracy ")[1].split("%")[0]) / 100
    assert accuracy >= 0.9, out[-2000:]
    assert "on 500 4x4 Sudoku (6 of 16 cells blank)" in out
    assert "puzzle" in out and "segment 1: " in out and "truth" in out and "segments (adaptive halting)" in out
    with Image.open(tmp_path / "demo" / demo.GIF_NAME) as gif:
        assert gif.n_frames == 4  # one frame per segment of the model's halt_max_steps


@pytest.mark.slow
def test_the_9x9_showcase_runs_end_to_end_on_its_preset(tmp_path, capsys, monkeypatch):
    """The default demo's whole path (its preset: bfloat16 and torch.compile where the machine allows) on a few
    puzzles and steps; its accuracy in ten minutes is `hrm bench demo`'s to measure."""
    few = demo.DemoPuzzles(size=9, clues=36, preset="cpu-demo-sudoku9", train=64, test=4)
    monkeypatch.setitem(demo.DEMOS, "sudoku9", few)
    demo.main(["--output-dir", str(tmp_path / "demo"), "--max-steps", "2"])
    out = capsys.readouterr().out
    assert "on 4 9x9 Sudoku (45 of 81 cells blank), after 2 steps" in out
    assert "segment 4: " in out and "/45 right" in out and "truth" in out
    with Image.open(tmp_path / "demo" / demo.GIF_NAME) as gif:
        assert gif.n_frames == 4 and gif.size[0] > gif.size[1]  # the puzzle beside each segment


def test_the_demo_trains_in_float32_and_eagerly_where_the_machine_lacks_bfloat16_or_a_compiler(monkeypatch):
    values = {"compile": True, "arch": {"name": "trm", "forward_dtype": "bfloat16"}}
    monkeypatch.setattr(demo, "cpu_has_native_bf16", lambda: False)
    monkeypatch.setattr(demo, "compiler_works", lambda: False)
    fitted, notes = demo.fit_to_machine(values)
    assert fitted == {"compile": False, "arch": {"name": "trm", "forward_dtype": "float32"}}
    assert values["arch"]["forward_dtype"] == "bfloat16"  # the preset's values are not changed in place
    assert len(notes) == 2 and "float32" in notes[0] and "eagerly" in notes[1]
    monkeypatch.setattr(demo, "cpu_has_native_bf16", lambda: True)
    monkeypatch.setattr(demo, "compiler_works", lambda: True)
    assert demo.fit_to_machine(values) == (values, [])


def test_the_demo_watches_a_puzzle_that_thinking_longer_fixed():
    import torch

    from hrm_hf.evaluation.halting import SegmentRollout

    labels = torch.tensor([[1, 2], [3, 4], [5, 6]])
    wrong = torch.tensor([[1, 2], [3, 9], [5, 9]])  # segment 1: row 0 already right, rows 1 and 2 not
    right = labels.clone()

    def rollout(halt_steps):
        return SegmentRollout(torch.stack([wrong, right]), None, None, torch.tensor(halt_steps))

    assert demo.puzzle_worth_watching(rollout([1, 2, 2]), labels) == (
        1, "the first held-out puzzle that the first segment did not finish")  # fmt: skip
    # Halting at segment 1 keeps rows 1 and 2 wrong: the first solved row, then the first row.
    assert demo.puzzle_worth_watching(rollout([1, 1, 1]), labels) == (0, "the first held-out puzzle it solves")
    assert demo.puzzle_worth_watching(rollout([1, 1, 1]), labels + 1) == (0, "the first held-out puzzle")
