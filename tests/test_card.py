"""The model card: rendered from `model_card.md`, YAML metadata parsed back, earlier values kept on update, Hub-ready
metadata (Hub ids only, headline results), and a usage snippet that runs with the folder's own pipeline."""

import json

import pytest
import yaml
from huggingface_hub import DatasetCard, ModelCard

from hrm_hf.data.card import dataset_card
from hrm_hf.data.metadata import Provenance
from hrm_hf.data.storage import push_puzzle_dataset
from hrm_hf.data.sudoku import build_sudoku_dataset
from hrm_hf.data.sudoku_generator import generate_puzzles
from hrm_hf.evaluation.card import BIBTEX, PAPER_URL, template_path, write_model_card
from hrm_hf.evaluation.model_folder import save_model_files
from hrm_hf.pipeline_hrm import PIPELINE_TASK
from hrm_hf.tokenization_hrm import EXAMPLE_SUDOKU
from hrm_hf.training.config import TrainConfig
from hrm_hf.training.model_folder import save_model_folder
from tests.helpers import MAZE, tiny_model


@pytest.fixture
def model_dir(tmp_path):
    folder = tmp_path / "hrm-tiny"
    save_model_files(tiny_model(seq_len=16, vocab_size=6), folder)
    return folder


def front_matter(path) -> dict:
    return yaml.safe_load(path.read_text().split("---")[1])


METRICS = {
    "exact_accuracy": 0.875, "token_accuracy": 0.9, "q_halt_accuracy": 0.5, "mean_steps": 16.0,
    "count": 16, "exact_accuracy_adaptive": 0.75, "token_accuracy_adaptive": 0.85, "mean_steps_adaptive": 3.25,
}  # fmt: skip


def test_card_metadata_and_body(model_dir, tmp_path):
    picture = tmp_path / "example_0.png"
    picture.write_bytes(b"png")
    (model_dir / "train_config.yaml").write_text("lr: 0.0001\ndata_path: outputs/data\n")
    path = write_model_card(
        model_dir, metrics=METRICS, dataset="user/sudoku-4x4", command="hrm train --preset cpu-demo",
        examples=[picture], repo_id="user/hrm-tiny", base_model="sapientinc/HRM-checkpoint-sudoku-extreme",
    )  # fmt: skip
    assert path == model_dir / "README.md"
    meta = front_matter(path)
    assert meta["library_name"] == "transformers" and meta["license"] == "apache-2.0"
    assert meta["datasets"] == ["user/sudoku-4x4"] and meta["base_model"] == "sapientinc/HRM-checkpoint-sudoku-extreme"
    assert "sudoku" in meta["tags"] and "hrm" not in meta  # no custom block
    (index,) = meta["model-index"]
    assert index["name"] == "hrm-tiny"
    (result,) = index["results"]
    assert result["dataset"] == {"type": "user/sudoku-4x4", "name": "user/sudoku-4x4"}
    assert {(m["type"], m["value"]): m["name"] for m in result["metrics"]} == {
        ("exact_accuracy", 0.875): "Exact accuracy (fixed halting, 16.00 mean segments)",
        ("token_accuracy", 0.9): "Token accuracy (fixed halting, 16.00 mean segments)",
        ("exact_accuracy", 0.75): "Exact accuracy (adaptive halting, 3.25 mean segments)",
        ("token_accuracy", 0.85): "Token accuracy (adaptive halting, 3.25 mean segments)",
    }
    assert result["metrics"][2]["args"] == {"halting": "adaptive", "mean_segments": 3.25}
    text = path.read_text()
    assert text.count("\n# hrm-tiny\n") == 1
    assert 'pipeline(model="user/hrm-tiny", trust_remote_code=True)' in text
    assert "| q_halt_accuracy | 0.5000 |" in text and "| count | 16 |" in text  # every metric; model-index: headline
    assert "hrm train --preset cpu-demo" in text
    assert "[`train_config.yaml`](train_config.yaml)" in text and "lr: 0.0001" not in text  # linked, not inlined
    assert PAPER_URL in text and BIBTEX in text and "not transformers' `hrm_text` language model" in text
    assert "![examples/example_0.png](examples/example_0.png)" in text
    assert "## Limitations" in text and "does not generalise" in text
    assert (model_dir / "examples" / "example_0.png").read_bytes() == b"png"
    assert ModelCard.load(path).data.eval_results[0].metric_value == 0.875


