"""Build the HRM puzzle datasets (Sudoku, Maze, ARC) as a `datasets.DatasetDict` folder, optionally pushed to the Hub.

Examples:
    hrm build-dataset sudoku --generate 1000 --seed 0 --output-dir data/sudoku-gen-1k
    hrm build-dataset sudoku --csv train.csv --test-csv test.csv --subsample-size 1000 --num-aug 1000 --output-dir data/sudoku-extreme-1k-aug-1000
    hrm build-dataset sudoku --source sapientinc/sudoku-extreme --subsample-size 1000 --num-aug 1000 --output-dir data/sudoku-extreme-1k-aug-1000
    hrm build-dataset maze --source sapientinc/maze-30x30-hard-1k --output-dir data/maze-30x30-hard-1k
    hrm build-dataset maze --generate 1000 --dihedral-aug --output-dir data/maze-gen-1k
    hrm build-dataset arc --kaggle-dir kaggle/ --subsets training evaluation concept --test-set evaluation --output-dir data/arc-1-aug-1000
    hrm build-dataset sudoku --from-release-dir data/sudoku-extreme-1k-aug-1000 --output-dir data/sudoku-hf
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from ..folders import is_empty_folder, same_path
from ..hub import resolve
from .cli import HelpFormatter


if TYPE_CHECKING:  # the data package (and `datasets`) is imported once the options are parsed: `--help` stays light
    from ..data.metadata import Provenance
    from ..data.puzzle_csv import PuzzleRow

CSV_SOURCES = (
    "the authors' CSV files (--csv with --test-csv, or --source: a Hub dataset repo or folder holding train.csv and "
    "test.csv), generated offline (--generate) or a release folder (--from-release-dir): give exactly one."
)
CSV_FILES = ("train.csv", "test.csv")  # the authors' names, in their Hub dataset repos too
ARC_LICENSED_SUBSETS = {"training", "evaluation", "training2", "evaluation2"}  # ARC-AGI-1/2: Apache-2.0


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--output-dir", type=Path, required=True, help="folder to write (must be absent or empty)")
    common.add_argument("--seed", type=int, default=0, help="seed of every random choice (default: 0)")
    common.add_argument("--push-to-hub", metavar="REPO", help="also push the dataset to this Hub dataset repo")
    common.add_argument("--private", action="store_true", help="create the Hub repo as private")
    common.add_argument("--revision", metavar="BRANCH", help="branch to push to (created if needed; default: main)")
    common.add_argument(
        "--from-release-dir",
        type=Path,
        metavar="DIR",
        help="import a folder built by the authors' scripts (dataset.json, all__inputs.npy, ...)",
    )
    return common


def _csv_options(parser: argparse.ArgumentParser, kind: str, aug_help: str) -> None:
    parser.add_argument(
        "--csv", type=Path, help=f"training {kind} in the authors' CSV format (source,question,answer,rating)"
    )
    parser.add_argument("--test-csv", type=Path, help="test CSV (required with --csv)")
    parser.add_argument(
        "--source",
        metavar="REPO_OR_DIR",
        help=f"a Hub dataset repo id (e.g. sapientinc/{'sudoku-extreme' if 'Sudoku' in kind else 'maze-30x30-hard-1k'})"
        " or a folder holding the authors' train.csv and test.csv",
    )
    parser.add_argument("--source-revision", metavar="REV", help="branch, tag or commit of --source (default: main)")
    parser.add_argument("--generate", type=int, metavar="N", help=f"generate N training {kind} offline")
    parser.add_argument(
        "--test-generate", type=int, metavar="M", help="generated test puzzles (default: same as --generate)"
    )
    parser.add_argument(
        "--save-csv", type=Path, metavar="DIR", help="also write the generated rows as DIR/train.csv, DIR/test.csv"
    )
    parser.add_argument("--subsample-size", type=int, help="keep this many training rows, drawn with --seed")
    parser.add_argument(
        "--skip-invalid", action="store_true", help="skip malformed CSV rows with a warning instead of failing"
    )
    parser.add_argument(
        "--min-rating",
        type=int,
        default=0,
        help="keep only CSV rows (Sudoku: also generated puzzles) whose rating is at least this",
    )
    parser.epilog = aug_help


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    commands = parser.add_subparsers(dest="task", required=True)
    common = _common_options()

    s = commands.add_parser(
        "sudoku",
        parents=[common],
        formatter_class=HelpFormatter,
        help="Sudoku (9x9, or 4x4 with --size 4)",
        description="Sudoku from " + CSV_SOURCES,
    )
    _csv_options(s, "Sudoku puzzles", "Rating of generated puzzles: dead ends of a backtracking solver.")
    s.add_argument("--num-aug", type=int, default=0, help="augmented copies of each training puzzle (default: 0)")
    s.add_argument("--size", type=int, choices=(4, 9), default=9, help="grid size (default: 9)")
    s.add_argument(
        "--min-clues",
        type=int,
        help="generated puzzles get between --min-clues and --max-clues clues "
        "(default: as few as keep the solution unique)",
    )
    s.add_argument("--max-clues", type=int, help="see --min-clues (default: --min-clues)")

    m = commands.add_parser(
        "maze",
        parents=[common],
        formatter_class=HelpFormatter,
        help="Maze (30x30)",
        description="Mazes from " + CSV_SOURCES,
    )
    _csv_options(m, "mazes", "Rating of generated mazes: shortest path length.")
    m.add_argument("--dihedral-aug", action="store_true", help="add the 8 dihedral transforms of each training maze")
    m.add_argument("--size", type=int, default=30, help="maze side (default: 30)")
    m.add_argument(
        "--min-path-length", type=int, default=110, help="shortest S-G path of generated mazes (default: 110)"
    )
    m.add_argument(
        "--loop-fraction", type=float, default=0.1, help="share of inner walls opened to make loops (default: 0.1)"
    )

    a = commands.add_parser(
        "arc",
        parents=[common],
        formatter_class=HelpFormatter,
        help="ARC-AGI",
        description="ARC-AGI tasks in the Kaggle layout (--kaggle-dir), one JSON file per task (--tasks-dir) or "
        "imported from a release folder (--from-release-dir): give exactly one. "
        "ARC-1: --subsets training evaluation concept --test-set evaluation (the defaults); "
        "ARC-2: --subsets training2 evaluation2 concept --test-set evaluation2.",
    )
    a.add_argument("--kaggle-dir", type=Path, help="folder with arc-agi_<subset>_challenges.json and _solutions.json")
    a.add_argument(
        "--tasks-dir",
        type=Path,
        help="folder with one sub-folder of per-task JSON files per subset, searched recursively "
        "(e.g. ARC-AGI/data, holding training/ and evaluation/; add ConceptARC's corpus/ as concept/)",
    )
    a.add_argument(
        "--subsets",
        nargs="+",
        default=["training", "evaluation", "concept"],
        help="subsets to include (default: training evaluation concept = ARC-1; ARC-2: training2 evaluation2 concept)",
    )
    a.add_argument(
        "--test-set",
        default="evaluation",
        help="subset whose test pairs form the test split; its demonstrations go to train (default: evaluation)",
    )
    a.add_argument("--num-aug", type=int, default=1000, help="augmentations per task (default: 1000)")
    a.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="processes encoding tasks (default: all cores)"
    )
    return parser


def _check_sources(parser: argparse.ArgumentParser, args: argparse.Namespace, names: list[str]) -> None:
    given = [name for name in names if getattr(args, name.lstrip("-").replace("-", "_")) is not None]
    if len(given) != 1:
        parser.error(f"{args.task}: give exactly one of {', '.join(names)}")
    if getattr(args, "csv", None) is not None and args.test_csv is None:
        parser.error("--csv needs --test-csv")
    if getattr(args, "source_revision", None) is not None and args.source is None:
        parser.error("--source-revision needs --source")
    for name, sources in USED_ONLY_WITH.items():
        if getattr(args, name, None) is not None and all(getattr(args, source) is None for source in sources):
            used_with = " or ".join(f"--{source.replace('_', '-')}" for source in sources)
            parser.error(f"--{name.replace('_', '-')} is used only with {used_with}, which is not given")


# Options that only one way of getting rows reads: given with another, they would be silently ignored.
USED_ONLY_WITH = {
    "subsample_size": ("csv", "source"), "test_generate": ("generate",), "save_csv": ("generate",),
    "min_clues": ("generate",), "max_clues": ("generate",),
}  # fmt: skip


# Options that are counts, with the least value that can build a dataset (absent ones are not checked).
LEAST_VALUES = {"generate": 1, "test_generate": 1, "subsample_size": 1, "num_aug": 0, "workers": 1, "min_clues": 0,
                "max_clues": 0, "min_path_length": 1, "size": 3}  # fmt: skip


def _check_numbers(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Counts, clue ranges and fractions that could never build a dataset, refused before any work."""
    for name, least in LEAST_VALUES.items():
        value = getattr(args, name, None)
        if value is not None and value < least:
            parser.error(f"--{name.replace('_', '-')} must be at least {least}, got {value}")
    if getattr(args, "min_clues", None) is not None:
        cells, low = args.size * args.size, args.min_clues
        high = args.max_clues if args.max_clues is not None else low
        if not low <= high <= cells:
            parser.error(f"--min-clues and --max-clues must satisfy min <= max <= {cells}, got {low} and {high}")
    elif getattr(args, "max_clues", None) is not None:
        parser.error("--max-clues needs --min-clues")
    if getattr(args, "loop_fraction", None) is not None and not 0 <= args.loop_fraction <= 1:
        parser.error(f"--loop-fraction must be in [0, 1], got {args.loop_fraction}")


