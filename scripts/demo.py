"""The CPU demo: build a small 4x4 Sudoku dataset offline, train the `cpu-demo` preset, evaluate, save a Hub-ready
folder, reload it with `from_pretrained` and show one held-out puzzle solved next to its truth.

    hrm demo [--output-dir outputs/cpu-demo] [--max-steps N] [--overwrite-output-dir]
"""

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from ..folders import entries, remove
from ..tokenization_hrm import decode_sudoku, format_sudoku
from .cli import HelpFormatter


SIZE = 4
CLUES = (10, 10)  # 6 of 16 cells blank
TRAIN_PUZZLES, TEST_PUZZLES = 20000, 500


def build_data(folder: Path, seed: int):
    """Distinct train and held-out puzzles (no test question appears in training), saved to `folder` as well."""
    from ..data.metadata import Provenance
    from ..data.sudoku import build_sudoku_dataset
    from ..data.sudoku_generator import generate_puzzles

    rows = generate_puzzles(TRAIN_PUZZLES + TEST_PUZZLES, seed=seed, size=SIZE, clues=CLUES, progress=False)
    remove_earlier_puzzles(folder)
    return build_sudoku_dataset(
        rows[:TRAIN_PUZZLES], rows[TRAIN_PUZZLES:], size=SIZE, seed=seed, output_dir=folder,
        provenance=Provenance(
            f"data.sudoku_generator.generate_puzzles(size={SIZE}, clues={CLUES}, seed={seed})", build_command="hrm demo"
        ),
    )  # fmt: skip


def remove_earlier_puzzles(folder: Path) -> None:
    """Empty `folder` of the puzzles an earlier demo saved there, and only of those: anything else in it (a user's
    files, another dataset) is refused in one line, never deleted."""
    from ..data.storage import CARD_FILE, IDENTIFIERS_FILE, METADATA_FILE

    if not folder.exists():
        return
    found = entries(folder) if folder.is_dir() and not folder.is_symlink() else [folder]
    try:
        metadata = json.loads((folder / METADATA_FILE).read_text())
        splits = list(metadata["splits"])
        built_here = all(fields["build_command"] == "hrm demo" for fields in metadata["splits"].values())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        splits, built_here = [], False
    ours = {*splits, "dataset_dict.json", METADATA_FILE, IDENTIFIERS_FILE, CARD_FILE}
    strangers = [entry.name for entry in found if entry.name not in ours or entry.is_symlink()]
    if found and (not built_here or strangers):
        what = ", ".join(strangers[:3]) or "a dataset of another command"
        raise FileExistsError(
            f"--output-dir: {str(folder)!r} holds files no earlier demo wrote ({what}); the demo keeps its puzzles "
            "there, so choose another --output-dir."
        )
    for entry in found:
        remove(entry)


def show_one(model_dir: Path, dataset) -> None:
    """Reload the saved folder as a user would and solve the first held-out puzzle with adaptive halting."""
    import torch

    from ..evaluation.loading import load_model

    model = load_model(model_dir).eval()
    row = dataset["test"][0]
    out = model.solve(torch.tensor([row["input_ids"]]), halting="adaptive")
    prediction = decode_sudoku(out.predictions[0].numpy())
    truth = decode_sudoku(row["labels"])
    puzzle = format_sudoku(decode_sudoku(row["input_ids"])).splitlines()
    solved = format_sudoku(prediction).splitlines()
    expected = format_sudoku(truth).splitlines()
    print(f"\n{'puzzle':<14}{'model':<14}truth")
    for a, b, c in zip(puzzle, solved, expected, strict=True):
        print(f"{a:<14}{b:<14}{c}")
    verdict = "solved correctly" if prediction == truth else "NOT solved"
    print(f"{verdict} in {out.steps[0].item()} of {model.config.halt_max_steps} segments (adaptive halting)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument(
        "--output-dir",
        default=None,
        help="where checkpoints and the model folder go (default: the preset's, outputs/cpu-demo)",
    )
    parser.add_argument("--max-steps", type=int, default=None, help="optimizer steps (default: the preset's, 3000)")
    parser.add_argument(
        "--seed", type=int, default=0, help="seeds the generated puzzles and the training (default: 0)"
    )
    parser.add_argument(
        "--overwrite-output-dir", action="store_true", help="replace the run (and puzzles) of an earlier demo there"
    )
    args = parser.parse_args(argv)
    from ..training.config import TrainConfig, load_preset  # after parsing: `--help` stays light
    from ..training.loop import claim_output_dir, train

    values = load_preset("cpu-demo") | {"seed": args.seed, "overwrite_output_dir": args.overwrite_output_dir}
    if args.output_dir:  # the puzzles go inside it too, as in the preset
        values |= {"output_dir": args.output_dir, "data_path": str(Path(args.output_dir) / "data")}
    if args.max_steps:
        values["max_steps"] = args.max_steps
    config = TrainConfig.from_dict(values)
    command = shlex.join(["hrm", "demo", *(sys.argv[1:] if argv is None else argv)])
    # The run's folder is claimed, puzzles included, and checked to hold no other run before they are rebuilt.
    with claim_output_dir(config, is_main_process=True, command=command):
        start = time.time()
        dataset, metadata = build_data(Path(config.data_path), config.seed)
        print(
            f"Built {len(dataset['train'])} training and {len(dataset['test'])} held-out 4x4 Sudoku in {time.time() - start:.1f}s."
        )
        result = train(config, dataset=(dataset, metadata), command=command)
    elapsed = time.time() - start
    show_one(result.model_dir, dataset)
    print(
        f"\nHeld-out exact accuracy {result.metrics['exact_accuracy']:.1%} (token accuracy {result.metrics['token_accuracy']:.1%}) "
        f"after {result.step} steps, {elapsed:.0f}s wall, {time.process_time():.0f} CPU-s. Model folder: {result.model_dir}"
    )


if __name__ == "__main__":
    main()
