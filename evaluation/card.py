"""The model card (`README.md` of a model folder or Hub repo), rendered from the repository's `model_card.md`.

Training, checkpoint conversion and `hrm evaluate --update-card` all call [`write_model_card`]. What a call does not
give (metrics, datasets, command, names) is kept from the previous call, which `card_inputs.json` beside the card
records, so the three can update one card in turn. The YAML metadata holds only what is right on the Hub: Hub ids,
never local paths, and the headline results in `model-index`; the full training config stays in `train_config.yaml`.
Results measured on a Hub dataset are also written as the Hub reads evaluation results now, one
`.eval_results/<name>.yaml` per figure, each naming its protocol (halting, segments, transforms, selection, models);
the test-time scaling curve (`hrm evaluate --tta`) is drawn into the card with its table.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import yaml
from huggingface_hub import EvalResult, EvalResultEntry, ModelCard, ModelCardData, eval_result_entries_to_yaml
from safetensors import safe_open

from ..data.card import BIBTEX, PAPER_URL
from ..folders import copy_file, write_file
from ..hub import names_hub_repo
from ..modeling_hrm import HALTING_MODES
from ..records import check_record
from ..tokenization_hrm import PuzzleType, infer_puzzle_type


TEMPLATE_NAME = "model_card.md"
CARD_NAME = "README.md"
# What the card was last rendered from; read back by the next update.
CARD_INPUTS_NAME = "card_inputs.json"
# The fields of `card_inputs.json`, each optional, with their JSON kinds (`records.KINDS`; None: null).
CARD_INPUT_FIELDS = {
    "metrics": ("dict", None), "dataset": ("str", None), "eval_dataset": ("str", None), "eval_split": ("str", None),
    "command": ("str", None), "examples": ("list", None), "base_model": ("str", None), "scaling": ("list", None),
    "curve": ("str", None), "repo_id": ("str", None), "model_name": ("str", None),
}  # fmt: skip
# The fields of a figure's protocol (`protocol_text`).
PROTOCOL_FIELDS = {"halting": "str", "max_segments": "int", "tta": "int", "select": "str", "models": "int"}
# The fields of a model's `config.json` the card reads, with their kinds.
CARD_CONFIG_FIELDS = {
    "seq_len": "int", "vocab_size": "int", "halt_max_steps": "int", "num_puzzle_identifiers": "int",
    "puzzle_emb_ndim": "int",
}  # fmt: skip
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
EVAL_RESULTS_DIR = ".eval_results"
EVAL_RESULT_METRICS = ("exact_accuracy", "pass@2")  # the figures a leaderboard compares, where measured
PLAIN_SELECTION = "vote"  # one answer per puzzle: nothing to select, recorded as the default
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


def read_json_record(path: Path, fields: dict, optional: frozenset[str] = frozenset()) -> dict:
    """The JSON object in `path`, its `fields` checked (`records.check_record`); a file that is not JSON is a
    `ValueError` naming it."""
    try:
        values = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not JSON ({error}).") from None
    return check_record(values, fields, str(path), optional)


def read_previous(output_dir: Path) -> dict:
    """What the folder's card was last rendered from (empty when there is none), every field checked: the metrics
    numbers, the examples strings."""
    path = output_dir / CARD_INPUTS_NAME
    if not path.is_file():
        return {}
    previous = read_json_record(path, CARD_INPUT_FIELDS, frozenset(CARD_INPUT_FIELDS))
    check_record(previous.get("metrics") or {}, dict.fromkeys(previous.get("metrics") or {}, "number"),
                 f"{path}: field `metrics`")  # fmt: skip
    if not all(isinstance(example, str) for example in previous.get("examples") or []):
        raise ValueError(f"{path}: field `examples` must be a list of picture paths.")
    for i, point in enumerate(previous.get("scaling") or []):
        check_record(point, {"protocol": "dict"}, f"{path}: field `scaling`, point {i}")
        check_record(point["protocol"], PROTOCOL_FIELDS, f"{path}: field `scaling`, point {i}'s protocol")
    return previous


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


def protocol_text(protocol: dict) -> str:
    """A figure's protocol in words: `fixed halting, 16 segments, K=8 transforms, rules selection, 1 model`."""
    models = protocol["models"]
    return (
        f"{protocol['halting']} halting, {protocol['max_segments']} segments, K={protocol['tta']} transforms, "
        f"{protocol['select']} selection, {models} model{'s' if models > 1 else ''}"
    )


def plain_points(metrics: dict[str, float], halt_max_steps: int) -> list[dict]:
    """The figures of a plain evaluation (one model, the puzzles as they are, `halt_max_steps` segments) as points
    with their protocol, one per halting mode measured."""
    points = []
    for halting, suffix in HALTING_SUFFIXES.items():
        figures = {name: metrics[name + suffix] for name in EVAL_RESULT_METRICS if name + suffix in metrics}
        if figures:
            protocol = {"halting": halting, "max_segments": halt_max_steps, "tta": 1, "select": PLAIN_SELECTION}
            points.append({**figures, "protocol": protocol | {"models": 1}})
    return points


