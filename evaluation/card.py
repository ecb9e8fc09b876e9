"""The model card (`README.md` of a model folder or Hub repo), rendered from the repository's `model_card.md`.

Training, checkpoint conversion and `hrm evaluate --update-card` all call [`write_model_card`]. What a call does not
give (metrics, datasets, command, names) is kept from the previous call, which `card_inputs.json` beside the card
records, so the three can update one card in turn. The YAML metadata holds only what is right on the Hub: Hub ids,
never local paths, and the headline results in `model-index`; the full training config stays in `train_config.yaml`.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData
from safetensors import safe_open

from ..data.card import BIBTEX, PAPER_URL
from ..hub import names_hub_repo
from ..modeling_hrm import HALTING_MODES
from ..tokenization_hrm import PuzzleType, infer_puzzle_type


TEMPLATE_NAME = "model_card.md"
CARD_NAME = "README.md"
# What the card was last rendered from; read back by the next update.
CARD_INPUTS_NAME = "card_inputs.json"
BUFFERS = ("puzzle_emb.weight", "H_init", "L_init")  # the models' persistent buffers, saved with the weights
TRAIN_CONFIG_NAME = "train_config.yaml"
EXAMPLES_DIR = "examples"
# The release evaluates with fixed halting: its metrics keep their plain names on the card and come first; the names
# of every other mode's end in `_<mode>` (`hrm evaluate`).
RELEASE_HALTING = "fixed"
HALTING_SUFFIXES = {RELEASE_HALTING: "", **{mode: f"_{mode}" for mode in HALTING_MODES if mode != RELEASE_HALTING}}
HEADLINE_METRICS = {"exact_accuracy": "Exact accuracy", "token_accuracy": "Token accuracy"}
UNKNOWN_TASK_DESCRIPTION = "grid puzzles"
MODEL_TAGS = ["hrm", "hierarchical-reasoning-model", "adaptive-computation-time", "puzzle"]  # and the puzzle type's
TRM_PAPER_URL = "https://arxiv.org/abs/2510.04871"
TRM_BIBTEX = """\
@misc{jolicoeurmartineau2025morerecursivereasoningtiny,
      title={Less is More: Recursive Reasoning with Tiny Networks},
      author={Alexia Jolicoeur-Martineau},
      year={2025},
      eprint={2510.04871},
      archivePrefix={arXiv},
      primaryClass={cs.LG},
      url={https://arxiv.org/abs/2510.04871},
}"""
TRM_TAGS = ["trm", "tiny-recursive-model", "adaptive-computation-time", "puzzle"]
# What the card says of each model family, by the `model_type` of the folder's config: the family the template
# describes, its paper, BibTeX (TRM's card cites HRM's too, which it builds on) and tags.
FAMILY_CARDS = {
    "hrm_act_v1": {"family": "hrm", "paper_url": PAPER_URL, "bibtex": BIBTEX, "tags": MODEL_TAGS},
    "trm": {"family": "trm", "paper_url": TRM_PAPER_URL, "bibtex": f"{TRM_BIBTEX}\n\n{BIBTEX}", "tags": TRM_TAGS},
}


def template_path() -> Path:
    """`model_card.md`, package data of `hrm_hf` (the repository's top level in a checkout)."""
    return Path(__file__).resolve().parent.parent / TEMPLATE_NAME


def read_previous(output_dir: Path) -> dict:
    """What the folder's card was last rendered from (empty when there is none)."""
    path = output_dir / CARD_INPUTS_NAME
    return json.loads(path.read_text()) if path.is_file() else {}


def headline_results(
    metrics: dict[str, float], dataset: str | None, split: str | None, kind: PuzzleType | None
) -> list[EvalResult]:
    """The `model-index` entries: exact and token accuracy (and ARC pass@k) per halting mode, named with the mode
    and the mean segments used, measured on `dataset` when it is a Hub id."""
    hub_dataset = dataset if dataset and names_hub_repo(dataset) else None
    names = {**HEADLINE_METRICS, **{name: name for name in metrics if name.startswith("pass@") and "_" not in name}}
    results = []
    for halting, suffix in HALTING_SUFFIXES.items():
        mean_segments = metrics.get(f"mean_steps{suffix}")
        details = {"halting": halting} | ({} if mean_segments is None else {"mean_segments": mean_segments})
        described = f"{halting} halting" + ("" if mean_segments is None else f", {mean_segments:.2f} mean segments")
        results += [
            EvalResult(
                task_type="puzzle-solving",
                task_name=(kind.description if kind else UNKNOWN_TASK_DESCRIPTION).split(" (")[0],
                dataset_type=hub_dataset or "local",
                dataset_name=hub_dataset or f"local {kind.name if kind else 'puzzle'} dataset",
                dataset_split=split,
                metric_type=name,
                metric_name=f"{label} ({described})",
                metric_value=float(metrics[name + suffix]),
                metric_args=details,
            )
            for name, label in names.items()
            if name + suffix in metrics
        ]
    return results


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


def card_names(output_dir: Path, repo_id: str | None, model_name: str | None, previous: dict) -> tuple[str, str]:
    """The repo id of the usage snippet and the card's title: given, else the previous card's, else the folder's name
    (a new `repo_id` renames the title too)."""
    repo_id = repo_id or previous.get("repo_id") or output_dir.resolve().name
    if model_name is None:
        model_name = previous.get("model_name") if repo_id == previous.get("repo_id") else None
    return repo_id, model_name or repo_id.split("/")[-1]


def write_model_card(
    output_dir: str | Path,
    *,
    metrics: dict[str, float] | None = None,
    dataset: str | None = None,
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
        output_dir: the model folder; its `config.json` gives the architecture shown in the card, and its
            `train_config.yaml`, when there is one, is linked as the training configuration.
        metrics: measured metrics by name (all in the results table, the headline ones in `model-index`); replace
            earlier ones.
        dataset: the training dataset's Hub id (or folder).
        command: the command that produced the model.
        examples: picture paths to embed (copied into `output_dir/examples/` unless already inside the folder).
        repo_id: the Hub id (pushing) or final folder name used in the usage snippet; defaults to the previous
            card's, else the folder's name.
        model_name: the card's title and `model-index` name; defaults to the previous card's, else the last part of
            `repo_id`.
        eval_dataset: the dataset `metrics` were measured on; defaults to `dataset`.
        eval_split: the split of `eval_dataset` they were measured on.
        base_model: the Hub id of the model this one was converted or fine-tuned from.
    """
    output_dir = Path(output_dir)
    config_path = output_dir / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"output_dir: no config.json in {output_dir}; save the model before its card.")
    config = json.loads(config_path.read_text())
    previous = read_previous(output_dir)
    dataset = dataset or previous.get("dataset")
    if metrics is None:  # the earlier metrics stay, with where they were measured
        metrics = previous.get("metrics") or {}
        eval_dataset, eval_split = previous.get("eval_dataset"), previous.get("eval_split")
    inputs = {
        "metrics": metrics,
        "dataset": dataset,
        "eval_dataset": eval_dataset or dataset,
        "eval_split": eval_split,
        "command": command or previous.get("command"),
        "examples": copy_examples(examples, output_dir) if examples else previous.get("examples") or [],
        "base_model": base_model or previous.get("base_model"),
    }
    inputs["repo_id"], inputs["model_name"] = card_names(output_dir, repo_id, model_name, previous)
    kind = infer_puzzle_type(config["seq_len"], config["vocab_size"])
    family = FAMILY_CARDS.get(config.get("model_type"), FAMILY_CARDS["hrm_act_v1"])
    hub_dataset = dataset if dataset and names_hub_repo(dataset) else None
    card_data = ModelCardData(
        library_name="transformers",
        license="apache-2.0",
        tags=[*family["tags"], *([kind.name] if kind else [])],
        datasets=[hub_dataset] if hub_dataset else None,
        base_model=inputs["base_model"],
        model_name=inputs["model_name"],
        eval_results=headline_results(metrics, inputs["eval_dataset"], eval_split, kind) or None,
    )
    card = ModelCard.from_template(
        card_data,
        template_path=str(template_path()),
        **inputs,
        family=family["family"],
        paper_url=family["paper_url"],
        bibtex=family["bibtex"],
        task_description=kind.description if kind else UNKNOWN_TASK_DESCRIPTION,
        usage_example=kind.usage_example(config["seq_len"]) if kind else None,
        num_parameters=f"{count_parameters(output_dir):,}",
        puzzle_table_values=f"{puzzle_table_values(config):,}",
        dataset_link=f"https://huggingface.co/datasets/{hub_dataset}" if hub_dataset else None,
        train_config=TRAIN_CONFIG_NAME if (output_dir / TRAIN_CONFIG_NAME).is_file() else None,
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
                "mlp_t",
            )
        },
    )
    card.save(output_dir / CARD_NAME)
    (output_dir / CARD_INPUTS_NAME).write_text(json.dumps(inputs, indent=2) + "\n")
    return output_dir / CARD_NAME


def puzzle_table_values(config: dict) -> int:
    """Values in the puzzle-embedding table, which the safetensors weights hold beside the parameters."""
    return config["num_puzzle_identifiers"] * config["puzzle_emb_ndim"]


def count_parameters(output_dir: Path) -> int:
    """Parameters stored in the folder's safetensors weights: `model.num_parameters()`, without the model's persistent
    buffers (the puzzle-embedding table and the `H_init`/`L_init` start states)."""
    total = 0
    for weights in sorted(output_dir.glob("*.safetensors")):
        with safe_open(weights, "pt") as f:
            total += sum(math.prod(f.get_slice(name).get_shape()) for name in f.keys() if name not in BUFFERS)
    return total
