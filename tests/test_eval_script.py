"""`hrm evaluate` end to end on small datasets: metrics, halting modes, ARC voting, ranks, examples, card."""

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from hrm_hf.data.arc import ArcTask, build_arc_dataset
from hrm_hf.data.storage import load_puzzle_dataset
from hrm_hf.data.sudoku import build_sudoku_dataset
from hrm_hf.data.sudoku_generator import generate_puzzles
from hrm_hf.evaluation import evaluator, loading
from hrm_hf.evaluation.card import write_model_card
from hrm_hf.evaluation.scoring import dataset_arrays
from hrm_hf.hub import Source
from hrm_hf.scripts import evaluate_model as evaluate_script
from tests.helpers import tiny_model


REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sudoku(tmp_path_factory):
    """A 4x4 Sudoku dataset folder (12 test puzzles) and a model folder for it."""
    root = tmp_path_factory.mktemp("sudoku")
    rows = generate_puzzles(14, seed=0, size=4, clues=(8, 10), progress=False)
    build_sudoku_dataset(rows[:2], rows[2:], size=4, output_dir=root / "data")
    tiny_model(seq_len=16, vocab_size=6, num_puzzle_identifiers=1).save_pretrained(root / "model")
    return root


def run(*flags: str) -> dict:
    return evaluate_script.main(list(flags))


def test_fixed_and_adaptive_on_the_same_rows(sudoku, tmp_path, capsys):
    report = run("--model", str(sudoku / "model"), "--dataset", str(sudoku / "data"), "--output-dir", str(tmp_path),
                 "--batch-size", "5")  # fmt: skip
    assert json.loads((tmp_path / "metrics.json").read_text()) == report
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["halting", *evaluate_script.TABLE_COLUMNS]
    for line, (mode, metrics) in zip(table[1:3], report["results"].items(), strict=True):
        values = [metrics[column] for column in evaluate_script.TABLE_COLUMNS]
        assert line.split() == [mode, *(f"{v:.4f}" if isinstance(v, float) else str(v) for v in values)]
    assert table[3] == "fixed segments histogram: {'4': 12}"
    fixed, adaptive = report["results"]["fixed"], report["results"]["adaptive"]
    assert fixed["count"] == adaptive["count"] == 12
    assert fixed["mean_steps"] == 4 and fixed["total_steps"] == 48 and fixed["steps_histogram"] == {"4": 12}
    assert sum(adaptive["steps_histogram"].values()) == 12
    assert adaptive["total_steps"] == sum(int(k) * v for k, v in adaptive["steps_histogram"].items()) < 48

    # The same numbers by hand from `model.solve` on the whole split.
    model = tiny_model(seq_len=16, vocab_size=6, num_puzzle_identifiers=1)
    split, metadata = load_puzzle_dataset(sudoku / "data", split="test")
    arrays = dataset_arrays(split, metadata)
    labels = torch.as_tensor(arrays["labels"])
    for mode, metrics in report["results"].items():
        out = model.solve(torch.as_tensor(arrays["input_ids"]).long(), halting=mode)
        right = (out.predictions == labels) | (labels == -100)
        assert metrics["exact_accuracy"] == pytest.approx(right.all(-1).float().mean().item())
        token_accuracy = ((out.predictions == labels).sum(-1) / (labels != -100).sum(-1)).mean().item()
        assert metrics["token_accuracy"] == pytest.approx(token_accuracy)
        q_halt_right = (out.halt_confidence >= 0.5) == right.all(-1)  # sigmoid(q_halt) >= 0.5 <=> q_halt >= 0
        assert metrics["q_halt_accuracy"] == pytest.approx(q_halt_right.float().mean().item())
        assert metrics["mean_steps"] == pytest.approx(out.steps.float().mean().item())


