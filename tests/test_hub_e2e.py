"""Sharing end to end against the local Hub on 127.0.0.1: push a converted model (with its card) and a dataset, pull
both by repo id, score them with `hrm evaluate`, then again offline from the cache."""

import json
from pathlib import Path

import pytest
import torch
from datasets import load_dataset
from huggingface_hub import HfApi, ModelCard
from transformers import AutoModel

from hrm_hf.data.storage import push_puzzle_dataset
from hrm_hf.data.sudoku import build_sudoku_dataset
from hrm_hf.data.sudoku_generator import generate_puzzles
from hrm_hf.evaluation.card import write_model_card
from hrm_hf.hub import push_folder
from hrm_hf.scripts import evaluate_model as evaluate_script
from hrm_hf.scripts.convert_official_checkpoint import convert_checkpoint
from hrm_hf.scripts.convert_official_checkpoint import main as convert_main


# The rope_puzzle release fixture has seq_len 16 and vocab 11: it reads 4x4 Sudoku tokens (vocab 6) as they are.
CHECKPOINT = Path(__file__).parent / "fixtures" / "official" / "rope_puzzle" / "official_checkpoint"
MODEL_REPO, DATASET_REPO = "tester/hrm-rope-puzzle", "tester/sudoku-4x4"


@pytest.mark.slow
def test_push_pull_and_evaluate_by_repo_id(local_hub, tmp_path, capsys):
    convert_main([str(CHECKPOINT), "--output-dir", str(tmp_path / "model"), "--push-to-hub", MODEL_REPO])
    assert "README.md" in HfApi().list_repo_files(MODEL_REPO)  # the converter pushes its card with the weights
    model = convert_checkpoint(CHECKPOINT)
    write_model_card(tmp_path / "model", metrics={"exact_accuracy": 0.25}, dataset=DATASET_REPO, repo_id=MODEL_REPO)
    push_folder(tmp_path / "model", MODEL_REPO)
    rows = generate_puzzles(10, seed=0, size=4, clues=(8, 10), progress=False)
    build_sudoku_dataset(rows[:4], rows[4:], size=4, output_dir=tmp_path / "data")
    push_puzzle_dataset(tmp_path / "data", DATASET_REPO)

    pulled = AutoModel.from_pretrained(MODEL_REPO, trust_remote_code=True).eval()
    assert type(pulled).__name__ == "HrmActModel" and type(pulled) is not type(model)  # the repo's own code
    inputs = torch.randint(1, 6, (3, 16))
    torch.testing.assert_close(pulled.solve(inputs).predictions, model.solve(inputs).predictions)
    assert load_dataset(DATASET_REPO)["test"].num_rows == 6

    meta = ModelCard.load(MODEL_REPO).data.to_dict()
    assert meta["library_name"] == "transformers" and meta["datasets"] == [DATASET_REPO]
    assert meta["model-index"][0]["results"][0]["metrics"][0]["value"] == 0.25

    report = evaluate_script.main(
        ["--model", MODEL_REPO, "--dataset", DATASET_REPO, "--output-dir", str(tmp_path / "eval")]
    )
    assert report["results"]["fixed"]["count"] == 6 and report["task"] == "sudoku"
    printed = capsys.readouterr()
    assert "dummy" not in printed.out + printed.err  # the token from the environment (HF_TOKEN) is never printed
    assert not (tmp_path / "hf_home" / "token").exists()  # ... nor saved: not as a login, nor in any file we wrote
    ours = [path for path in tmp_path.rglob("*") if path.is_file() and "hub_storage" not in path.parts]
    assert len(ours) > 20 and not [path for path in ours if b"dummy" in path.read_bytes()]

    # Offline, from the cache filled above: the same scores and not a single request to the Hub.
    requests = len(local_hub.hub.requests)
    code = (
        "import json; from hrm_hf.scripts.evaluate_model import main; "
        f"print(json.dumps(main(['--model', {MODEL_REPO!r}, '--dataset', {DATASET_REPO!r}, '--halting', 'fixed', "
        f"'--output-dir', {str(tmp_path / 'offline')!r}])['results']))"
    )
    local_hub.env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    result = local_hub.run_python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1])["fixed"] == report["results"]["fixed"]
    assert len(local_hub.hub.requests) == requests
    assert "hrm convert" in (tmp_path / "model" / "README.md").read_text()