# Bytes of one row in the Arrow shards: `input_ids` and `labels` (int8 tokens, each list with its 4-byte offset) and
# the three int32 columns (`puzzle_identifiers`, `puzzle_index`, `group_index`).
def row_bytes(seq_len: int) -> int:
    return 2 * (seq_len + 4) + 3 * 4


def free_bytes(folder: Path) -> int:
    """Bytes free on the file system that holds `folder` (or, while it does not exist, its nearest existing parent)."""
    folder = folder.absolute()
    while not folder.exists():
        folder = folder.parent
    return shutil.disk_usage(folder).free


def check_rows_fit(rows: int, seq_len: int, output_dir: Path, options: str) -> None:
    """A `ValueError` with the estimate when `rows` rows of `seq_len` tokens would not fit on the disk of
    `output_dir`, before a single one is made (`options`: the options that asked for them)."""
    needed, free = rows * row_bytes(seq_len), free_bytes(output_dir)
    if needed > free:
        raise ValueError(
            f"{options}: about {rows:,} rows of {seq_len} tokens ({needed / 2**30:,.1f} GiB), more than the "
            f"{free / 2**30:,.1f} GiB free where --output-dir {output_dir} is."
        )


def _csv_files(args: argparse.Namespace) -> tuple[Path, Path, str, list[str] | None]:
    """The training and test CSV files, how the card names where they come from, and the Hub dataset they are of."""
    if args.source is None:
        return args.csv, args.test_csv, f"`{args.csv.name}`", None
    source = resolve(
        args.source, "--source", repo_type="dataset", revision=args.source_revision, allow_patterns=list(CSV_FILES)
    )
    missing = [name for name in CSV_FILES if not (source.path / name).is_file()]
    if missing:
        raise FileNotFoundError(f"--source {args.source} holds no {' and no '.join(missing)}.")
    where = f" of the Hub dataset `{source.repo_id}` at commit {source.commit}" if source.repo_id else ""
    return (
        source.path / "train.csv",
        source.path / "test.csv",
        f"`train.csv`{where}",
        [source.repo_id] if source.repo_id else None,
    )