def test_examples_and_card(sudoku, tmp_path):
    write_model_card(sudoku / "model", dataset="user/sudoku-train", command="hrm train")
    run("--model", str(sudoku / "model"), "--dataset", str(sudoku / "data"), "--output-dir", str(tmp_path),
        "--halting", "adaptive", "--limit", "4", "--save-examples", "2", "--update-card")  # fmt: skip
    pictures = sorted((tmp_path / "examples").glob("*.png"))
    assert [p.name for p in pictures] == ["example_0.png", "example_1.png"]
    assert Image.open(pictures[0]).size[1] > 4 * 16
    card = (sudoku / "model" / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    (result,) = meta["model-index"][0]["results"]
    assert result["dataset"] == {"type": "local", "name": "local sudoku dataset", "split": "test"}  # no local path
    assert meta["datasets"] == ["user/sudoku-train"] and "hrm train" in card  # training kept
    assert f"Measured on `{sudoku / 'data'}` (split `test`)" in card
    assert [(m["type"], m["args"]["halting"]) for m in result["metrics"]] == [
        ("exact_accuracy", "adaptive"),
        ("token_accuracy", "adaptive"),
    ]
    assert "| q_halt_accuracy_adaptive |" in card and "| mean_steps_adaptive |" in card
    assert "](examples/example_0.png)" in card and (sudoku / "model" / "examples" / "example_0.png").is_file()


def _hub_model_with_card(local_hub, tmp_path, repo_id: str) -> dict[str, str]:
    """Upload a model folder for the sudoku data, with a training card, to the local Hub, plus a branch `eval`;
    returns the sha256 of each file on main."""
    from huggingface_hub import HfApi

    folder = tmp_path / "upload"
    tiny_model(seq_len=16, vocab_size=6, num_puzzle_identifiers=1).save_pretrained(folder)
    write_model_card(folder, dataset="user/sudoku-train", command="hrm train", repo_id=repo_id)
    api = HfApi()
    api.create_repo(repo_id)
    api.upload_folder(repo_id=repo_id, folder_path=folder)
    api.create_branch(repo_id, branch="eval")
    return _hub_shas(local_hub, repo_id)


def _hub_shas(local_hub, repo_id: str, revision: str = "main") -> dict[str, str]:
    files = local_hub.hub.repos[("model", repo_id)].at(revision).files
    return {name: entry.sha256 for name, entry in files.items()}


def test_update_card_on_a_hub_repo_commits_only_the_card(sudoku, tmp_path, local_hub, capsys):
    before = _hub_model_with_card(local_hub, tmp_path, "tester/hrm-card")
    run("--model", "tester/hrm-card", "--revision", "eval", "--dataset", str(sudoku / "data"), "--output-dir",
        str(tmp_path / "eval"), "--halting", "adaptive", "--limit", "4", "--save-examples", "1", "--update-card")  # fmt: skip
    assert "Updated the card of tester/hrm-card: " in capsys.readouterr().out
    assert _hub_shas(local_hub, "tester/hrm-card") == before  # main untouched: the card went to --revision's branch
    after = _hub_shas(local_hub, "tester/hrm-card", "eval")
    assert set(after) == set(before) | {"examples/example_0.png"}
    changed = ("README.md", "card_inputs.json")  # the card and what it was rendered from; the weights as they were
    assert all(after[name] == sha for name, sha in before.items() if name not in changed)
    card = (Path(local_hub.hub.blobs) / after["README.md"]).read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["model-index"][0]["results"][0]["metrics"][0]["name"].startswith("Exact accuracy (adaptive halting")
    assert "hrm train" in card and meta["datasets"] == ["user/sudoku-train"]  # the training record kept
    assert "](examples/example_0.png)" in card and "tester/hrm-card" in card


def test_a_refused_hub_card_update_is_one_line_and_keeps_the_outputs(sudoku, tmp_path, local_hub, monkeypatch):
    from huggingface_hub import HfApi

    from hrm_hf.hub import PushError

    before = _hub_model_with_card(local_hub, tmp_path, "tester/hrm-refused")
    create_commit = HfApi.create_commit

    def refused(self, *args, **kwargs):  # the evaluation and the downloads pass; the commit is refused
        local_hub.hub.fail_next(403)
        return create_commit(self, *args, **kwargs)

    monkeypatch.setattr(HfApi, "create_commit", refused)
    with pytest.raises(PushError, match=r"^Card update of tester/hrm-refused failed: HTTP 403 [^\n]*$"):
        run("--model", "tester/hrm-refused", "--dataset", str(sudoku / "data"), "--output-dir", str(tmp_path / "eval"),
            "--halting", "adaptive", "--limit", "4", "--update-card")  # fmt: skip
    assert (tmp_path / "eval" / "metrics.json").is_file()  # the evaluation is saved before the card is pushed
    assert _hub_shas(local_hub, "tester/hrm-refused") == before


def test_ranks_split_the_rows_without_duplicates(sudoku, monkeypatch):
    """Each rank solves every world_size-th row; gathered, every row appears once with the single-process result."""
    model = tiny_model(seq_len=16, vocab_size=6, num_puzzle_identifiers=1)
    split, metadata = load_puzzle_dataset(sudoku / "data", split="test")
    arrays = dataset_arrays(split, metadata, limit=11)  # uneven: 6 rows on rank 0, 5 on rank 1
    per_rank = []
    monkeypatch.setattr(evaluator, "gather_object", lambda rows: per_rank.append(rows) or rows)
    for rank in (0, 1):
        evaluator.solve_rows(model, arrays, SimpleNamespace(process_index=rank, num_processes=2), 4, "adaptive")
    gathered = sorted(per_rank[0] + per_rank[1], key=lambda row: row.index)
    assert [row.index for row in gathered] == list(range(11))
    expected = model.solve(torch.as_tensor(arrays["input_ids"]).long(), halting="adaptive")
    assert torch.equal(torch.stack([row.predictions for row in gathered]), expected.predictions)


def arc_task(name: str, subset: str, seed: int) -> ArcTask:
    rng = np.random.default_rng(seed)
    pairs = [
        (rng.integers(0, 10, (2, 3)).astype(np.uint8), rng.integers(0, 10, (3, 2)).astype(np.uint8)) for _ in range(3)
    ]
    return ArcTask(name, subset, train=pairs[:2], test=pairs[2:])


class OracleSegments:
    """Stands in for `run_segment`: logits that put all mass on the dataset's label of each input."""

    def __init__(self, model, arrays):
        self.model, self.run_segment = model, model.run_segment
        labels = np.where(arrays["labels"] == -100, 0, arrays["labels"]).astype(np.int64)
        self.answers = {
            inputs.astype(np.int64).tobytes(): label for inputs, label in zip(arrays["input_ids"], labels, strict=True)
        }

    def __call__(self, z_H, z_L, data):
        z_H, z_L, logits, q_halt, q_continue = self.run_segment(z_H, z_L, data)
        answers = [self.answers[row.numpy().astype(np.int64).tobytes()] for row in data["input_ids"].cpu()]
        logits = torch.nn.functional.one_hot(torch.as_tensor(np.stack(answers)), self.model.config.vocab_size).float()
        return z_H, z_L, logits, q_halt, q_continue


@pytest.mark.slow
def test_arc_voting_pass_at_k_and_submission(tmp_path, monkeypatch):
    tasks = [arc_task("aaa", "evaluation", 0), arc_task("bbb", "evaluation", 1), arc_task("ccc", "training", 2)]
    _, metadata = build_arc_dataset(tasks, "evaluation", num_aug=2, output_dir=tmp_path / "data")
    model = tiny_model(seq_len=900, vocab_size=12, num_puzzle_identifiers=metadata["test"].num_puzzle_identifiers,
                       halt_max_steps=1)  # fmt: skip
    split, test_metadata = load_puzzle_dataset(tmp_path / "data", split="test")
    monkeypatch.setattr(model, "run_segment", OracleSegments(model, dataset_arrays(split, test_metadata)))
    monkeypatch.setattr(loading, "resolve_model", lambda value, *args, **kwargs: Source(Path(value)))
    monkeypatch.setattr(loading, "load_model", lambda *args, **kwargs: model)
    report = run("--model", "oracle", "--dataset", str(tmp_path / "data"), "--output-dir", str(tmp_path / "out"),
                 "--halting", "fixed")  # fmt: skip
    metrics = report["results"]["fixed"]
    assert metrics["exact_accuracy"] == 1.0 and metrics["count"] == len(split) == 6
    assert {k: metrics[k] for k in ("pass@1", "pass@2", "pass@1000", "puzzles", "test_inputs")} == {
        "pass@1": 1.0, "pass@2": 1.0, "pass@1000": 1.0, "puzzles": 2, "test_inputs": 2,
    }  # fmt: skip
    kaggle = json.loads((tmp_path / "out" / "submission.json").read_text())
    assert sorted(kaggle) == ["aaa", "bbb"]
    for task in tasks[:2]:
        (attempts,) = kaggle[task.name]
        assert attempts["attempt_1"] == attempts["attempt_2"] == task.test[0][1].tolist()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    ],
)
def test_bad_options_are_named(flags, message, capsys):
    with pytest.raises(SystemExit):
        evaluate_script.parse_args(["--model", "user/not-a-folder", "--dataset", "d", *flags])
    assert message in capsys.readouterr().err


