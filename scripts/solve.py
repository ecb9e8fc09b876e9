"""Solve one puzzle with an HRM-ACT-v1 model and print the answer.

    hrm solve --model user/hrm-sudoku --sudoku "..3.2.6..9..3.5..1..18.64....81.29..7.......8..67.82....26.95..8..2.3..9..5.1.3.."
    hrm solve --model user/hrm-maze --maze maze.txt
    hrm solve --model user/hrm-arc --arc "[[0, 1], [1, 0]]" --puzzle-identifier 17

A Sudoku is its cells row by row (`.` or `0` for blanks); a maze is 30 lines of `# SGo` (a file or the text); an ARC
input is a JSON grid (a file or the text). The puzzle type must be the model's.
"""

import argparse
import json
import sys
from pathlib import Path

from ..evaluation.loading import add_model_arguments
from ..tokenization_hrm import MAZE_SIDE, PuzzleInputError, format_sudoku, infer_task
from .cli import HelpFormatter


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    add_model_arguments(parser)
    puzzle = parser.add_mutually_exclusive_group(required=True)
    puzzle.add_argument("--sudoku", help="The Sudoku's cells row by row, '.' or '0' for blanks.")
    puzzle.add_argument(
        "--maze", help="A file holding the maze, or its 30 lines of '# SGo' (wall, open, start, goal)."
    )
    puzzle.add_argument("--arc", help="A JSON file holding the ARC input grid, or the JSON text itself.")
    parser.add_argument(
        "--puzzle-identifier", type=int,
        help="Row of the puzzle-embedding table (ARC: the puzzle's index in the training data's identifiers.json); "
        "default: the blank puzzle.",
    )  # fmt: skip
    parser.add_argument(
        "--halting", choices=("fixed", "adaptive"), default="adaptive", help="Halting mode (default: adaptive)."
    )
    parser.add_argument("--max-steps", type=int, help="Most segments (default: the model's halt_max_steps).")
    args = parser.parse_args(argv)
    if args.max_steps is not None and args.max_steps < 1:
        parser.error(f"--max-steps must be at least 1, got {args.max_steps}")
    return args


def read_puzzle(args: argparse.Namespace) -> tuple[str, str | list]:
    """(task, puzzle) from whichever of --sudoku, --maze, --arc was given; files are read."""
    if args.sudoku is not None:
        return "sudoku", args.sudoku
    text = args.maze if args.maze is not None else args.arc
    if "\n" not in text and Path(text).is_file():
        text = Path(text).read_text()
    if args.maze is not None:
        if "\n" not in text:  # one line is no maze: most likely a mistyped file name
            raise PuzzleInputError(f"maze must be a file or {MAZE_SIDE} lines of text, got no file {text!r}.")
        return "maze", text
    try:
        return "arc", json.loads(text)
    except json.JSONDecodeError as error:
        raise PuzzleInputError(
            f"arc must be a JSON file or grid such as [[0, 1], [1, 0]], got {text[:40]!r}: {error}"
        ) from None


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        task, puzzle = read_puzzle(args)
    except PuzzleInputError as error:
        sys.exit(f"error: {error}")
    # Imported once the arguments are read, so that `--help` and argument errors come without loading torch.
    from ..evaluation.loading import load_model
    from ..evaluation.puzzles import answer_problem, solve_puzzle

    model = load_model(args.model, args.trust_remote_code, args.revision).eval()
    model_task = infer_task(model.config.seq_len, model.config.vocab_size)
    if model_task != task:
        sys.exit(f"error: --{task} given, but the model {args.model} is for {model_task or 'an unknown puzzle type'}.")
    try:
        prediction, steps, confidence = solve_puzzle(
            model, task, puzzle, args.puzzle_identifier, args.halting, args.max_steps
        )
    except ValueError as error:  # a bad puzzle (PuzzleInputError) or one the model rejects (--puzzle-identifier)
        sys.exit(f"error: {error}")
    print(
        format_sudoku(prediction)
        if task == "sudoku"
        else prediction
        if task == "maze"
        else json.dumps(prediction.tolist())
    )
    problem = answer_problem(task, puzzle, prediction)
    if problem:  # the model's answer breaks the rules: say so, and exit non-zero for scripts
        sys.exit(
            f"not solved: {problem.replace('field ', '')} (segments: {steps}, halting confidence: {confidence:.3f})"
        )
    print(f"segments: {steps}, halting confidence: {confidence:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
