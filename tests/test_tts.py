"""Test-time scaling: augmentation voting (`--tta`, `--select`), more segments than training used, ensembles, the
curve and its `.eval_results` files. Tiny random models do not solve puzzles; the machinery is what is tested here
(the transforms and their inverses are tested for every puzzle type in test_data_encoding.py)."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml
from accelerate import Accelerator
from huggingface_hub import parse_eval_result_entries
from PIL import Image
from transformers import pipeline

from hrm_hf.data.arc import parse_identifier
from hrm_hf.data.storage import load_puzzle_dataset
from hrm_hf.evaluation.card import protocol_text, write_eval_results, write_model_card
from hrm_hf.evaluation.evaluator import evaluate_split, solve_rows
from hrm_hf.evaluation.halting import SolvedRow
from hrm_hf.evaluation.model_folder import save_model_files
from hrm_hf.evaluation.scoring import arc_scores, dataset_arrays, puzzle_metrics
from hrm_hf.evaluation.voting import augmented_arrays
from hrm_hf.pipeline_hrm import augmented, check_tta, rank_answers, select_answer
from hrm_hf.scripts import evaluate_model as evaluate_script
from hrm_hf.tokenization_hrm import ARC, SUDOKU, SudokuShuffle, arc_canvas, sudoku_tokens
from tests.helpers import FIXTURES, MAZE, build_arc_fixture, build_tiny_data, tiny_model


SOLVED_4X4 = ("1234341221434321", "12.434.22143.321")  # a solution, and its puzzle with 3 blanks


@pytest.fixture(scope="module")
def sudoku(tmp_path_factory):
    """The tiny 4x4 Sudoku dataset (16 held-out puzzles), its test split and a model folder for it."""
    root = tmp_path_factory.mktemp("tts")
    build_tiny_data(root / "data")
    model = tiny_model(seq_len=16, vocab_size=6, num_puzzle_identifiers=1, halt_max_steps=3)
    model.save_pretrained(root / "model")
    split, metadata = load_puzzle_dataset(root / "data", split="test")
    return root, model, split, metadata


def tokens(text: str) -> np.ndarray:
    """Tokens of Sudoku cells, rule-breaking ones included (`encode` refuses those)."""
    return sudoku_tokens(np.frombuffer(text.encode(), dtype=np.uint8)).astype(np.int64)


# ---------------------------------------------------------------- voting arithmetic


def test_votes_then_mean_confidence_rank_the_answers():
    a, b, c = np.array([1, 2]), np.array([2, 1]), np.array([3, 3])
    ranked = rank_answers([a, b, a, c, b, a], [0.1, 0.9, 0.2, 1.0, 0.8, 0.3])
    assert [r.tolist() for r in ranked.answers] == [[1, 2], [2, 1], [3, 3]]
    assert ranked.votes == [3, 2, 1] and ranked.members == [[0, 2, 5], [1, 4], [3]]
    assert ranked.confidences == pytest.approx([0.2, 0.85, 1.0])
    tie = rank_answers([a, b, b, a], [0.2, 0.6, 0.6, 0.4])  # 2 votes each: the higher mean confidence wins
    assert tie.answers[0].tolist() == [2, 1] and tie.confidences == pytest.approx([0.6, 0.3])


def test_rules_selection_drops_an_answer_that_breaks_the_rules():
    right = tokens(SOLVED_4X4[0])
    broken = tokens("1234341221434312")  # the last two cells swapped: a column repeats a digit
    moved_given = tokens("2134341221434321")  # breaks a given of the puzzle (and a column)
    puzzle = tokens(SOLVED_4X4[1])
    answers, confidences = [broken, broken, moved_given, right], [0.9, 0.9, 0.9, 0.1]
    best, _ = select_answer(SUDOKU, puzzle, answers, confidences, "vote")
    assert best == 0  # the most votes
    best, ranked = select_answer(SUDOKU, puzzle, answers, confidences, "rules")
    assert best == 3 and ranked.votes == [1, 2, 1] and ranked.members == [[3], [0, 1], [2]]  # the winner first
    best, ranked = select_answer(SUDOKU, puzzle, [broken, moved_given], [0.2, 0.9], "rules")
    assert best == 1 and ranked.votes == [1, 1]  # every answer breaks the rules: all vote, as with `vote`
    with pytest.raises(ValueError, match="select must be one of"):
        select_answer(SUDOKU, puzzle, answers, confidences, "best")


def test_a_shuffle_is_undone_on_any_prediction():
    """Predictions hold any token of the vocabulary (PAD, blank), not only valid digits: the inverse still undoes."""
    rng = np.random.default_rng(0)
    for shuffle in SudokuShuffle.random(rng, 8, side=4).split():
        prediction = rng.integers(0, 6, 16)
        assert (SUDOKU.unaugment(SUDOKU.augment(prediction, shuffle), shuffle) == prediction).all()


# ---------------------------------------------------------------- evaluation


def test_one_transform_is_the_plain_evaluation_bit_for_bit(sudoku):
    _, model, split, metadata = sudoku
    accelerator = Accelerator(cpu=True)
    arrays = dataset_arrays(split, metadata)
    for halting in ("fixed", "adaptive"):
        plain = solve_rows(model, arrays, accelerator, 5, halting)
        for select in ("vote", "rules"):
            result = evaluate_split(model, split, metadata, accelerator, halting=halting, batch_size=5, select=select)
            assert result.metrics == puzzle_metrics(plain, arrays["labels"])
            assert [r.steps for r in result.solved] == [r.steps for r in plain]
            assert [r.q_halt_logit for r in result.solved] == [r.q_halt_logit for r in plain]
            assert torch.equal(
                torch.stack([r.predictions for r in result.solved]), torch.stack([r.predictions for r in plain])
            )
            assert result.protocol == {"halting": halting, "max_segments": 3, "tta": 1, "models": 1, "select": select}


def test_transformed_copies_are_solved_mapped_back_and_voted(sudoku, monkeypatch):
    """K copies per row cost K times the segments; a model that answers every copy with its own label (mapped to
    the copy) is right under every transform, so the vote is right too."""
    _, model, split, metadata = sudoku
    arrays = dataset_arrays(split, metadata)
    inputs, transforms = augmented_arrays(arrays, SUDOKU, 4, seed=7)  # what the evaluation will solve
    labels = [
        augmented(SUDOKU, label, transform)
        for label, row_transforms in zip(arrays["labels"], transforms, strict=True)
        for transform in row_transforms
    ]
    answers = {
        row.astype(np.int64).tobytes(): label.astype(np.int64)
        for row, label in zip(inputs["input_ids"], labels, strict=True)
    }
    assert len(answers) > len(arrays["labels"])  # the copies differ from their puzzle
    run_segment = model.run_segment

    def oracle(z_H, z_L, data):
        z_H, z_L, logits, q_halt, q_continue = run_segment(z_H, z_L, data)
        rows = [answers.get(row.numpy().astype(np.int64).tobytes()) for row in data["input_ids"]]
        assert all(row is not None for row in rows), "a copy that is no shuffle of a dataset row"
        return z_H, z_L, torch.nn.functional.one_hot(torch.as_tensor(np.stack(rows)), 6).float(), q_halt, q_continue

    monkeypatch.setattr(model, "run_segment", oracle)
    result = evaluate_split(model, split, metadata, Accelerator(cpu=True), halting="fixed", tta=4, seed=7)
    assert result.metrics["exact_accuracy"] == 1.0 and result.metrics["mean_steps"] == 4 * 3
    assert result.protocol["tta"] == 4


def test_more_segments_than_training_used(sudoku):
    """`max_steps` beyond `halt_max_steps`: the carry runs on, with fixed and with adaptive halting."""
    _, model, split, metadata = sudoku
    accelerator = Accelerator(cpu=True)
    fixed = evaluate_split(model, split, metadata, accelerator, halting="fixed", max_steps=7)
    assert fixed.metrics["mean_steps"] == 7 and fixed.protocol["max_segments"] == 7
    expected = model.solve(torch.as_tensor(fixed.arrays["input_ids"]).long(), halting="fixed", max_steps=7)
    assert torch.equal(torch.stack([r.predictions for r in fixed.solved]), expected.predictions)
    adaptive = evaluate_split(model, split, metadata, accelerator, halting="adaptive", max_steps=7)
    expected = model.solve(torch.as_tensor(adaptive.arrays["input_ids"]).long(), halting="adaptive", max_steps=7)
    assert [r.steps for r in adaptive.solved] == expected.steps.tolist()


def test_an_ensemble_votes_across_its_models(sudoku):
    _, model, split, metadata = sudoku
    other = tiny_model(seq_len=16, vocab_size=6, num_puzzle_identifiers=1, halt_max_steps=3, seed=1)
    accelerator = Accelerator(cpu=True)
    alone = [evaluate_split(m, split, metadata, accelerator, halting="fixed") for m in (model, other)]
    both = evaluate_split([model, other], split, metadata, accelerator, halting="fixed")
    assert both.protocol["models"] == 2 and both.metrics["mean_steps"] == 2 * 3
    for row, first, second in zip(both.solved, alone[0].solved, alone[1].solved, strict=True):
        assert any(torch.equal(row.predictions, one.predictions) for one in (first, second))
        if torch.equal(first.predictions, second.predictions):  # agreeing models: their answer, their mean logit
            assert row.q_halt_logit == pytest.approx((first.q_halt_logit + second.q_halt_logit) / 2)
        else:  # one vote each: the more confident model's
            winner = first if first.halt_confidence >= second.halt_confidence else second
            assert torch.equal(row.predictions, winner.predictions)
    twice = evaluate_split([model, model], split, metadata, accelerator, halting="fixed")
    assert twice.metrics["exact_accuracy"] == alone[0].metrics["exact_accuracy"]


def test_arc_takes_no_transforms_beyond_its_dataset():
    check_tta(ARC, 1)
    with pytest.raises(ValueError, match="tta must be 1 for arc"):
        check_tta(ARC, 8)
    with pytest.raises(ValueError, match="at least 1, got 0"):
        check_tta(SUDOKU, 0)


# ---------------------------------------------------------------- the command, the curve, the Hub files, the card


def test_the_curve_table_picture_and_card(sudoku, tmp_path, capsys):
    root, *_ = sudoku
    write_model_card(root / "model", dataset="user/sudoku-train", command="hrm train")
    report = evaluate_script.main([
        "--model", str(root / "model"), "--dataset", str(root / "data"), "--output-dir", str(tmp_path),
        "--halting", "fixed", "--tta", "1", "2", "4", "--select", "vote", "rules", "--update-card",
    ])  # fmt: skip
    out = capsys.readouterr().out
    assert json.loads((tmp_path / "metrics.json").read_text()) == report
    assert list(report["results"]) == ["fixed"]  # the plain evaluation keeps its table
    points = report["scaling"]
    assert [(p["protocol"]["tta"], p["protocol"]["select"]) for p in points] == [
        (k, s) for k in (1, 2, 4) for s in ("vote", "rules")
    ]
    assert [p["mean_steps"] for p in points] == [3, 3, 6, 6, 12, 12]
    assert all(p["seconds"] > 0 and p["label"] == protocol_text(p["protocol"]) for p in points)
    assert "test-time scaling:" in out and f"Wrote {tmp_path / 'tts_curve.png'}" in out
    with Image.open(tmp_path / "tts_curve.png") as picture:
        assert picture.format == "PNG" and picture.size[0] > 300
    card = (root / "model" / "README.md").read_text()
    assert "### Test-time scaling" in card and "](examples/tts_curve.png)" in card
    assert "| fixed | 3 | 4 | rules | 1 |" in card
    assert (root / "model" / "examples" / "tts_curve.png").is_file()
    assert "_adaptive" not in card  # no adaptive figure measured: nothing to explain
    assert not (root / "model" / ".eval_results").exists()  # a local dataset has no Hub id to link


def test_eval_results_files_parse_and_name_their_protocol(tmp_path):
    protocol = {"halting": "fixed", "max_segments": 16, "tta": 8, "select": "rules", "models": 2}
    points = [{"exact_accuracy": 0.75, "mean_steps": 256.0, "protocol": protocol}]
    (path,) = write_eval_results(tmp_path, points, "user/sudoku-extreme", "test", "user/hrm-sudoku")
    assert path.parent.name == ".eval_results" and path.suffix == ".yaml"
    data = yaml.safe_load(path.read_text())
    (entry,) = parse_eval_result_entries(data)
    assert (entry.dataset_id, entry.task_id, entry.value) == ("user/sudoku-extreme", "test", 0.75)
    assert entry.source_url == "https://huggingface.co/user/hrm-sudoku" and entry.date
    assert entry.notes == "exact_accuracy; fixed halting, 16 segments, K=8 transforms, rules selection, 2 models"
    assert write_eval_results(tmp_path, points, "./local/data", "test") == []


def test_card_of_a_hub_dataset_gets_eval_results_of_its_plain_figures(tmp_path):
    folder = tmp_path / "hrm-tiny"
    save_model_files(tiny_model(seq_len=16, vocab_size=6, halt_max_steps=3), folder)
    write_model_card(
        folder, metrics={"exact_accuracy": 0.5, "exact_accuracy_adaptive": 0.25}, eval_dataset="user/sudoku",
        eval_split="test", repo_id="user/hrm-tiny",
    )  # fmt: skip
    notes = sorted(
        parse_eval_result_entries(yaml.safe_load(p.read_text()))[0].notes
        for p in (folder / ".eval_results").glob("*.yaml")
    )
    assert notes == [
        "exact_accuracy; adaptive halting, 3 segments, K=1 transforms, vote selection, 1 model",
        "exact_accuracy; fixed halting, 3 segments, K=1 transforms, vote selection, 1 model",
    ]
    assert "names ending in `_adaptive` are with adaptive halting" in (folder / "README.md").read_text()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--tta", "0"], "--tta must be at least 1, got 0"),
        (["--select", "best"], "--select must be one of vote, rules, got 'best'"),
        (["--max-segments", "0"], "--max-steps must be at least 1, got 0"),
        (["--model", "a", "b", "--update-card"], "--update-card needs one --model"),
    ],
)
def test_bad_scaling_options_are_named(flags, message, capsys):
    with pytest.raises(SystemExit):
        evaluate_script.parse_args(["--model", "user/not-a-folder", "--dataset", "d", *flags])
    assert message in capsys.readouterr().err


# ---------------------------------------------------------------- the pipeline


@pytest.mark.parametrize(("seq_len", "puzzle"), [(16, SOLVED_4X4[1]), (900, MAZE)], ids=["sudoku", "maze"])
def test_pipeline_votes_over_transforms(tmp_path, seq_len, puzzle):
    model = tiny_model(seq_len=seq_len, vocab_size=6, num_puzzle_identifiers=1, halt_max_steps=3)
    save_model_files(model, tmp_path)
    solver = pipeline(model=str(tmp_path), trust_remote_code=True)
    plain = solver(puzzle)
    assert solver(puzzle, tta=1) == plain and "votes" not in plain
    voted = solver(puzzle, tta=6, select="rules")
    assert 1 <= voted["votes"] <= 6 and voted["segments"] >= 6
    assert len(voted["solution"]) == len(plain["solution"])
    assert solver(puzzle, tta=6, select="rules") == voted  # seeded: the same transforms every call
    with pytest.raises(ValueError, match="select must be one of"):
        solver(puzzle, tta=2, select="best")


def test_pipeline_of_an_arc_model_refuses_transforms(tmp_path):
    save_model_files(tiny_model(seq_len=900, vocab_size=12, num_puzzle_identifiers=1), tmp_path)
    solver = pipeline(model=str(tmp_path), trust_remote_code=True)
    with pytest.raises(ValueError, match="tta must be 1 for arc"):
        solver([[1, 2], [3, 4]], tta=2)


# ---------------------------------------------------------------- ARC figures as every scorer reads them


def test_a_limit_keeps_whole_arc_tasks(tmp_path):
    build_arc_fixture(tmp_path / "arc")
    split, metadata = load_puzzle_dataset(tmp_path / "arc", split="test")

    def tasks(identifiers) -> list[str]:
        return [parse_identifier(metadata.identifier_names[i])[0] for i in identifiers]

    every = tasks(split["puzzle_identifiers"])
    kept = tasks(dataset_arrays(split, metadata, limit=1)["puzzle_identifiers"])
    assert set(kept) == {every[0]} and len(kept) == every.count(every[0]) > 1


def test_arc_reports_pass_at_2_per_task_and_per_test_output():
    """Task `aaa` has two test inputs, one solved; `bbb` one, solved: 0.75 per task, 2/3 per test output."""
    grids = [np.array([[1, 2]]), np.array([[3], [4]]), np.array([[5]])]
    labels = np.stack([arc_canvas(g.astype(np.uint8)) for g in grids]).astype(np.int64)
    predictions = labels.copy()
    predictions[1] = arc_canvas(np.array([[9]], np.uint8))
    names = ["<blank>", "aaa", "bbb"]
    arrays = {"input_ids": labels, "labels": labels, "puzzle_identifiers": np.array([1, 1, 2])}
    solved = [SolvedRow(i, torch.as_tensor(p), 1, 1.0) for i, p in enumerate(predictions)]
    metadata = SimpleNamespace(identifier_names=names, blank_identifier_id=0, split="test")
    scores, kaggle = arc_scores([solved], arrays, metadata)
    assert scores["pass@2"] == 0.75 and scores["pass@2_per_output"] == pytest.approx(2 / 3)
    assert sorted(kaggle) == ["aaa", "bbb"] and len(kaggle["aaa"]) == 2


# ---------------------------------------------------------------- a trained model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The small trained 4x4 model of the fixtures and its 100 held-out puzzles."""
    from hrm_hf.data.sudoku import build_sudoku_dataset
    from hrm_hf.data.sudoku_generator import generate_puzzles
    from hrm_hf.modeling_hrm import HrmActModel

    folder = tmp_path_factory.mktemp("trained") / "data"
    rows = generate_puzzles(2100, seed=3, size=4, clues=(10, 10), progress=False)
    build_sudoku_dataset(rows[:1], rows[2000:], size=4, output_dir=folder)  # the training split is not read here
    split, metadata = load_puzzle_dataset(folder, split="test")
    return HrmActModel.from_pretrained(FIXTURES / "tts" / "sudoku4-model").eval(), split, metadata


def test_eight_transforms_with_rules_never_lose_to_one_on_a_trained_model(trained):
    """The identity is one of the K copies, and an answer that keeps the rules and the givens of a Sudoku with one
    solution is that solution: with `rules`, a puzzle solved at K=1 stays solved at K=8."""
    model, split, metadata = trained
    accelerator = Accelerator(cpu=True)
    one = evaluate_split(model, split, metadata, accelerator, halting="fixed")
    eight = evaluate_split(model, split, metadata, accelerator, halting="fixed", tta=8, select="rules")
    assert 0.2 < one.metrics["exact_accuracy"] < 0.9  # neither solved nor hopeless: room for scaling to show
    assert eight.metrics["exact_accuracy"] >= one.metrics["exact_accuracy"] + 0.1
    labels = one.arrays["labels"]
    for first, voted, label in zip(one.solved, eight.solved, labels, strict=True):
        if (first.predictions.numpy() == label).all():
            assert (voted.predictions.numpy() == label).all()