def test_update_keeps_what_it_is_not_given(model_dir):
    write_model_card(
        model_dir, metrics={"exact_accuracy": 0.5}, dataset="user/d", command="train it", repo_id="user/hrm-sudoku"
    )
    path = write_model_card(model_dir, metrics={"exact_accuracy": 0.75, "mean_steps": 3.5})
    meta = front_matter(path)
    assert meta["datasets"] == ["user/d"] and meta["model-index"][0]["name"] == "hrm-sudoku"
    assert [m["value"] for m in meta["model-index"][0]["results"][0]["metrics"]] == [0.75]
    text = path.read_text()
    assert "train it" in text and "\n# hrm-sudoku\n" in text and 'pipeline(model="user/hrm-sudoku"' in text
    write_model_card(model_dir, metrics={"pass@2": 0.5}, eval_dataset="user/e", eval_split="evaluation")
    (result,) = front_matter(write_model_card(model_dir, command="train it again"))["model-index"][0]["results"]
    assert result["dataset"] == {"type": "user/e", "name": "user/e", "split": "evaluation"}
    assert result["metrics"][0]["name"] == "pass@2 (fixed halting)"
    assert front_matter(path)["datasets"] == ["user/d"]
    meta = front_matter(write_model_card(model_dir, repo_id="other/renamed"))  # a new repo renames the title
    assert meta["model-index"][0]["name"] == "renamed"


def test_card_without_metrics_says_how_to_get_them(model_dir):
    meta = front_matter(write_model_card(model_dir))
    assert "model-index" not in meta
    text = (model_dir / "README.md").read_text()
    assert "hrm evaluate" in text and "\n# hrm-tiny\n" in text  # the folder's own name
    assert 'pipeline(model="hrm-tiny", trust_remote_code=True)' in text


def test_errors_name_the_field(tmp_path, model_dir):
    with pytest.raises(FileNotFoundError, match="output_dir: no config.json"):
        write_model_card(tmp_path)
    with pytest.raises(FileNotFoundError, match="examples: no picture at"):
        write_model_card(model_dir, examples=[tmp_path / "missing.png"])


def test_template_is_found_from_the_checkout():
    assert template_path().name == "model_card.md" and template_path().is_file()


def test_local_paths_stay_out_of_the_hub_metadata(model_dir, tmp_path):
    data = tmp_path / "outputs" / "data"
    data.mkdir(parents=True)
    path = write_model_card(
        model_dir, metrics=METRICS, dataset=str(data), command=f"hrm train --data-path {data}", model_name="hrm-demo"
    )
    header = path.read_text().split("---")[1]
    assert str(tmp_path) not in header and "outputs" not in header
    meta = yaml.safe_load(header)
    assert "datasets" not in meta and meta["model-index"][0]["name"] == "hrm-demo"
    assert meta["model-index"][0]["results"][0]["dataset"] == {"type": "local", "name": "local sudoku dataset"}
    assert f"Trained on `{data}`." in path.read_text() and path.read_text().count("# hrm-demo") == 1


@pytest.mark.parametrize(
    ("task", "seq_len", "vocab_size", "puzzle"),
    [("sudoku", 16, 6, EXAMPLE_SUDOKU[16]), ("maze", 900, 6, MAZE), ("arc", 900, 12, [[0, 1, 2], [3, 4, 5]])],
)
def test_usage_snippet_runs_on_the_saved_model(tmp_path, monkeypatch, capsys, task, seq_len, vocab_size, puzzle):
    """The card's Python snippet, run as written, builds the folder's own pipeline with transformers alone and prints
    the solution, the segments used and the halting confidence."""
    folder = tmp_path / "model"
    save_model_files(
        tiny_model(seq_len=seq_len, vocab_size=vocab_size, num_puzzle_identifiers=1, halt_max_steps=2), folder
    )
    snippet = write_model_card(folder, repo_id=str(folder)).read_text().split("```python\n")[1].split("```")[0]
    assert "from transformers import pipeline\n" in snippet and "hrm_hf" not in snippet
    (tmp_path / "maze.txt").write_text(MAZE + "\n")
    monkeypatch.chdir(tmp_path)
    exec(snippet, {})
    from transformers import pipeline

    result = pipeline(PIPELINE_TASK, model=str(folder), trust_remote_code=True)(puzzle)
    expected = f"{result['solution']} {result['segments']} {result['halt_confidence']}\n"
    assert capsys.readouterr().out == expected
    assert json.loads((folder / "card_inputs.json").read_text())["repo_id"] == str(folder)


