"""Solve one puzzle with an HRM-ACT-v1 model and print the answer.

    hrm solve --model user/hrm-sudoku --sudoku "..3.2.6..9..3.5..1..18.64....81.29..7.......8..67.82....26.95..8..2.3..9..5.1.3.."
    hrm solve --model user/hrm-maze --maze maze.txt
    hrm solve --model user/hrm-arc --arc "[[0, 1], [1, 0]]" --puzzle-identifier 17
    hrm solve --model user/hrm-sudoku --sudoku "..3.2.6.." --png answer.png
    hrm solve --model user/hrm-sudoku --sudoku "..3.2.6.." --png segments.gif --segments

A Sudoku is its cells row by row (`.` or `0` for blanks); a maze is 30 lines of `# SGo` (a file or the text); an ARC
input is a JSON grid (a file or the text). The puzzle type must be the model's. The answer is printed (an ARC grid one
row per line); `--png` draws the puzzle and the answer, `--segments` the answer after every segment.
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
    parser.add_argument(
        "--png", metavar="PATH",
        help="Draw the puzzle and the answer to PATH (Sudoku givens grey, filled cells blue; ARC in its palette).",
    )  # fmt: skip
    parser.add_argument(
        "--segments", action="store_true",
        help="With --png: draw the prediction after every segment up to --max-steps, the segment where adaptive "
        "halting stops framed in green; a PATH ending in .gif is an animation, any other a strip (PNG).",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.max_steps is not None and args.max_steps < 1:
        parser.error(f"--max-steps must be at least 1, got {args.max_steps}")
    if args.segments and args.png is None:
        parser.error("--segments draws into the --png PATH; give --png too")
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


def format_arc(grid) -> str:
    """An ARC grid as JSON, one row per line."""
    return "[" + ",\n ".join(json.dumps(row) for row in grid.tolist()) + "]"


def draw(args: argparse.Namespace, model, task: str, puzzle: str | list, answer, steps: int) -> None:
    """The picture `--png` (and `--segments`) asks for: the puzzle with the answer, or with every segment's."""
    import torch

    from ..evaluation.halting import roll_out_segments
    from ..evaluation.render import render_segments, render_solution
    from ..tokenization_hrm import encode_puzzle

    tokens = encode_puzzle(task, puzzle, model.config.seq_len)
    if not args.segments:
        path = render_solution(task, tokens, answer, args.png, f"answer ({steps} segments)")
    else:
        identifiers = (
            None if args.puzzle_identifier is None else torch.tensor([args.puzzle_identifier], device=model.device)
        )
        rollout = roll_out_segments(
            model, torch.as_tensor(tokens, device=model.device)[None], identifiers, args.max_steps
        )
        predictions = [step[0].cpu().numpy() for step in rollout.predictions]
        path = render_segments(task, tokens, predictions, int(rollout.halt_steps[0]), args.png)
    print(f"Wrote {path}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        task, puzzle = read_puzzle(args)
    except PuzzleInputError as error:
        sys.exit(f"error: {error}")
    # Imported once the arguments are read, so that `--help` and argument errors come without loading torch.
    from ..evaluation.loading import load_model, resolve_model
    from ..evaluation.puzzles import answer_problem, solve_puzzle

    model = load_model(resolve_model(args.model, "--model", args.revision), args.trust_remote_code).eval()
    model_task = infer_task(model.config.seq_len, model.config.vocab_size)
    if model_task != task:
        sys.exit(f"error: --{task} given, but the model {args.model} is for {model_task or 'an unknown puzzle type'}.")
    try:
        prediction, steps, confidence = solve_puzzle(
            model, task, puzzle, args.puzzle_identifier, args.halting, args.max_steps
        )
    except ValueError as error:  # a bad puzzle (PuzzleInputError) or one the model rejects (--puzzle-identifier)
        sys.exit(f"error: {error}")
    print(format_sudoku(prediction) if task == "sudoku" else prediction if task == "maze" else format_arc(prediction))
    if args.png is not None:
        draw(args, model, task, puzzle, prediction, steps)
    problem = answer_problem(task, puzzle, prediction)
    if problem:  # the model's answer breaks the rules: say so, and exit non-zero for scripts
        sys.exit(
            f"not solved: {problem.replace('field ', '')} (segments: {steps}, halting confidence: {confidence:.3f})"
        )
    print(f"segments: {steps}, halting confidence: {confidence:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