def _csv_rows(args: argparse.Namespace, validate, command: str) -> tuple[list[PuzzleRow], list[PuzzleRow], Provenance]:
    """The rows of the CSV files that pass `validate` and `--min-rating`, and where they come from (no license)."""
    import numpy as np

    from ..data.metadata import Provenance
    from ..data.puzzle_csv import read_puzzle_csv

    train_csv, test_csv, named, source_datasets = _csv_files(args)
    train = [r for r in read_puzzle_csv(train_csv, validate, args.skip_invalid) if r.rating >= args.min_rating]
    test = [r for r in read_puzzle_csv(test_csv, validate, args.skip_invalid) if r.rating >= args.min_rating]
    source = f"Read from {named} ({len(train)} rows with rating >= {args.min_rating}) and `{test_csv.name}` ({len(test)} rows)"
    if args.subsample_size is not None and args.subsample_size < len(train):
        chosen = np.random.default_rng(args.seed).choice(len(train), args.subsample_size, replace=False)
        train = [train[i] for i in chosen]
        source += f"; {args.subsample_size} training rows subsampled with seed {args.seed}"
    return train, test, Provenance(source + ".", None, command, source_datasets)


def _generated_count(args: argparse.Namespace) -> int:
    """Puzzles `--generate` and `--test-generate` ask for together."""
    return args.generate + (args.test_generate if args.test_generate is not None else args.generate)


