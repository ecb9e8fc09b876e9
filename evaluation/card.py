"""The model card (`README.md` of a model folder or Hub repo), rendered from the repository's `model_card.md`.

Training, checkpoint conversion and `scripts/evaluate.py --update-card` all call [`write_model_card`]. What a call
does not give (metrics, dataset, training command and config) is kept from the card already in the folder, so the
three can update one card in turn. Measured metrics go into the YAML `model-index` as well as into a table.
"""

from __future__ import annotations

import json
import math
import shutil
from importlib import resources
from pathlib import Path

import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData
from huggingface_hub.utils import HFValidationError, validate_repo_id
from safetensors import safe_open

from .puzzles import infer_task


TEMPLATE_NAME = "model_card.md"
CARD_NAME = "README.md"
EXAMPLES_DIR = "examples"
# Custom metadata key holding what the card body shows but the standard metadata has no field for.
PROVENANCE_KEY = "hrm"
TASK_DESCRIPTIONS = {
    "sudoku": "Sudoku (fill the grid so that no digit repeats in a row, column or box)",
    "maze": "30x30 mazes (mark the shortest path from start to goal)",
    "arc": "ARC-AGI abstract reasoning puzzles (produce the output grid from the demonstration pairs)",
    None: "grid puzzles",
}
USAGE_EXAMPLES = {
    "sudoku": (
        'from evaluation.puzzles import encode_sudoku, decode_sudoku  # from the hrm-hf checkout\n'
        "import torch\n"
        'puzzle = torch.tensor(encode_sudoku(sudoku))[None]  # sudoku: 81 characters, "." for blanks\n'
        "print(decode_sudoku(model.solve(puzzle).predictions[0].numpy()))"
    ),
    None: "out = model.solve(input_ids)  # [batch, seq_len] token ids\nprint(out.predictions, out.steps, out.halt_confidence)",
}


def template_path() -> Path:
    """`model_card.md`: beside the package in a checkout, or inside the installed `hrm_hf` package."""
    checkout = Path(__file__).resolve().parent.parent / TEMPLATE_NAME
    if checkout.is_file():
        return checkout
    installed = Path(str(resources.files("hrm_hf") / TEMPLATE_NAME))
    if installed.is_file():
        return installed
    raise FileNotFoundError(f"The model card template {TEMPLATE_NAME} is neither at {checkout} nor in hrm_hf.")


def is_hub_id(name: str) -> bool:
    """Whether `name` reads as a Hub repo id rather than a local path."""
    if Path(name).exists():
        return False
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def read_previous(card_path: Path) -> dict:
    """Metrics, dataset, command and training config recorded in an existing card (empty when there is none)."""
    if not card_path.is_file():
        return {}
    data = ModelCard.load(card_path).data.to_dict()
    previous = dict(data.get(PROVENANCE_KEY) or {})
    return previous


def eval_results(metrics: dict[str, float], dataset: str | None, task: str | None) -> list[EvalResult]:
    """One `model-index` entry per metric."""
    return [
        EvalResult(
            task_type="puzzle-solving",
            task_name=TASK_DESCRIPTIONS[task].split(" (")[0],
            dataset_type=dataset or "unknown",
            dataset_name=dataset or "unknown",
            metric_type=name,
            metric_name=name,
            metric_value=float(value),
        )
        for name, value in metrics.items()
    ]


def copy_examples(examples: list, output_dir: Path) -> list[str]:
    """Copy example pictures into `output_dir/examples/` and return their card-relative paths."""
    relative = []
    for example in examples:
        source = Path(example)
        if not source.is_absolute() and (output_dir / source).is_file():
            relative.append(source.as_posix())
            continue
        if not source.is_file():
            raise FileNotFoundError(f"examples: no picture at {source}.")
        target = output_dir / EXAMPLES_DIR / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.resolve() != target.resolve():
            shutil.copyfile(source, target)
        relative.append(f"{EXAMPLES_DIR}/{source.name}")
    return relative


def write_model_card(
    output_dir: str | Path,
    *,
    metrics: dict[str, float] | None = None,
    dataset: str | None = None,
    training_config: dict | None = None,
    command: str | None = None,
    examples: list | None = None,
    repo_id: str | None = None,
    model_name: str | None = None,
) -> Path:
    """Render `model_card.md` into `output_dir/README.md` and return its path.

    Args:
        output_dir: the model folder; its `config.json` gives the architecture shown in the card.
        metrics: measured metrics by name (go into `model-index` and the results table); replace earlier ones.
        dataset: the dataset's Hub id (or folder name).
        training_config: the training configuration, shown as YAML.
        command: the command that produced the model.
        examples: picture paths to embed (copied into `output_dir/examples/` unless already inside the folder).
        repo_id: the Hub id shown in the usage snippet; defaults to the folder's name.
        model_name: the card's title and `model-index` name; defaults to the last part of `repo_id`, else the
            folder's name.
    """
    output_dir = Path(output_dir)
    config_path = output_dir / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"output_dir: no config.json in {output_dir}; save the model before its card.")
    config = json.loads(config_path.read_text())
    card_path = output_dir / CARD_NAME
    previous = read_previous(card_path)
    metrics = metrics if metrics is not None else previous.get("metrics") or {}
    dataset = dataset or previous.get("dataset")
    command = command or previous.get("command")
    training_config = training_config if training_config is not None else previous.get("training_config")
    examples = copy_examples(examples, output_dir) if examples else previous.get("examples") or []
    task = infer_task(config["seq_len"], config["vocab_size"])
    model_name = model_name or (repo_id or output_dir.resolve().name).split("/")[-1]
    hub_dataset = dataset if dataset and is_hub_id(dataset) else None
    provenance = {"metrics": metrics, "dataset": dataset, "command": command, "training_config": training_config, "examples": examples}
    card_data = ModelCardData(
        library_name="transformers",
        license="apache-2.0",
        tags=["hrm", "hierarchical-reasoning-model", "adaptive-computation-time", "puzzle", *([task] if task else [])],
        datasets=[hub_dataset] if hub_dataset else None,
        model_name=model_name,
        eval_results=eval_results(metrics, dataset, task) if metrics else None,
        **{PROVENANCE_KEY: {key: value for key, value in provenance.items() if value}},
    )
    card = ModelCard.from_template(
        card_data,
        template_path=str(template_path()),
        model_name=model_name,
        repo_id=repo_id or model_name,
        task_description=TASK_DESCRIPTIONS[task],
        usage_example=USAGE_EXAMPLES.get(task, USAGE_EXAMPLES[None]),
        num_parameters=f"{count_parameters(output_dir):,}",
        dataset=dataset,
        dataset_link=f"https://huggingface.co/datasets/{hub_dataset}" if hub_dataset else None,
        metrics=metrics,
        command=command,
        training_config=yaml.safe_dump(training_config, sort_keys=False).strip() if training_config else None,
        examples=examples,
        **{key: config.get(key) for key in ("H_layers", "L_layers", "hidden_size", "H_cycles", "L_cycles", "halt_max_steps", "seq_len", "vocab_size")},
    )
    card.save(card_path)
    return card_path


def count_parameters(output_dir: Path) -> int:
    """Numbers stored in the folder's safetensors weights (the puzzle-embedding table included)."""
    total = 0
    for weights in sorted(output_dir.glob("*.safetensors")):
        with safe_open(weights, "pt") as f:
            total += sum(math.prod(f.get_slice(name).get_shape()) for name in f.keys())
    return total