def test_unknown_split_names_the_splits(sudoku):
    with pytest.raises(
        SystemExit, match=r"--split: Split 'validation' is not in the puzzle dataset .*, which has \['test', 'train'\]"
    ):
        run("--model", str(sudoku / "model"), "--dataset", str(sudoku / "data"), "--split", "validation")


@pytest.mark.parametrize(
    ("model_kwargs", "message"),
    [
        ({"seq_len": 81, "vocab_size": 11}, "has seq_len=16, but --model .* has seq_len=81"),
        ({"seq_len": 16, "vocab_size": 5}, "has vocab_size=6, but --model .* has vocab_size=5"),
    ],
)
def test_a_dataset_the_model_cannot_read_is_named(sudoku, tmp_path, model_kwargs, message):
    tiny_model(**model_kwargs).save_pretrained(tmp_path / "model")
    with pytest.raises(SystemExit, match=message):
        run("--model", str(tmp_path / "model"), "--dataset", str(sudoku / "data"), "--output-dir", str(tmp_path))


@pytest.mark.slow
def test_accelerate_launch_on_two_processes_matches_one(sudoku, tmp_path):
    flags = ["--model", str(sudoku / "model"), "--dataset", str(sudoku / "data"), "--limit", "11", "--batch-size", "3"]
    single = run(*flags, "--output-dir", str(tmp_path / "one"))
    launcher = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        "2",
        "--cpu",
        "-m",
        "hrm_hf.scripts",
        "evaluate",
    ]
    result = subprocess.run([*launcher, *flags, "--output-dir", str(tmp_path / "two")], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / "two" / "metrics.json").read_text())["results"] == single["results"]


@pytest.mark.parametrize("command", ["evaluate", "solve"])
def test_help_imports_no_heavy_library(command):
    """`hrm evaluate --help` and `hrm solve --help` parse their arguments before importing torch and friends."""
    code = (
        "import sys\nfrom hrm_hf.scripts.cli import main\ntry:\n"
        f"    main([{command!r}, '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'transformers', 'datasets', 'evaluate', 'accelerate') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
