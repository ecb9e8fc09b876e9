"""The model packaged with hrm-hf (`hrm_hf/pretrained/sudoku9`, what `hrm solve` and `hrm app` use when no --model is
given): small, loadable by the installed package alone, and accurate on 9x9 Sudoku generated fresh at every run (a new
seed each time, printed), scored by `hrm evaluate` as a user would."""

import json
import secrets

import pytest

from hrm_hf.evaluation.loading import PACKAGED_MODEL
from hrm_hf.scripts import build_dataset, evaluate_model, solve


def test_the_packaged_model_is_small_and_carries_its_card_and_recipe():
    sizes = {path.name: path.stat().st_size for path in PACKAGED_MODEL.iterdir()}
    assert sum(sizes.values()) <= 10 * 2**20, sizes
    assert {"config.json", "model.safetensors", "README.md", "train_config.yaml", "trained_on.json"} <= set(sizes)
    # A Hub-ready folder carries the model code for `trust_remote_code`: the package's own files, kept identical.
    code = sorted(path for path in PACKAGED_MODEL.iterdir() if path.suffix == ".py")
    assert [path.name for path in code] == [
        "configuration_hrm.py", "configuration_trm.py", "modeling_hrm.py", "modeling_trm.py", "pipeline_hrm.py",
        "tokenization_hrm.py",
    ]  # fmt: skip
    for path in code:
        assert path.read_bytes() == (PACKAGED_MODEL.parent.parent / path.name).read_bytes(), f"copy {path.name} anew"
    card = (PACKAGED_MODEL / "README.md").read_text()
    assert "hrm train --preset pretrained-sudoku9" in card


# blanks: the exact accuracy the model must reach on 200 fresh puzzles with that many of 81 cells blank, all 8 segments
# run (measured on 1,000 fresh puzzles each: 100.0%, 98.6%, 86.0%; the floors sit 4 standard errors of 200 puzzles below).
FLOORS = {35: 0.98, 45: 0.95, 51: 0.75}


@pytest.mark.parametrize("blanks", FLOORS)
def test_the_packaged_model_solves_sudoku_generated_now(tmp_path, capsys, blanks):
    seed = secrets.randbelow(2**31)
    clues = str(81 - blanks)
    build_dataset.main(["sudoku", "--generate", "1", "--test-generate", "200", "--min-clues", clues, "--seed", str(seed),
                        "--output-dir", str(tmp_path / "data")])  # fmt: skip
    evaluate_model.main(["--model", str(PACKAGED_MODEL), "--dataset", str(tmp_path / "data"), "--halting", "fixed",
                         "--output-dir", str(tmp_path / "eval")])  # fmt: skip
    report = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    (metrics,) = report["results"].values()
    with capsys.disabled():
        print(f"\npackaged model, {blanks} blanks, seed {seed}: exact {metrics['exact_accuracy']:.1%}")
    assert metrics["exact_accuracy"] >= FLOORS[blanks], f"seed {seed}: {metrics}"


def test_hrm_solve_without_a_model_uses_the_packaged_one(capsys):
    puzzle = ".3925.6484583..7121628473.5..39768....41.25.....53417....62.95762.7.84313974152.6"
    solve.main(["--sudoku", puzzle])
    grid, verdict = capsys.readouterr().out.rsplit("\n", 2)[:2]
    assert "".join(c for c in grid if c.isdigit()) == (
        "739251648458369712162847395513976824974182563286534179841623957625798431397415286"
    )
    assert verdict.startswith("segments: ")


def test_hrm_app_without_a_model_serves_the_packaged_one_with_its_puzzles():
    from hrm_hf.evaluation.loading import PACKAGED_PUZZLES
    from hrm_hf.scripts import app

    args = app.parse_args([])
    assert (args.model, args.dataset) == (str(PACKAGED_MODEL), str(PACKAGED_PUZZLES))
    assert app.parse_args(["--dataset", "user/puzzles"]).dataset == "user/puzzles"


def test_a_space_of_the_packaged_model_uses_the_package_it_installs(tmp_path, monkeypatch):
    import runpy

    from hrm_hf.app import page
    from hrm_hf.evaluation.loading import PACKAGED_PUZZLES
    from hrm_hf.scripts import app

    app.main(["--export", str(tmp_path / "space")])
    assert sorted(path.name for path in (tmp_path / "space").iterdir()) == ["README.md", "app.py", "requirements.txt"]
    served = []
    monkeypatch.setattr(page, "serve", lambda *args, **kwargs: served.append((args, kwargs)))
    runpy.run_path(str(tmp_path / "space" / "app.py"))
    assert served == [((str(PACKAGED_MODEL),), {"dataset": str(PACKAGED_PUZZLES), "host": None, "port": None})]
