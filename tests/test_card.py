"""The model card: rendered from `model_card.md`, YAML metadata parsed back, earlier values kept on update."""

import pytest
import torch
import yaml
from huggingface_hub import ModelCard

from hrm_hf.evaluation.card import EXAMPLE_SUDOKU, template_path, write_model_card
from hrm_hf.tokenization_hrm import decode_puzzle, encode_puzzle
from tests.eval_utils import tiny_model
from tests.test_solve import MAZE


@pytest.fixture
def model_dir(tmp_path):
    folder = tmp_path / "hrm-tiny"
    tiny_model(seq_len=16, vocab_size=6).save_pretrained(folder)
    return folder


def front_matter(path) -> dict:
    return yaml.safe_load(path.read_text().split("---")[1])


def test_card_metadata_and_body(model_dir, tmp_path):
    picture = tmp_path / "example_0.png"
    picture.write_bytes(b"png")
    path = write_model_card(
        model_dir, metrics={"exact_accuracy": 0.875}, dataset="user/sudoku-4x4", training_config={"lr": 1e-4},
        command="hrm train --preset cpu-demo", examples=[picture], repo_id="user/hrm-tiny",
    )  # fmt: skip
    assert path == model_dir / "README.md"
    meta = front_matter(path)
    assert meta["library_name"] == "transformers"
    assert meta["datasets"] == ["user/sudoku-4x4"]
    assert "sudoku" in meta["tags"]
    (result,) = meta["model-index"][0]["results"]
    assert result["metrics"] == [{"type": "exact_accuracy", "value": 0.875, "name": "exact_accuracy"}]
    text = path.read_text()
    assert 'AutoModel.from_pretrained("user/hrm-tiny", trust_remote_code=True)' in text
    assert "hrm train --preset cpu-demo" in text and "lr: 0.0001" in text
    assert "![examples/example_0.png](examples/example_0.png)" in text
    assert "## Limitations" in text and "does not generalise" in text
    assert (model_dir / "examples" / "example_0.png").read_bytes() == b"png"
    assert ModelCard.load(path).data.eval_results[0].metric_value == 0.875


def test_update_keeps_what_it_is_not_given(model_dir):
    write_model_card(model_dir, metrics={"exact_accuracy": 0.5}, dataset="user/d", command="train it")
    path = write_model_card(model_dir, metrics={"exact_accuracy": 0.75, "mean_steps": 3.5})
    meta = front_matter(path)
    assert meta["datasets"] == ["user/d"]
    assert [m["value"] for m in meta["model-index"][0]["results"][0]["metrics"]] == [0.75, 3.5]
    assert "train it" in path.read_text()
    write_model_card(model_dir, metrics={"pass@2": 0.5}, eval_dataset="user/e", eval_split="evaluation")
    (result,) = front_matter(write_model_card(model_dir, command="train it again"))["model-index"][0]["results"]
    assert result["dataset"] == {"type": "user/e", "name": "user/e", "split": "evaluation"}
    assert front_matter(path)["datasets"] == ["user/d"]


def test_card_without_metrics_says_how_to_get_them(model_dir):
    meta = front_matter(write_model_card(model_dir))
    assert "model-index" not in meta
    assert "hrm evaluate" in (model_dir / "README.md").read_text()


def test_errors_name_the_field(tmp_path, model_dir):
    with pytest.raises(FileNotFoundError, match="output_dir: no config.json"):
        write_model_card(tmp_path)
    with pytest.raises(FileNotFoundError, match="examples: no picture at"):
        write_model_card(model_dir, examples=[tmp_path / "missing.png"])


def test_template_is_found_from_the_checkout():
    assert template_path().name == "model_card.md" and template_path().is_file()


def test_local_dataset_paths_stay_out_of_the_hub_metadata(model_dir, tmp_path):
    path = write_model_card(model_dir, dataset=str(tmp_path), model_name="hrm-demo")
    meta = front_matter(path)
    assert "datasets" not in meta and meta["hrm"]["dataset"] == str(tmp_path)
    assert f"Trained on `{tmp_path}`." in path.read_text() and path.read_text().count("# hrm-demo") == 1


@pytest.mark.parametrize(
    ("task", "seq_len", "vocab_size", "puzzle"),
    [("sudoku", 16, 6, EXAMPLE_SUDOKU[16]), ("maze", 900, 6, MAZE), ("arc", 900, 12, [[0, 1, 2], [3, 4, 5]])],
)
def test_usage_snippet_runs_on_the_saved_model(tmp_path, monkeypatch, capsys, task, seq_len, vocab_size, puzzle):
    """The card's Python snippet, run as written, loads the folder and prints the decoded prediction and segments;
    it goes through the puzzle codec rather than hand-coding the token mapping."""
    folder = tmp_path / "model"
    model = tiny_model(seq_len=seq_len, vocab_size=vocab_size, num_puzzle_identifiers=1, halt_max_steps=2)
    model.save_pretrained(folder)
    snippet = write_model_card(folder, repo_id=str(folder)).read_text().split("```python\n")[1].split("```")[0]
    assert "trust_remote_code=True" in snippet
    assert f"from hrm_hf.tokenization_hrm import decode_{task}, encode_{task}" in snippet
    (tmp_path / "maze.txt").write_text(MAZE + "\n")
    monkeypatch.chdir(tmp_path)
    exec(snippet, {})
    out = model.solve(torch.as_tensor(encode_puzzle(task, puzzle, seq_len))[None])
    decoded = decode_puzzle(task, out.predictions[0].numpy())
    shown = decoded.tolist() if task == "arc" else decoded
    assert capsys.readouterr().out == f"{shown} {int(out.steps[0])}\n"
