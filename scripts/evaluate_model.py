"""Score an HRM-ACT-v1 model on a puzzle dataset: one command instead of the authors' notebook.

    hrm evaluate --model runs/sudoku/model --dataset ./data/sudoku-extreme --split test
    hrm evaluate --model user/hrm-arc --dataset user/arc-aug-1000 --halting fixed adaptive --save-examples 4
    accelerate launch -m hrm_hf.scripts evaluate --model user/hrm-maze --dataset user/maze-hard --output-dir eval-maze

Model and dataset are local folders, or Hub repo ids `owner/name` where no such folder exists (a line names the repo
and commit); a path starting with `.` or `/`, or with two or more `/`, is always a folder. The model runs with the
installed HrmActModel code; `--trust-remote-code` runs the folder's or repo's own instead. Prints a table and writes `metrics.json` (exact, token and Q-halt
accuracy, mean segments, segments histogram; for ARC the voted pass@k) and, for ARC, a Kaggle `submission.json` (from
the first halting mode given). `--update-card` writes the results into the model's card: the folder's README.md, or
for a Hub repo a new commit of its card (the weights stay as they are; a refused push is one line).
Under `accelerate launch` each rank solves every world_size-th row and rank 0 gathers them, so no row counts twice.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from ..evaluation.loading import add_model_arguments
from .cli import HelpFormatter


if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PretrainedConfig

    from ..data.metadata import PuzzleDatasetMetadata
    from ..evaluation.halting import SolvedRow
    from ..tokenization_hrm import PuzzleType


TABLE_COLUMNS = ("exact_accuracy", "token_accuracy", "q_halt_accuracy", "mean_steps", "total_steps", "count")
CARD_METRICS = ("exact_accuracy", "token_accuracy", "q_halt_accuracy", "mean_steps")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    add_model_arguments(parser)
    parser.add_argument(
        "--dataset", required=True,
        help="Puzzle dataset folder, or Hub dataset repo id owner/name when no such folder exists.",
    )  # fmt: skip
    parser.add_argument(
        "--split", default="test", help="Dataset split to score (default: test; for ARC it holds the test inputs)."
    )
    parser.add_argument(
        "--halting", nargs="+", metavar="MODE",
        help="Halting modes to score, each on the same rows: fixed (every row runs max steps, the release) and/or "
        "adaptive (a row stops when q_halt > q_continue). Default: both.",
    )  # fmt: skip
    parser.add_argument("--max-steps", type=int, help="Most segments per row (default: the model's halt_max_steps).")
    parser.add_argument("--batch-size", type=int, default=64, help="Rows in flight per process (default: 64).")
    parser.add_argument("--limit", type=int, help="Score only the first LIMIT rows of the split.")
    parser.add_argument(
        "--output-dir", default="eval", help="Folder for metrics.json, submission.json and examples/ (default: eval)."
    )
    parser.add_argument(
        "--save-examples", type=int, default=0, metavar="N",
        help="Write PNG pictures of the first N rows (input, truth, prediction of the last halting mode, wrong cells "
        "marked) to OUTPUT_DIR/examples/ (default: 0).",
    )  # fmt: skip
    parser.add_argument(
        "--update-card", action="store_true",
        help="Write the metrics (adaptive ones suffixed _adaptive) and up to 3 examples into the model's card "
        "(README.md): in the local model folder, or for a Hub model a new commit of its card (on --revision's branch) "
        "that leaves the weights as they are.",
    )  # fmt: skip
    args = parser.parse_args(argv)
    for name, least in (("max_steps", 1), ("batch_size", 1), ("limit", 1), ("save_examples", 0)):
        value = getattr(args, name)
        if value is not None and value < least:
            parser.error(f"--{name.replace('_', '-')} must be at least {least}, got {value}")
    from ..evaluation.card import HALTING_SUFFIXES  # every halting mode, the release's first; after `--help`'s turn

    unknown = [mode for mode in args.halting or [] if mode not in HALTING_SUFFIXES]
    if unknown:
        parser.error(f"--halting must be one of {', '.join(HALTING_SUFFIXES)}, got {unknown[0]!r}")
    args.halting = args.halting or list(HALTING_SUFFIXES)
    return args


def load_split(dataset: str, split: str) -> tuple[Dataset, PuzzleDatasetMetadata]:
    """The split to score and its metadata; an unknown split exits naming the splits there are."""
    from ..data.storage import UnknownSplitError, load_puzzle_dataset, resolve_puzzle_dataset

    try:
        return load_puzzle_dataset(resolve_puzzle_dataset(dataset, "--dataset"), split=split)
    except UnknownSplitError as error:
        sys.exit(f"error: --split: {error}")


def check_fits(config: PretrainedConfig, metadata: PuzzleDatasetMetadata, args: argparse.Namespace) -> None:
    """Exit naming the field when the dataset's rows cannot run on the model: another sequence length, or token ids
    or puzzle identifiers beyond the model's tables."""
    for name in ("seq_len", "vocab_size", "num_puzzle_identifiers"):
        model_value, data_value = getattr(config, name), getattr(metadata, name)
        fits = model_value == data_value if name == "seq_len" else model_value >= data_value
        if not fits:
            sys.exit(
                f"error: --dataset {args.dataset} has {name}={data_value}, but --model {args.model} has {name}={model_value}."
            )


