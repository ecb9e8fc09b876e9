"""The CPU demo reaches its goal: at least 90% exact accuracy on held-out 4x4 Sudoku (slow: minutes on 2 cores)."""

import pytest

from hrm_hf.scripts import demo


@pytest.mark.slow
def test_cpu_demo_reaches_90_percent_on_held_out_puzzles(tmp_path, capsys):
    demo.main(["--output-dir", str(tmp_path / "demo")])
    out = capsys.readouterr().out
    accuracy = float(out.split("Held-out exact accuracy ")[1].split("%")[0]) / 100
    assert accuracy >= 0.9, out[-2000:]
    assert "puzzle" in out and "truth" in out and "segments (adaptive halting)" in out
