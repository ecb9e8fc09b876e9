"""The model card (`README.md` of a model folder or Hub repo), rendered from the repository's `model_card.md`.

Training, checkpoint conversion and `hrm evaluate --update-card` all call [`write_model_card`]. What a call
does not give (metrics, dataset, training command and config) is kept from the card already in the folder, so the
three can update one card in turn. Measured metrics go into the YAML `model-index` as well as into a table.
"""

from __future__ import annotations

import json
import math
import shutil
from math import isqrt
from pathlib import Path

import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData
from huggingface_hub.utils import HFValidationError, validate_repo_id
from safetensors import safe_open

from ..tokenization_hrm import infer_task


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
# Usage snippets need only torch, the model's own code and the puzzle codec, so they run on a model pulled from the Hub.
USAGE_EXAMPLES = {
    "sudoku": (
        "import torch\n"
        "from hrm_hf.tokenization_hrm import decode_sudoku, encode_sudoku\n\n"
        'sudoku = "{sudoku}"  # the cells row by row, "." for blanks\n'
        "input_ids = torch.tensor(encode_sudoku(sudoku, side={side}))[None]\n"
        "out = model.solve(input_ids)  # adaptive halting: the row stops when its Q head says so\n"
        "print(decode_sudoku(out.predictions[0]), out.steps[0].item())"
    ),
    "maze": (
        "import torch\n"
        "from hrm_hf.tokenization_hrm import decode_maze, encode_maze\n\n"
        'maze = open("maze.txt").read()  # 30 lines of 30 characters: # wall, space open, S start, G goal\n'
        "input_ids = torch.tensor(encode_maze(maze))[None]\n"
        "out = model.solve(input_ids)  # adaptive halting: the row stops when its Q head says so\n"
        "print(decode_maze(out.predictions[0]), out.steps[0].item())"
    ),
    "arc": (
        "import torch\n"
        "from hrm_hf.tokenization_hrm import decode_arc, encode_arc\n\n"
        "grid = [[0, 1, 2], [3, 4, 5]]  # the test input, colours 0..9\n"
        "# The puzzle's row of the embedding table: its index in the training data's identifiers.json (0: blank).\n"
        "puzzle_identifiers = torch.tensor([0])\n"
        "out = model.solve(torch.tensor(encode_arc(grid))[None], puzzle_identifiers)\n"
        "print(decode_arc(out.predictions[0]).tolist(), out.steps[0].item())"
    ),
    None: (
        "out = model.solve(input_ids, puzzle_identifiers)  # [batch, seq_len] token ids, [batch] puzzle ids\n"
        "print(out.predictions, out.steps, out.halt_confidence)"
    ),
}
# Example Sudoku of the usage snippet by number of cells; other sizes show an empty grid.
EXAMPLE_SUDOKU = {
    81: "..3.2.6..9..3.5..1..18.64....81.29..7.......8..67.82....26.95..8..2.3..9..5.1.3..",
    16: ".12.2.1.13..42..",
}


def usage_example(task: str | None, seq_len: int) -> str:
    """The Python lines after loading the model in the card's usage section (unknown tasks: generic)."""
    example = USAGE_EXAMPLES.get(task, USAGE_EXAMPLES[None])
    return example.replace("{sudoku}", EXAMPLE_SUDOKU.get(seq_len, "." * seq_len)).replace(
        "{side}", str(isqrt(seq_len))
    )


def template_path() -> Path:
    """`model_card.md`, package data of `hrm_hf` (the repository's top level in a checkout)."""
    return Path(__file__).resolve().parent.parent / TEMPLATE_NAME


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


