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

Test-time scaling, and the curve of exact accuracy against compute it buys:

    hrm evaluate --model runs/sudoku/model --dataset ./data/sudoku --tta 1 2 4 8 16 32 --select vote rules
    hrm evaluate --model runs/sudoku/model --dataset ./data/sudoku --halting adaptive --max-steps 4 8 16 32
    hrm evaluate --model runs/a/model runs/b/model runs/c/model --dataset ./data/sudoku

`--tta K` solves each puzzle under K transforms of its type at once (the identity and K-1 random ones that keep it a
valid puzzle), maps the answers back and selects one: `vote` ranks them by votes, then by mean Q-halt confidence (the
authors' ARC voting); `rules` first drops the answers that break the puzzle's rules or change a given. `--max-steps`
may exceed the model's halt_max_steps (the carry runs on). Several `--model`s vote together. Each combination of
halting, segments, K and selection is one point: a table gives its exact accuracy, segments per puzzle and
wall-clock, `tts_curve.png` draws them, and `.eval_results/*.yaml` holds them as the Hub reads evaluation results,
each naming its protocol; `--update-card` puts the curve, its table and those files into the model's folder or repo.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shlex
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from ..evaluation.loading import add_model_arguments
from .cli import HelpFormatter


if TYPE_CHECKING:
    from accelerate import Accelerator
    from datasets import Dataset

    from ..data.metadata import PuzzleDatasetMetadata
    from ..evaluation.evaluator import SplitEvaluation
    from ..evaluation.halting import SolvedRow
    from ..tokenization_hrm import PuzzleType


TABLE_COLUMNS = ("exact_accuracy", "token_accuracy", "q_halt_accuracy", "mean_steps", "total_steps", "count")
CARD_METRICS = ("exact_accuracy", "token_accuracy", "q_halt_accuracy", "mean_steps")
PROTOCOL_COLUMNS = ("halting", "max_segments", "tta", "select", "models")
SCALING_COLUMNS = ("exact_accuracy", "mean_steps", "seconds")
CURVE_NAME = "tts_curve.png"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    add_model_arguments(parser, several=True)
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
    parser.add_argument(
        "--max-steps", "--max-segments", type=int, nargs="+", metavar="N",
        help="Most segments per row (default: the model's halt_max_steps); more than halt_max_steps lets the carry run "
        "on, with fixed or adaptive halting. Several values are points of the curve.",
    )  # fmt: skip
    parser.add_argument(
        "--tta", type=int, nargs="+", default=[1], metavar="K",
        help="Solve each puzzle under K transforms of its puzzle type in one batch (the identity and K-1 random ones: "
        "Sudoku's digit relabelling and line shuffles, a maze's 8 symmetries) and select one answer (default: 1, the "
        "puzzle as it is). Several values are points of the curve.",
    )  # fmt: skip
    parser.add_argument(
        "--select", nargs="+", default=["vote"], metavar="MODE",
        help="How one answer is picked from the transforms' and the models': vote (most votes, then the highest mean "
        "Q-halt confidence, as the authors' ARC voting) and/or rules (answers that break the puzzle's rules or change "
        "a given are dropped first). Default: vote.",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="Seed of the random transforms of --tta (default: 0).")
    parser.add_argument("--batch-size", type=int, default=64, help="Rows in flight per process (default: 64).")
    parser.add_argument(
        "--limit", type=int,
        help="Score only the first LIMIT rows of the split (ARC: and the other rows of their tasks, so that no task is "
        "scored over part of its test inputs).",
    )  # fmt: skip
    parser.add_argument(
        "--output-dir", default="eval", help="Folder for metrics.json, submission.json and examples/ (default: eval)."
    )
    parser.add_argument(
        "--save-examples", type=int, default=0, metavar="N",
        help="Write PNG pictures of the first N rows (input, truth, prediction of the last point measured, wrong cells "
        "marked) to OUTPUT_DIR/examples/ (default: 0).",
    )  # fmt: skip
    parser.add_argument(
        "--update-card", action="store_true",
        help="Write the metrics (adaptive ones suffixed _adaptive) and up to 3 examples into the model's card "
        "(README.md): in the local model folder, or for a Hub model a new commit of its card (on --revision's branch) "
        "that leaves the weights as they are.",
    )  # fmt: skip
    args = parser.parse_args(argv)
    for name, least in (("max_steps", 1), ("tta", 1), ("batch_size", 1), ("limit", 1), ("save_examples", 0)):
        values = getattr(args, name)
        for value in values if isinstance(values, list) else [values]:
            if value is not None and value < least:
                parser.error(f"--{name.replace('_', '-')} must be at least {least}, got {value}")
    from ..evaluation.card import HALTING_SUFFIXES  # every halting mode, the release's first; after `--help`'s turn
    from ..pipeline_hrm import SELECTIONS

    for option, given, allowed in (("halting", args.halting, HALTING_SUFFIXES), ("select", args.select, SELECTIONS)):
        unknown = [mode for mode in given or [] if mode not in allowed]
        if unknown:
            parser.error(f"--{option} must be one of {', '.join(allowed)}, got {unknown[0]!r}")
    args.halting = args.halting or list(HALTING_SUFFIXES)
    args.max_steps = args.max_steps or [None]
    if args.update_card and len(args.model) > 1:
        parser.error("--update-card needs one --model: an ensemble's results belong to no single model's card")
    return args


def load_split(dataset: str, split: str) -> tuple[Dataset, PuzzleDatasetMetadata]:
    """The split to score and its metadata; an unknown split exits naming the splits there are."""
    from ..data.storage import UnknownSplitError, load_puzzle_dataset, resolve_puzzle_dataset

    try:
        return load_puzzle_dataset(resolve_puzzle_dataset(dataset, "--dataset"), split=split)
    except UnknownSplitError as error:
        sys.exit(f"error: --split: {error}")


def check_puzzle_type(model_folder: Path, metadata: PuzzleDatasetMetadata, dataset: str, model: str) -> None:
    """Exit when the model was trained on another puzzle type than the dataset's: sizes alone do not tell a 4x4 maze
    from a 4x4 Sudoku. A model without the record (a converted release) is taken for the type its sizes fit."""
    from ..evaluation.model_folder import TRAINED_ON_FILE, read_trained_on

    trained_on, held = read_trained_on(model_folder), metadata.puzzle_type_name
    if trained_on is not None and held and trained_on["puzzle_type"] != held:
        sys.exit(
            f"error: --dataset {dataset} holds {held} puzzles, but --model {model} was trained on "
            f"{trained_on['puzzle_type']} puzzles (its {TRAINED_ON_FILE})."
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
    rendered exactly as for a local folder; nothing outside it is written. The commit carries the card, its pictures
    and the `.eval_results/` files. A failure raises `PushError` in one line.
    """
    import shutil
    import tempfile

    from huggingface_hub import HfApi, hf_hub_download

    from ..evaluation.card import CARD_INPUTS_NAME, CARD_NAME, EVAL_RESULTS_DIR, EXAMPLES_DIR, write_model_card
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
        files |= {f"{EVAL_RESULTS_DIR}/{p.name}": p for p in sorted((folder / EVAL_RESULTS_DIR).glob("*.yaml"))}
        return commit_files(
            repo_id, files, "Update the evaluation results in the model card", what=f"Card update of {repo_id}",
            revision=revision,
        )  # fmt: skip


def is_plain(protocol: dict, halt_max_steps: int) -> bool:
    """Whether a point is the plain evaluation: one model, the puzzle as it is, the model's own segment limit."""
    return protocol["tta"] == 1 and protocol["models"] == 1 and protocol["max_segments"] == halt_max_steps


def print_scaling(points: list[dict]) -> None:
    """One line per point of the curve: its protocol, exact accuracy, segments per puzzle and wall-clock."""
    print("test-time scaling:")
    print("".join(c.rjust(16) for c in (*PROTOCOL_COLUMNS, *SCALING_COLUMNS)))
    for point in points:
        values = [point["protocol"][c] for c in PROTOCOL_COLUMNS] + [point[c] for c in SCALING_COLUMNS]
        print("".join(f"{v:16.4f}" if isinstance(v, float) else f"{v!s:>16}" for v in values))


def curve_series(points: list[dict]) -> dict[str, list[tuple[float, float, str]]]:
    """The curve's lines: the points of one halting mode, selection and model count, by segments per puzzle; each
    marked with what was scaled (`K=8`, `32 seg`)."""
    scaled_tta = len({p["protocol"]["tta"] for p in points}) > 1
    series: dict[str, list] = {}
    for point in sorted(points, key=lambda p: p["mean_steps"]):
        protocol = point["protocol"]
        name = f"{protocol['halting']}, {protocol['select']}" + (
            f", {protocol['models']} models" if protocol["models"] > 1 else ""
        )
        mark = f"K={protocol['tta']}" if scaled_tta else f"{protocol['max_segments']} seg"
        series.setdefault(name, []).append((point["mean_steps"], point["exact_accuracy"], mark))
    return series


def write_curve(points: list[dict], path: Path, title: str) -> Path:
    from ..data.render import render_curve

    return render_curve(curve_series(points), path, title, "forward segments per puzzle", "exact accuracy")


def measure(
    models: list, arrays: dict, metadata: PuzzleDatasetMetadata, accelerator: Accelerator, args: argparse.Namespace
) -> tuple[dict[str, dict], list[dict], SplitEvaluation, SplitEvaluation]:
    """Every point of the sweep: each halting mode, segment limit and K solved once, scored under each selection.

    Returns the plain evaluations by halting mode (one model, K=1, the model's segment limit: the table `hrm evaluate`
    always printed), every point with its protocol and wall-clock, and the first and the last point's evaluation (the
    ARC submission comes from the first, the pictures from the last).
    """
    from ..evaluation.card import protocol_text
    from ..evaluation.evaluator import score_candidates, solve_candidates

    halt_max_steps = models[0].config.halt_max_steps
    results, points, first, evaluation = {}, [], None, None
    for halting, max_steps, tta in itertools.product(args.halting, args.max_steps, args.tta):
        candidates = solve_candidates(
            models, arrays, metadata.puzzle_type, accelerator, halting=halting, batch_size=args.batch_size,
            max_steps=max_steps, tta=tta, seed=args.seed, progress=accelerator.is_main_process,
        )  # fmt: skip
        for select in args.select:
            evaluation = score_candidates(candidates, arrays, metadata, accelerator, select)
            protocol = evaluation.protocol
            if is_plain(protocol, halt_max_steps) and halting not in results:
                results[halting] = {**evaluation.metrics, "steps_histogram": evaluation.steps_histogram}
            points.append(
                {
                    **evaluation.metrics,
                    "seconds": evaluation.seconds,
                    "protocol": protocol,
                    "label": protocol_text(protocol),
                }
            )
            first = first or evaluation
    return results, points, first, evaluation


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    # Imported once the arguments are read: `--help` and argument errors come without torch, datasets or evaluate.
    from accelerate import Accelerator

    from ..evaluation.loading import resolve_model
    from ..folders import claim_folder, refuse_same

    accelerator = Accelerator()
    sources = [resolve_model(model, "--model", args.revision) for model in args.model]
    output_dir = Path(args.output_dir)
    inputs = {f"--model {name}": source.path for name, source in zip(args.model, sources, strict=True)}
    refuse_same(output_dir, "--output-dir", {**inputs, "--dataset": args.dataset})
    command = shlex.join(["hrm", "evaluate", *(sys.argv[1:] if argv is None else argv)])
    # The main process writes the results: it claims the folder first, so a second evaluation into it is refused.
    claim = claim_folder(output_dir, "--output-dir", command) if accelerator.is_main_process else nullcontext()
    with claim:
        return evaluate(args, accelerator, sources, output_dir, command)


def evaluate(args: argparse.Namespace, accelerator, sources: list, output_dir: Path, command: str) -> dict:
    """Score the models on the split at each test-time setting; the main process writes `metrics.json`, the
    pictures, the curve, the submission and the card update, each replaced at once and never through a link."""
    from ..evaluation.card import read_previous, write_eval_results, write_model_card
    from ..evaluation.loading import load_model
    from ..evaluation.model_folder import dataset_misfit
    from ..evaluation.scoring import dataset_arrays
    from ..folders import claim_folder, write_file
    from ..pipeline_hrm import check_tta

    models = [load_model(source, args.trust_remote_code).eval().to(accelerator.device) for source in sources]
    if args.update_card and sources[0].repo_id is None:
        read_previous(sources[0].path)  # a damaged card_inputs.json is refused now, not after the whole evaluation
    split, metadata = load_split(args.dataset, args.split)
    for model, name, source in zip(models, args.model, sources, strict=True):
        misfit = dataset_misfit(model.config, metadata, f"--dataset {args.dataset}", f"--model {name}")
        if misfit:
            sys.exit(f"error: {misfit}")
        check_puzzle_type(source.path, metadata, args.dataset, name)
    kind = metadata.puzzle_type
    if kind is None and "rules" in args.select:
        sys.exit(f"error: --select rules: --dataset {args.dataset} names no puzzle type whose rules it could check.")
    try:
        for tta in args.tta:
            check_tta(kind, tta)
    except ValueError as error:
        sys.exit(f"error: --tta: {error}")
    arrays = dataset_arrays(split, metadata, args.limit)
    results, points, first, last = measure(models, arrays, metadata, accelerator, args)
    if first.submission is not None and accelerator.is_main_process:
        write_file(output_dir, "submission.json", json.dumps(first.submission))
    if not accelerator.is_main_process:
        return {}
    report = {
        "model": args.model[0] if len(args.model) == 1 else args.model,
        "dataset": args.dataset,
        "split": args.split,
        "task": kind and kind.name,
        "results": results,
    }
    scaled = len(points) > len(results)
    if scaled:
        report["scaling"] = points
    write_file(output_dir, "metrics.json", json.dumps(report, indent=2))
    if results:
        print_table(results)
    pictures = save_examples(last.solved, last.arrays, kind, args.save_examples, output_dir) if kind else []
    written = [*pictures, output_dir / "metrics.json"]
    curve = None
    if scaled:
        print_scaling(points)
        curve = write_curve(points, output_dir / CURVE_NAME, f"{kind.name if kind else 'puzzles'} {args.split}")
        written.append(curve)
    written += write_eval_results(output_dir, points, args.dataset, args.split, sources[0].repo_id)
    for path in written:
        print(f"Wrote {path}")
    if args.update_card:
        source = sources[0]
        update = card_update(results, args, pictures) | {"scaling": points if scaled else None, "curve": curve}
        if source.repo_id is None:
            with claim_folder(source.path, "--model", command):
                write_model_card(source.path, **update)
            print(f"Updated {source.path / 'README.md'}")
        else:
            print(f"Updated the card of {source.repo_id}: {update_hub_card(source.repo_id, args.revision, update)}")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