@pytest.mark.parametrize(
    ("push_to_hub", "name", "title"),
    [(None, "model", "run"), ("user/hrm-sudoku-4x4", "hrm-sudoku-4x4", "hrm-sudoku-4x4")],
)
def test_training_folder_card_names_the_final_folder_or_the_repo(tmp_path, push_to_hub, name, title):
    """The trainer renders the card before renaming its temporary folder into place: the card names the final
    folder (or the repo it pushes to) and is titled with the run's name (or the repo's), registers the pipeline,
    links the training config and keeps paths out of the YAML metadata."""
    data, run = tmp_path / "outputs" / "data", tmp_path / "outputs" / "run"
    config = TrainConfig.from_dict({"data_path": str(data), "output_dir": str(run), "push_to_hub": push_to_hub})
    for _ in range(2):  # the second save replaces the first
        folder = save_model_folder(tiny_model(seq_len=16, vocab_size=6), run / "model", config, METRICS, "hrm train")
    assert sorted(p.name for p in run.iterdir()) == ["model"]
    text = (folder / "README.md").read_text()
    header = text.split("---")[1]
    assert f"\n# {title}\n" in text and ".tmp" not in text and "outputs" not in header
    (index,) = yaml.safe_load(header)["model-index"]
    assert index["name"] == title and index["results"][0]["dataset"]["split"] == "test"  # the trainer's evaluation
    assert f'pipeline(model="{push_to_hub or name}", trust_remote_code=True)' in text
    assert "[`train_config.yaml`](train_config.yaml)" in text and (folder / "train_config.yaml").is_file()
    assert PIPELINE_TASK in json.loads((folder / "config.json").read_text())["custom_pipelines"]


@pytest.fixture(scope="module")
def sudoku_rows():
    return generate_puzzles(12, seed=0, size=4, clues=(8, 10), progress=False)


def test_dataset_card_metadata_and_paper(sudoku_rows):
    _, metadata = build_sudoku_dataset(sudoku_rows[:8], sudoku_rows[8:], size=4)
    card = str(
        dataset_card(
            metadata,
            {"train": 8, "test": 4},
            Provenance("src", "apache-2.0", source_datasets=["sapientinc/sudoku-extreme"]),
        )
    )
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["source_datasets"] == ["sapientinc/sudoku-extreme"] and meta["task_categories"] == ["other"]
    assert meta["size_categories"] == ["n<1K"]
    assert PAPER_URL in card and BIBTEX in card
    assert 'load_puzzle_dataset("<this folder>")' in card and 'load_from_disk("<this folder>")' in card
    assert "source_datasets" not in str(dataset_card(metadata, {"train": 8, "test": 4}, Provenance("src")))


def test_pushed_dataset_card_names_its_repo(local_hub, tmp_path, sudoku_rows):
    build_sudoku_dataset(
        sudoku_rows[:8], sudoku_rows[8:], size=4, output_dir=tmp_path / "data", provenance=Provenance("src")
    )
    local_card = (tmp_path / "data" / "README.md").read_text()
    push_puzzle_dataset(tmp_path / "data", "tester/sudoku-card")
    card = str(DatasetCard.load("tester/sudoku-card", repo_type="dataset"))
    assert 'load_puzzle_dataset("tester/sudoku-card")' in card and 'load_dataset("tester/sudoku-card")' in card
    assert "<this folder>" not in card and card.count("## Loading") == 1
    assert BIBTEX in card and "dataset_info:" in card and "task_categories:" in card
    assert (tmp_path / "data" / "README.md").read_text() == local_card  # the push only reads the folder
