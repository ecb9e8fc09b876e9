"""A TRM model through the project's user paths: `hrm train` with `arch: name: trm`, `hrm solve`, `hrm evaluate`
(with its card update) and the puzzle pipeline, each on a small TRM folder."""

import json

import pytest
import torch
import yaml
from transformers import AutoModel, pipeline

from hrm_hf.data.storage import load_puzzle_dataset
from hrm_hf.evaluation.loading import load_model
from hrm_hf.evaluation.model_folder import write_model_folder
from hrm_hf.evaluation.scoring import dataset_arrays
from hrm_hf.modeling_trm import TrmModel
from hrm_hf.scripts import evaluate_model as evaluate_script
from hrm_hf.scripts import solve as solve_script
from hrm_hf.tokenization_hrm import puzzle_type
from hrm_hf.training.config import TrainConfig
from hrm_hf.training.loop import train
from tests.helpers import TINY_RUN, tiny_trm_model


SUDOKU_4X4 = "1.3..2...4..3..."
TRM_ARCH = dict(
    name="trm", hidden_size=32, num_heads=2, expansion=2.0, L_layers=1, H_cycles=2, L_cycles=2, halt_max_steps=2,
    forward_dtype="float32", mlp_t=True, pos_encodings="none", puzzle_emb_len=2,
)  # fmt: skip
RUN_FIELDS = {
    k: v
    for k, v in TINY_RUN.items()
    if k not in TRM_ARCH and k not in ("H_layers", "L_layers", "H_cycles", "L_cycles")
}


@pytest.fixture(scope="module")
def sudoku_trm(tmp_path_factory):
    """A small TRM folder for 4x4 Sudoku (with its card), as `hrm convert` and `hrm train` write them."""
    folder = tmp_path_factory.mktemp("trm") / "trm-sudoku"
    model = tiny_trm_model(vocab_size=6, num_puzzle_identifiers=2, halt_max_steps=4)
    write_model_folder(model, folder, command="hrm convert ...")
    return folder, model


def test_hrm_train_with_arch_trm_trains_and_saves_a_trm_folder(tiny_data, tmp_path):
    config = TrainConfig.from_dict(
        {**RUN_FIELDS, "data_path": str(tiny_data), "output_dir": str(tmp_path), "max_steps": 4, "arch": TRM_ARCH}
    )
    assert config.family.model_class is TrmModel
    result = train(config)
    assert result.step == 4 and result.metrics["count"] == 16
    loaded = load_model(result.model_dir)
    assert type(loaded) is TrmModel and loaded.config.mlp_t and loaded.config.puzzle_emb_len == 2
    assert type(AutoModel.from_pretrained(result.model_dir, trust_remote_code=True)).__name__ == "TrmModel"
    card = (result.model_dir / "README.md").read_text()
    assert "A TRM model" in card and "arXiv 2510.04871" in card and "- trm\n" in card
    saved = yaml.safe_load((result.model_dir / "train_config.yaml").read_text())
    assert saved["arch"]["name"] == "trm" and TrainConfig.from_dict(saved).arch == config.arch


def test_the_pipeline_solves_as_model_solve_does(sudoku_trm):
    folder, model = sudoku_trm
    solver = pipeline(model=str(folder), trust_remote_code=True)
    kind = puzzle_type("sudoku")
    tokens = torch.as_tensor(kind.encode(SUDOKU_4X4, 16))[None]
    for halting in ("adaptive", "fixed"):
        out = model.solve(tokens, torch.tensor([1], dtype=torch.int32), halting=halting)
        result = solver(SUDOKU_4X4, halting=halting, puzzle_identifier=1)
        assert result["solution"] == kind.decode(out.predictions[0].numpy())
        assert result["segments"] == int(out.steps[0])
        assert result["halt_confidence"] == pytest.approx(float(out.halt_confidence[0]), abs=1e-6)


def test_hrm_solve_prints_the_pipelines_answer(sudoku_trm, capsys):
    folder, model = sudoku_trm
    expected = pipeline(model=str(folder), trust_remote_code=True)(SUDOKU_4X4, halting="fixed")
    try:
        solve_script.main(["--model", str(folder), "--sudoku", SUDOKU_4X4, "--halting", "fixed"])
        verdict = ""
    except SystemExit as exit:  # a random model's answer may break the rules: reported as not solved
        verdict = str(exit)
    out = capsys.readouterr().out
    assert out.startswith(puzzle_type("sudoku").answer_text(expected["solution"]) + "\n")
    assert f"segments: {expected['segments']}, halting confidence: {expected['halt_confidence']:.3f}" in verdict + out


def test_hrm_evaluate_scores_a_trm_folder_and_keeps_its_card(sudoku_trm, tiny_data, tmp_path):
    folder, model = sudoku_trm
    report = evaluate_script.main(
        ["--model", str(folder), "--dataset", str(tiny_data), "--output-dir", str(tmp_path), "--update-card"]
    )
    split, metadata = load_puzzle_dataset(tiny_data, split="test")
    arrays = dataset_arrays(split, metadata)
    labels = torch.as_tensor(arrays["labels"])
    for mode, metrics in report["results"].items():
        out = model.solve(torch.as_tensor(arrays["input_ids"]).long(), halting=mode)
        right = (out.predictions == labels) | (labels == -100)
        assert metrics["exact_accuracy"] == pytest.approx(right.all(-1).float().mean().item())
        assert metrics["mean_steps"] == pytest.approx(out.steps.float().mean().item())
    card = (folder / "README.md").read_text()
    assert "A TRM model" in card and "| mean_steps_adaptive |" in card and "hrm convert ..." in card
    assert json.loads((folder / "config.json").read_text())["model_type"] == "trm"