def _generated_rows(
    args: argparse.Namespace, generate, description: str, command: str
) -> tuple[list[PuzzleRow], list[PuzzleRow], Provenance]:
    """Rows made by `generate` (described by `description` on the card; ours, so Apache-2.0), split into training
    and test rows, and saved as CSV with `--save-csv`."""
    from ..data.metadata import Provenance
    from ..data.puzzle_csv import write_puzzle_csv

    test_count = args.test_generate if args.test_generate is not None else args.generate
    try:
        rows = generate(_generated_count(args))
    except ValueError as error:  # e.g. fewer distinct puzzles of this kind exist than asked for
        raise ValueError(f"--generate {args.generate} and --test-generate {test_count}: {error}") from None
    train, test = rows[: args.generate], rows[args.generate :]
    if args.save_csv is not None:
        write_puzzle_csv(args.save_csv / "train.csv", train)
        write_puzzle_csv(args.save_csv / "test.csv", test)
    source = (
        f"Generated offline by `{description}` ({len(train)} training and {len(test)} test puzzles, all distinct)."
    )
    return train, test, Provenance(source, "apache-2.0", command)


def _build_sudoku(args: argparse.Namespace, command: str):
    from ..data import sudoku
    from ..data.sudoku_generator import generate_puzzles

    seq_len, options = args.size * args.size, f"--num-aug {args.num_aug}"
    if args.generate is None:
        train, test, provenance = _csv_rows(args, partial(sudoku.validate_row, size=args.size), command)
        check_rows_fit(len(train) * (1 + args.num_aug) + len(test), seq_len, args.output_dir, options)
    else:
        check_rows_fit(_generated_count(args) * (1 + args.num_aug), seq_len, args.output_dir, options)
        clues = None if args.min_clues is None else (args.min_clues, args.max_clues or args.min_clues)
        generate = partial(generate_puzzles, seed=args.seed, size=args.size, clues=clues, min_rating=args.min_rating)
        train, test, provenance = _generated_rows(
            args,
            generate,
            f"data.sudoku_generator.generate_puzzles(size={args.size}, clues={clues}, min_rating={args.min_rating}, seed={args.seed})",
            command,
        )
    return sudoku.build_sudoku_dataset(
        train,
        test,
        num_aug=args.num_aug,
        seed=args.seed,
        size=args.size,
        output_dir=args.output_dir,
        provenance=provenance,
    )