def print_table(results: dict[str, dict]) -> None:
    """One line per halting mode, then each mode's histogram of segments used."""
    columns = list(TABLE_COLUMNS) + sorted({k for m in results.values() for k in m if k.startswith("pass@")})
    print("halting".ljust(10) + "".join(c.rjust(17) for c in columns))
    for mode, metrics in results.items():
        print(
            mode.ljust(10)
            + "".join(f"{metrics[c]:17.4f}" if isinstance(metrics[c], float) else f"{metrics[c]:17d}" for c in columns)
        )
    for mode, metrics in results.items():
        print(f"{mode} segments histogram: {metrics['steps_histogram']}")


def save_examples(solved: list[SolvedRow], arrays: dict, kind: PuzzleType, count: int, output_dir: Path) -> list[Path]:
    """Pictures of the first `count` rows: input, truth and prediction with wrong cells marked (each replaced at
    once, never through a link)."""
    from ..data.render import render_example
    from ..folders import replacing

    pictures = []
    for i in range(min(count, len(solved))):
        name = f"examples/example_{i}.png"
        with replacing(output_dir, name) as tmp:
            labels, prediction = arrays["labels"][i].clip(0), solved[i].predictions.numpy()
            render_example(kind, arrays["input_ids"][i], labels, prediction, tmp)
        pictures.append(output_dir / name)
    return pictures


def card_update(results: dict[str, dict], args: argparse.Namespace, pictures: list[Path]) -> dict:
    """`write_model_card`'s arguments for the measured results: fixed-halting metrics by their names, the others
    suffixed with their mode."""
    from ..evaluation.card import HALTING_SUFFIXES

    metrics = {
        name + HALTING_SUFFIXES[mode]: value
        for mode, mode_metrics in results.items()
        for name, value in mode_metrics.items()
        if name in CARD_METRICS or name.startswith("pass@")
    }
    return {
        "metrics": metrics,
        "eval_dataset": args.dataset,
        "eval_split": args.split,
        "examples": pictures[:3] or None,
    }


