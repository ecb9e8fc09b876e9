"""Show rows of a puzzle dataset decoded, as text or as a picture: look at a dataset without writing code.

    hrm show outputs/data/sudoku-gen --split test --rows 0:16 --png sudoku.png
    hrm show user/arc-aug-1000 --split train --rows 0:4

DATASET is a folder written by `hrm build-dataset`, or a Hub dataset repo id owner/name where no such folder exists.
Each row is drawn (or printed) as its puzzle beside its solution, titled with its row, augmentation group and puzzle
(rows of one group are augmentations of one source puzzle) and, where the dataset names them, its puzzle identifier.
"""

import argparse
import sys

from .cli import HelpFormatter


SMALL_GRID_CELLS = 16  # a 4x4 Sudoku: four rows of the dataset fit in a row of the picture


def parse_rows(text: str) -> tuple[int, int]:
    """`A:B` (rows A to B-1) or `A` (row A alone) as (start, stop)."""
    start, _, stop = text.partition(":")
    try:
        first = int(start)
        last = int(stop) if stop else first + 1
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rows must be A:B or A with whole numbers, got {text!r}") from None
    if not 0 <= first < last:
        raise argparse.ArgumentTypeError(f"--rows must have 0 <= A < B, got {text!r}")
    return first, last


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("dataset", help="Puzzle dataset folder, or Hub dataset repo id owner/name.")
    parser.add_argument("--split", default="test", help="Split to show (default: test).")
    parser.add_argument(
        "--rows", type=parse_rows, default=(0, 8), metavar="A:B", help="Rows A to B-1 of the split (default: 0:8)."
    )
    parser.add_argument("--png", metavar="PATH", help="Draw the rows to PATH instead of printing them.")
    parser.add_argument("--revision", help="Branch, tag or commit of a Hub dataset (default: main).")
    return parser.parse_args(argv)


def row_title(row: int, group: int, puzzle: int, name: str | None) -> str:
    """A row's title: where it is and which rows it is an augmentation of."""
    return f"row {row}, group {group}, puzzle {puzzle}" + (f": {name}" if name else "")


def side_by_side(left: str, right: str) -> str:
    """Two blocks of text lines next to each other."""
    left_lines, right_lines = left.split("\n"), right.split("\n")
    width = max(map(len, left_lines))
    rows = max(len(left_lines), len(right_lines))
    left_lines += [""] * (rows - len(left_lines))
    right_lines += [""] * (rows - len(right_lines))
    return "\n".join(f"{a.ljust(width)}    {b}".rstrip() for a, b in zip(left_lines, right_lines, strict=True))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # Imported once the arguments are read, so that `--help` and argument errors come without loading datasets.
    from ..data.render import decode_grid, render_rows
    from ..data.storage import load_puzzle_dataset, resolve_puzzle_dataset

    split, metadata = load_puzzle_dataset(
        resolve_puzzle_dataset(args.dataset, "dataset", args.revision), split=args.split
    )
    start, stop = args.rows
    if start >= split.num_rows:
        sys.exit(f"error: --rows {start}:{stop} starts beyond split {args.split!r}, which has {split.num_rows} rows.")
    kind = metadata.puzzle_type
    if kind is None:
        sys.exit(
            f"error: dataset {args.dataset} holds no known puzzle type "
            f"(seq_len={metadata.seq_len}, vocab_size={metadata.vocab_size})."
        )
    rows = split.select(range(start, min(stop, split.num_rows))).with_format("numpy")[:]
    names = metadata.identifier_names
    shown = [
        (
            row_title(start + i, int(rows["group_index"][i]), int(rows["puzzle_index"][i]),
                      names[rows["puzzle_identifiers"][i]] if names else None),
            rows["input_ids"][i],
            rows["labels"][i].clip(0),  # positions without loss (-100) show as padding
        )
        for i in range(len(rows["input_ids"]))
    ]  # fmt: skip
    if args.png is not None:
        pairs_per_row = 4 if metadata.seq_len <= SMALL_GRID_CELLS else 2  # pictures about 1,000 pixels wide
        print(f"Wrote {render_rows(kind, shown, args.png, pairs_per_row)}")
        return
    for title, inputs, labels in shown:
        puzzle, solution = (kind.show_text(decode_grid(kind, tokens)) for tokens in (inputs, labels))
        print(f"{title}\n{side_by_side(puzzle, solution)}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
