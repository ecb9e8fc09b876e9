"""The CPU demo: generate Sudoku offline, train a small model on the CPU, evaluate it on held-out puzzles, save a
Hub-ready folder, reload it with `from_pretrained` and watch it solve one held-out puzzle segment by segment, in the
terminal and as a GIF (`solve-segments.gif` in the output folder).

    hrm demo                        # 9x9 Sudoku, 45 of 81 cells blank: a TRM (MLP across the cells), ~6 min on 2 cores
    hrm demo --puzzles sudoku4      # 4x4 Sudoku, 6 of 16 cells blank: a small HRM, ~3 min on 2 cores
    hrm demo [--output-dir DIR] [--max-steps N] [--seed N] [--num-threads N] [--overwrite-output-dir]

Run it on a quiet machine: its figures are wall-clock, and torch threads that share a core with other work wait on
each other.
"""

import argparse
import json
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..folders import entries, remove
from ..tokenization_hrm import SUDOKU, decode_sudoku, format_sudoku
from .cli import HelpFormatter


@dataclass(frozen=True)
class DemoPuzzles:
    """What a demo trains on: generated Sudoku of one size and clue count, and the preset that learns them."""

    size: int
    clues: int
    preset: str
    train: int = 20000
    test: int = 500

    @property
    def blanks(self) -> int:
        return self.size * self.size - self.clues

    def describe(self) -> str:
        return f"{self.size}x{self.size} Sudoku ({self.blanks} of {self.size * self.size} cells blank)"


DEMOS = {
    "sudoku9": DemoPuzzles(size=9, clues=36, preset="cpu-demo-sudoku9"),
    "sudoku4": DemoPuzzles(size=4, clues=10, preset="cpu-demo"),  # the suite's run: minutes on 2 cores
}
GIF_NAME = "solve-segments.gif"
NATIVE_BF16_FLAGS = {"avx512_bf16", "amx_bf16"}  # CPU flags (Linux) of processors with bfloat16 matmul instructions


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware; elsewhere bfloat16 is emulated, slower than float32."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        return False
    flags = {word for line in cpuinfo.read_text().splitlines() if line.startswith("flags") for word in line.split()}
    return bool(flags & NATIVE_BF16_FLAGS)


def compiler_works() -> bool:
    """Whether `torch.compile` builds CPU kernels here (it needs a C++ compiler and the Python headers)."""
    import torch

    try:
        torch.compile(torch.neg)(torch.ones(2))
    except Exception:  # noqa: BLE001 - any failure to build means: train eagerly
        return False
    return True


def fit_to_machine(values: dict) -> tuple[dict, list[str]]:
    """The preset's `values` with what this machine lacks turned off (bfloat16 without hardware support, compilation
    without a compiler), and a line saying so for each."""
    notes = []
    if values["arch"].get("forward_dtype") == "bfloat16" and not cpu_has_native_bf16():
        values = values | {"arch": values["arch"] | {"forward_dtype": "float32"}}
        notes.append("this CPU has no bfloat16 instructions (avx512_bf16, amx_bf16): training in float32, slower")
    if values.get("compile") and not compiler_works():
        values = values | {"compile": False}
        notes.append("torch.compile cannot build kernels here (no C++ compiler or Python headers): training eagerly")
    return values, notes