def update_hub_card(repo_id: str, revision: str | None, update: dict) -> str:
    """Rewrite the card of the Hub model `repo_id` (branch `revision`) with `write_model_card(**update)` in a
    temporary folder, and commit it with its example pictures; returns the commit URL.

    The folder holds the downloaded card and its inputs, `config.json` and weights (which the card describes), so it is
    rendered exactly as for a local folder; nothing outside it is written. A failure raises `PushError` in one line.
    """
    import shutil
    import tempfile

    from huggingface_hub import HfApi, hf_hub_download

    from ..evaluation.card import CARD_INPUTS_NAME, CARD_NAME, EXAMPLES_DIR, write_model_card
    from ..hub import commit_files, with_retries

    api = HfApi()

    def download() -> dict[str, Path]:
        names = api.list_repo_files(repo_id, revision=revision)
        wanted = ["config.json", *(n for n in names if n.endswith(".safetensors") and "/" not in n)]
        wanted += [name for name in (CARD_NAME, CARD_INPUTS_NAME) if name in names]  # a repo without a card gets one
        return {name: Path(hf_hub_download(repo_id, name, revision=revision)) for name in wanted}

    with tempfile.TemporaryDirectory(prefix="hrm-card-") as tmp:
        folder = Path(tmp)
        files = with_retries(download, f"Download of the card of {repo_id}", repo_id, 3, 5.0)
        for name, path in files.items():
            if name in (CARD_NAME, CARD_INPUTS_NAME):  # copies: rewritten here, the cached files stay as they are
                shutil.copyfile(path, folder / name)
            else:
                (folder / name).symlink_to(path)
        write_model_card(folder, repo_id=repo_id, **update)
        files = {name: folder / name for name in (CARD_NAME, CARD_INPUTS_NAME)}
        files |= {f"{EXAMPLES_DIR}/{p.name}": p for p in sorted((folder / EXAMPLES_DIR).glob("*.png"))}
        return commit_files(
            repo_id, files, "Update the evaluation results in the model card", what=f"Card update of {repo_id}",
            revision=revision,
        )  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    # Imported once the arguments are read: `--help` and argument errors come without torch, datasets or evaluate.
    from accelerate import Accelerator

    from ..evaluation.loading import resolve_model
    from ..folders import claim_folder, refuse_same

    accelerator = Accelerator()
    source = resolve_model(args.model, "--model", args.revision)
    output_dir = Path(args.output_dir)
    refuse_same(output_dir, "--output-dir", {"--model": source.path, "--dataset": args.dataset})
    command = shlex.join(["hrm", "evaluate", *(sys.argv[1:] if argv is None else argv)])
    # The main process writes the results: it claims the folder first, so a second evaluation into it is refused.
    claim = claim_folder(output_dir, "--output-dir", command) if accelerator.is_main_process else nullcontext()
    with claim:
        return evaluate(args, accelerator, source, output_dir, command)


def evaluate(args: argparse.Namespace, accelerator, source, output_dir: Path, command: str) -> dict:
    """Score the model on the split in each halting mode; the main process writes `metrics.json`, the pictures, the
    submission and the card update, each replaced at once and never through a link."""
    from ..evaluation.card import write_model_card
    from ..evaluation.evaluator import evaluate_split
    from ..evaluation.loading import load_model
    from ..folders import claim_folder, write_file

    model = load_model(source, args.trust_remote_code).eval().to(accelerator.device)
    split, metadata = load_split(args.dataset, args.split)
    check_fits(model.config, metadata, args)
    kind = metadata.puzzle_type
    results, evaluation = {}, None
    for halting in args.halting:
        evaluation = evaluate_split(
            model, split, metadata, accelerator, halting=halting, batch_size=args.batch_size, limit=args.limit,
            max_steps=args.max_steps, progress=True,
        )  # fmt: skip
        results[halting] = {**evaluation.metrics, "steps_histogram": evaluation.steps_histogram}
        if evaluation.submission is not None and halting == args.halting[0] and accelerator.is_main_process:
            write_file(output_dir, "submission.json", json.dumps(evaluation.submission))
    if not accelerator.is_main_process:
        return {}
    report = {
        "model": args.model,
        "dataset": args.dataset,
        "split": args.split,
        "task": kind and kind.name,
        "results": results,
    }
    write_file(output_dir, "metrics.json", json.dumps(report, indent=2))
    print_table(results)
    pictures = (
        save_examples(evaluation.solved, evaluation.arrays, kind, args.save_examples, output_dir) if kind else []
    )
    for picture in pictures:
        print(f"Wrote {picture}")
    print(f"Wrote {output_dir / 'metrics.json'}")
    if args.update_card:
        update = card_update(results, args, pictures)
        if source.repo_id is None:
            with claim_folder(source.path, "--model", command):
                write_model_card(source.path, **update)
            print(f"Updated {source.path / 'README.md'}")
        else:
            print(f"Updated the card of {source.repo_id}: {update_hub_card(source.repo_id, args.revision, update)}")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