def eval_result_name(dataset: str, metric: str, protocol: dict) -> str:
    """The file name of one figure: dataset, metric and protocol, in characters any file system takes."""
    name = (
        f"{dataset.split('/')[-1]}_{metric}_{protocol['halting']}_{protocol['max_segments']}seg_"
        f"k{protocol['tta']}_{protocol['select']}_{protocol['models']}models"
    )
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name) + ".yaml"


def eval_result_entries(
    points: list[dict], dataset: str, split: str | None, source_repo: str | None = None
) -> dict[str, EvalResultEntry]:
    """The `.eval_results/` files of `points` measured on the Hub dataset `dataset`, by file name: one figure each,
    its protocol in `notes`, today's date, and the model repo as its source when there is one."""
    date = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    source = (
        {"source_url": f"https://huggingface.co/{source_repo}", "source_name": "hrm evaluate"} if source_repo else {}
    )
    entries = {}
    for point in points:
        for metric in EVAL_RESULT_METRICS:
            if metric in point:
                entries[eval_result_name(dataset, metric, point["protocol"])] = EvalResultEntry(
                    dataset_id=dataset, task_id=split or "default", value=round(float(point[metric]), 6), date=date,
                    notes=f"{metric}; {protocol_text(point['protocol'])}", **source,
                )  # fmt: skip
    return entries


def write_eval_results(
    folder: Path, points: list[dict], dataset: str | None, split: str | None, source_repo: str | None = None
) -> list[Path]:
    """Replace `folder/.eval_results/` with the files of `points`, where `dataset` is a Hub dataset (a local one has
    no id the Hub could link); returns the files written."""
    if not dataset or not names_hub_repo(dataset):
        return []
    target = Path(folder) / EVAL_RESULTS_DIR
    shutil.rmtree(target, ignore_errors=True)
    entries = eval_result_entries(points, dataset, split, source_repo)
    if entries:
        target.mkdir(parents=True)
    for name, entry in entries.items():
        (target / name).write_text(yaml.safe_dump(eval_result_entries_to_yaml([entry]), sort_keys=False))
    return [target / name for name in entries]


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
        name = f"{EXAMPLES_DIR}/{source.name}"
        if source.resolve() != (output_dir / name).resolve():
            copy_file(source, output_dir, name)
        relative.append(name)
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
    scaling: list[dict] | None = None,
    curve: str | Path | None = None,
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
        scaling: the points of a test-time scaling curve (`hrm evaluate --tta`), each its metrics and its `protocol`;
            shown as a table, kept while `metrics` are.
        curve: the picture of that curve (copied into the folder like `examples`).
    """
    output_dir = Path(output_dir)
    config_path = output_dir / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"output_dir: no config.json in {output_dir}; save the model before its card.")
    config = read_json_record(config_path, CARD_CONFIG_FIELDS)
    previous = read_previous(output_dir)
    dataset = dataset or previous.get("dataset")
    if metrics is None:  # the earlier metrics stay, with where they were measured and the curve measured with them
        metrics = previous.get("metrics") or {}
        eval_dataset, eval_split = previous.get("eval_dataset"), previous.get("eval_split")
        scaling, curve = previous.get("scaling"), previous.get("curve")
    elif curve is not None:
        curve = copy_examples([curve], output_dir)[0]
    inputs = {
        "metrics": metrics,
        "dataset": dataset,
        "eval_dataset": eval_dataset or dataset,
        "eval_split": eval_split,
        "command": command or previous.get("command"),
        "examples": copy_examples(examples, output_dir) if examples else previous.get("examples") or [],
        "base_model": base_model or previous.get("base_model"),
        "scaling": scaling,
        "curve": curve,
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
    points = scaling or plain_points(metrics, config["halt_max_steps"])
    write_eval_results(output_dir, points, inputs["eval_dataset"], eval_split, repo_id_on_hub(inputs["repo_id"]))
    card = ModelCard.from_template(
        card_data,
        template_path=str(template_path()),
        **inputs,
        family=family["family"],
        paper_url=family["paper_url"],
        bibtex=family["bibtex"],
        task_description=kind.description if kind else UNKNOWN_TASK_DESCRIPTION,
        usage_example=kind.usage_example(config["seq_len"]) if kind else None,
        takes_transforms=kind is not None and not kind.voted_over_augmentations,  # the pipeline's `tta`
        num_parameters=f"{count_parameters(output_dir):,}",
        puzzle_table_values=f"{puzzle_table_values(config):,}",
        dataset_link=f"https://huggingface.co/datasets/{hub_dataset}" if hub_dataset else None,
        train_config=TRAIN_CONFIG_NAME if (output_dir / TRAIN_CONFIG_NAME).is_file() else None,
        adaptive_named=any(name.endswith(HALTING_SUFFIXES["adaptive"]) for name in metrics),
        scaling_rows=[{**point, "protocol_text": protocol_text(point["protocol"])} for point in scaling or []],
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
    write_file(output_dir, CARD_NAME, str(card))  # never through a link planted in the folder
    write_file(output_dir, CARD_INPUTS_NAME, json.dumps(inputs, indent=2) + "\n")
    return output_dir / CARD_NAME


def repo_id_on_hub(repo_id: str) -> str | None:
    """`repo_id` where it names a Hub repo (not a folder's name)."""
    return repo_id if names_hub_repo(repo_id) else None


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