def _build_maze(args: argparse.Namespace, command: str):
    from ..data import maze
    from ..data.maze_generator import generate_mazes

    seq_len, copies = args.size * args.size, 8 if args.dihedral_aug else 1
    if args.generate is None:
        train, test, provenance = _csv_rows(args, partial(maze.validate_row, side=args.size), command)
        check_rows_fit(len(train) * copies + len(test), seq_len, args.output_dir, f"--size {args.size}")
    else:
        check_rows_fit(_generated_count(args) * copies, seq_len, args.output_dir, f"--generate {args.generate}")
        generate = partial(
            generate_mazes,
            seed=args.seed,
            side=args.size,
            min_path_length=args.min_path_length,
            loop_fraction=args.loop_fraction,
        )
        train, test, provenance = _generated_rows(
            args,
            generate,
            f"data.maze_generator.generate_mazes(side={args.size}, min_path_length={args.min_path_length}, loop_fraction={args.loop_fraction}, seed={args.seed})",
            command,
        )
    return maze.build_maze_dataset(
        train, test, dihedral_aug=args.dihedral_aug, output_dir=args.output_dir, provenance=provenance
    )


def _build_arc(args: argparse.Namespace, command: str):
    from ..data import arc
    from ..data.metadata import Provenance
    from ..data.puzzle_csv import PuzzleFormatError
    from ..tokenization_hrm import ARC_SEQ_LEN

    if args.test_set not in args.subsets:
        raise PuzzleFormatError(f"--test-set {args.test_set} is not among --subsets {args.subsets}")
    kaggle = args.kaggle_dir is not None
    tasks = arc.load_tasks(args.kaggle_dir if kaggle else args.tasks_dir, args.subsets, kaggle=kaggle)
    pairs = sum(len(task.train) + len(task.test) for task in tasks)
    check_rows_fit(pairs * (1 + args.num_aug), ARC_SEQ_LEN, args.output_dir, f"--num-aug {args.num_aug}")
    source = (
        f"ARC-AGI tasks of subsets {', '.join(args.subsets)} ({len(tasks)} tasks, "
        f"{'Kaggle JSON' if kaggle else 'one JSON file per task'}); test pairs of `{args.test_set}` form the test split; "
        f"{args.num_aug} augmentations per task, seed {args.seed}."
    )
    license = "apache-2.0" if set(args.subsets) <= ARC_LICENSED_SUBSETS else None
    return arc.build_arc_dataset(
        tasks,
        args.test_set,
        num_aug=args.num_aug,
        seed=args.seed,
        workers=args.workers,
        output_dir=args.output_dir,
        provenance=Provenance(source, license, command),
    )


BUILDERS = {"sudoku": _build_sudoku, "maze": _build_maze, "arc": _build_arc}
SOURCES = {
    "sudoku": ["--csv", "--source", "--generate"],
    "maze": ["--csv", "--source", "--generate"],
    "arc": ["--kaggle-dir", "--tasks-dir"],
}


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    _check_sources(parser, args, [*SOURCES[args.task], "--from-release-dir"])
    _check_numbers(parser, args)
    if not is_empty_folder(args.output_dir):
        parser.error(f"--output-dir {args.output_dir} is not an empty folder")
    if getattr(args, "save_csv", None) is not None:
        if args.save_csv.exists() and same_path(args.save_csv, args.output_dir):
            parser.error(f"--save-csv {args.save_csv} is the --output-dir; choose another folder")
        for name in ("train.csv", "test.csv"):
            if (args.save_csv / name).exists() or (args.save_csv / name).is_symlink():
                parser.error(f"--save-csv {args.save_csv}: {name} exists there already; choose another folder")
    command = "hrm build-dataset " + shlex.join(argv)
    from ..data.puzzle_csv import PuzzleFormatError
    from ..data.release import build_from_release
    from ..data.storage import push_puzzle_dataset

    try:  # the builder claims --output-dir and, when it fails, removes only what it wrote there
        if args.from_release_dir is not None:
            dataset, _ = build_from_release(
                args.from_release_dir, args.task, output_dir=args.output_dir, build_command=command
            )
        else:
            dataset, _ = BUILDERS[args.task](args, command)
    except (PuzzleFormatError, FileNotFoundError) as error:
        sys.exit(f"error: {error}")
    print(dataset)
    print(f"Saved to {args.output_dir}")
    if args.push_to_hub:
        url = push_puzzle_dataset(args.output_dir, args.push_to_hub, private=args.private, revision=args.revision)
        print(f"Pushed: {url}")


if __name__ == "__main__":
    main()