def build_data(folder: Path, seed: int, puzzles: DemoPuzzles):
    """Distinct train and held-out puzzles (no test question appears in training), saved to `folder` as well."""
    from ..data.metadata import Provenance
    from ..data.sudoku import build_sudoku_dataset
    from ..data.sudoku_generator import generate_puzzles

    clues = (puzzles.clues, puzzles.clues)
    rows = generate_puzzles(puzzles.train + puzzles.test, seed=seed, size=puzzles.size, clues=clues, progress=False)
    remove_earlier_puzzles(folder)
    return build_sudoku_dataset(
        rows[: puzzles.train], rows[puzzles.train :], size=puzzles.size, seed=seed, output_dir=folder,
        provenance=Provenance(
            f"data.sudoku_generator.generate_puzzles(size={puzzles.size}, clues={clues}, seed={seed})",
            build_command="hrm demo",
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


def side_by_side(panels: list[tuple[str, str]], per_line: int = 3) -> str:
    """Grids (each a title and its text) printed `per_line` to a row, titles above."""
    width = max(len(line) for title, grid in panels for line in [title, *grid.splitlines()]) + 3
    rows = []
    for start in range(0, len(panels), per_line):
        chunk = panels[start : start + per_line]
        rows.append("".join(title.ljust(width) for title, _ in chunk).rstrip())
        for lines in zip(*(grid.splitlines() for _, grid in chunk), strict=True):
            rows.append("".join(line.ljust(width) for line in lines).rstrip())
        rows.append("")
    return "\n".join(rows)


# Held-out puzzles looked through for one worth watching: one the first segment does not finish.
WATCHED_CANDIDATES = 64


def puzzle_worth_watching(rollout, labels) -> tuple[int, str]:
    """The row of a rollout to show, and why: the first whose first segment is not all right but whose answer where
    adaptive halting stops is (thinking longer fixed it), else the first solved at all, else the first row. `labels`
    is the rows' label tensor."""
    right = (rollout.predictions == labels).all(-1)  # (segments, rows)
    halted_right = right[rollout.halt_steps.long() - 1, range(labels.shape[0])]
    for row in range(labels.shape[0]):
        if halted_right[row] and not right[0, row]:
            return row, "the first held-out puzzle that the first segment did not finish"
    solved = [row for row in range(labels.shape[0]) if halted_right[row]]
    return (solved[0], "the first held-out puzzle it solves") if solved else (0, "the first held-out puzzle")


def show_segments(model_dir: Path, dataset, gif: Path) -> None:
    """Reload the saved folder as a user would and watch it solve a held-out puzzle (`puzzle_worth_watching`): every
    segment's answer with its count of blanks filled right, where adaptive halting stops, and the same as a GIF."""
    import torch

    from ..data.render import render_segments
    from ..evaluation.halting import roll_out_segments
    from ..evaluation.loading import load_model

    model = load_model(model_dir).eval()
    rows = dataset["test"].select(range(min(WATCHED_CANDIDATES, len(dataset["test"]))))
    with torch.no_grad():
        rollout = roll_out_segments(model, torch.tensor(rows["input_ids"]))
    index, which = puzzle_worth_watching(rollout, torch.tensor(rows["labels"]))
    halt, row = int(rollout.halt_steps[index]), rows[index]
    puzzle, truth = decode_sudoku(row["input_ids"]), decode_sudoku(row["labels"])
    blanks = [cell for cell, digit in enumerate(puzzle) if digit == "."]
    panels = [("puzzle", format_sudoku(puzzle))]
    predictions = [step[index].numpy() for step in rollout.predictions]
    answers = [decode_sudoku(prediction) for prediction in predictions]
    for step, answer in enumerate(answers, start=1):
        right = sum(answer[cell] == truth[cell] for cell in blanks)
        mark = ", halts" if step == halt else ""
        panels.append((f"segment {step}: {right}/{len(blanks)} right{mark}", format_sudoku(answer)))
    panels.append(("truth", format_sudoku(truth)))
    print(f"\nWatching {which}, segment by segment (blanks filled right after each):\n\n{side_by_side(panels)}")
    verdict = "solved correctly" if answers[halt - 1] == truth else "NOT solved"
    print(f"{verdict} in {halt} of {model.config.halt_max_steps} segments (adaptive halting)")
    print(f"The same as a GIF: {render_segments(SUDOKU, row['input_ids'], predictions, halt, gif)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument(
        "--puzzles", default="sudoku9", choices=list(DEMOS),
        help="sudoku9: 9x9 with 45 blanks (preset cpu-demo-sudoku9); sudoku4: 4x4 with 6 blanks (preset cpu-demo)",
    )  # fmt: skip
    parser.add_argument(
        "--output-dir", default=None,
        help="where checkpoints, the model folder and the GIF go (default: the preset's, outputs/<preset>)",
    )  # fmt: skip
    parser.add_argument("--max-steps", type=int, default=None, help="optimizer steps (default: the preset's)")
    parser.add_argument(
        "--seed", type=int, default=0, help="seeds the generated puzzles and the training (default: 0)"
    )
    parser.add_argument(
        "--num-threads", type=int, default=None, help="torch threads (default: the preset's, else torch's)"
    )
    parser.add_argument(
        "--overwrite-output-dir", action="store_true", help="replace the run (and puzzles) of an earlier demo there"
    )
    args = parser.parse_args(argv)
    from ..training.config import TrainConfig, load_preset  # after parsing: `--help` stays light
    from ..training.loop import claim_output_dir, train

    puzzles = DEMOS[args.puzzles]
    values = load_preset(puzzles.preset) | {"seed": args.seed, "overwrite_output_dir": args.overwrite_output_dir}
    if args.output_dir:  # the puzzles go inside it too, as in the preset
        values |= {"output_dir": args.output_dir, "data_path": str(Path(args.output_dir) / "data")}
    for option in ("max_steps", "num_threads"):
        if getattr(args, option) is not None:
            values[option] = getattr(args, option)
    # A bad option is refused before the machine is probed: the probe compiles, which takes seconds.
    TrainConfig.from_dict(values)
    values, notes = fit_to_machine(values)
    for note in notes:
        print(f"Note: {note}.")
    config = TrainConfig.from_dict(values)
    command = shlex.join(["hrm", "demo", *(sys.argv[1:] if argv is None else argv)])
    # The run's folder is claimed, puzzles included, and checked to hold no other run before they are rebuilt.
    with claim_output_dir(config, is_main_process=True, command=command):
        start = time.time()
        dataset, metadata = build_data(Path(config.data_path), config.seed, puzzles)
        print(
            f"Built {len(dataset['train'])} training and {len(dataset['test'])} held-out {puzzles.describe()} "
            f"in {time.time() - start:.0f}s."
        )
        trained = time.time()
        result = train(config, dataset=(dataset, metadata), command=command)
        training = time.time() - trained
        show_segments(result.model_dir, dataset, Path(config.output_dir) / GIF_NAME)
    print(
        f"\nHeld-out exact accuracy {result.metrics['exact_accuracy']:.1%} (token accuracy "
        f"{result.metrics['token_accuracy']:.1%}) on {len(dataset['test'])} {puzzles.describe()}, after "
        f"{result.step} steps: {training:.0f}s training, {time.time() - start:.0f}s wall in all, "
        f"{time.process_time():.0f} CPU-s. Model folder: {result.model_dir}"
    )


if __name__ == "__main__":
    main()