def eval_results(
    metrics: dict[str, float], dataset: str | None, split: str | None, task: str | None
) -> list[EvalResult]:
    """One `model-index` entry per metric, measured on `dataset` (its `split` when known)."""
    return [
        EvalResult(
            task_type="puzzle-solving",
            task_name=TASK_DESCRIPTIONS[task].split(" (")[0],
            dataset_type=dataset or "unknown",
            dataset_name=dataset or "unknown",
            dataset_split=split,
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
    eval_dataset: str | None = None,
    eval_split: str | None = None,
    base_model: str | None = None,
) -> Path:
    """Render `model_card.md` into `output_dir/README.md` and return its path.

    Args:
        output_dir: the model folder; its `config.json` gives the architecture shown in the card.
        metrics: measured metrics by name (go into `model-index` and the results table); replace earlier ones.
        dataset: the training dataset's Hub id (or folder name).
        training_config: the training configuration, shown as YAML.
        command: the command that produced the model.
        examples: picture paths to embed (copied into `output_dir/examples/` unless already inside the folder).
        repo_id: the Hub id shown in the usage snippet; defaults to the folder's name.
        model_name: the card's title and `model-index` name; defaults to the last part of `repo_id`, else the
            folder's name.
        eval_dataset: the dataset `metrics` were measured on; defaults to `dataset`.
        eval_split: the split of `eval_dataset` they were measured on.
        base_model: the Hub model repo the weights were converted from (the card's `base_model`).
    """
    output_dir = Path(output_dir)
    config_path = output_dir / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"output_dir: no config.json in {output_dir}; save the model before its card.")
    config = json.loads(config_path.read_text())
    card_path = output_dir / CARD_NAME
    previous = read_previous(card_path)
    dataset = dataset or previous.get("dataset")
    if metrics is None:  # the earlier metrics stay, with where they were measured
        metrics = previous.get("metrics") or {}
        eval_dataset, eval_split = previous.get("eval_dataset"), previous.get("eval_split")
    eval_dataset = eval_dataset or dataset
    command = command or previous.get("command")
    base_model = base_model or previous.get("base_model")
    training_config = training_config if training_config is not None else previous.get("training_config")
    examples = copy_examples(examples, output_dir) if examples else previous.get("examples") or []
    task = infer_task(config["seq_len"], config["vocab_size"])
    model_name = model_name or (repo_id or output_dir.resolve().name).split("/")[-1]
    hub_dataset = dataset if dataset and is_hub_id(dataset) else None
    provenance = {
        "metrics": metrics,
        "dataset": dataset,
        "eval_dataset": eval_dataset,
        "eval_split": eval_split,
        "command": command,
        "training_config": training_config,
        "examples": examples,
        "base_model": base_model,
    }
    card_data = ModelCardData(
        library_name="transformers",
        license="apache-2.0",
        tags=["hrm", "hierarchical-reasoning-model", "adaptive-computation-time", "puzzle", *([task] if task else [])],
        datasets=[hub_dataset] if hub_dataset else None,
        base_model=base_model,
        model_name=model_name,
        eval_results=eval_results(metrics, eval_dataset, eval_split, task) if metrics else None,
        **{PROVENANCE_KEY: {key: value for key, value in provenance.items() if value}},
    )
    card = ModelCard.from_template(
        card_data,
        template_path=str(template_path()),
        model_name=model_name,
        repo_id=repo_id or model_name,
        task_description=TASK_DESCRIPTIONS[task],
        usage_example=usage_example(task, config["seq_len"]),
        num_parameters=f"{count_parameters(output_dir) - puzzle_table_values(config):,}",
        puzzle_table_values=f"{puzzle_table_values(config):,}",
        dataset=dataset,
        dataset_link=f"https://huggingface.co/datasets/{hub_dataset}" if hub_dataset else None,
        metrics=metrics,
        eval_dataset=eval_dataset,
        eval_split=eval_split,
        command=command,
        training_config=yaml.safe_dump(training_config, sort_keys=False).strip() if training_config else None,
        examples=examples,
        **{
            key: config.get(key)
            for key in (
                "H_layers",
                "L_layers",
                "hidden_size",
                "H_cycles",
                "L_cycles",
                "halt_max_steps",
                "seq_len",
                "vocab_size",
            )
        },
    )
    card.save(card_path)
    return card_path


def puzzle_table_values(config: dict) -> int:
    """Values in the puzzle-embedding table, which the safetensors weights hold beside the parameters."""
    return config["num_puzzle_identifiers"] * config["puzzle_emb_ndim"]


def count_parameters(output_dir: Path) -> int:
    """Numbers stored in the folder's safetensors weights (the puzzle-embedding table included)."""
    total = 0
    for weights in sorted(output_dir.glob("*.safetensors")):
        with safe_open(weights, "pt") as f:
            total += sum(math.prod(f.get_slice(name).get_shape()) for name in f.keys())
    return total
