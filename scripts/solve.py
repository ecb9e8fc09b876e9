"""Solve one puzzle with an HRM-ACT-v1 model and print the answer.

    hrm solve --model user/hrm-sudoku --sudoku "..3.2.6..9..3.5..1..18.64....81.29..7.......8..67.82....26.95..8..2.3..9..5.1.3.."
    hrm solve --model user/hrm-maze --maze maze.txt
    hrm solve --model user/hrm-arc --arc "[[0, 1], [1, 0]]" --puzzle-identifier 17
    hrm solve --model user/hrm-sudoku --sudoku "..3.2.6.." --png answer.png
    hrm solve --model user/hrm-sudoku --sudoku "..3.2.6.." --png segments.gif --segments

A Sudoku is its cells row by row (`.` or `0` for blanks); a maze is 30 lines of `# SGo` (a file or the text); an ARC
input is a JSON grid (a file or the text). The puzzle type must be the model's. The model's puzzle pipeline (what
`pipeline(model=..., trust_remote_code=True)` gives) solves it, and its answer is printed (an ARC grid one row per
line) and checked against the puzzle's rules; `--png` draws the puzzle and the answer, `--segments` the answer after
every segment.
"""

import argparse
import sys
from pathlib import Path

from ..evaluation.loading import add_model_arguments
from ..tokenization_hrm import PUZZLE_TYPES, PuzzleInputError, PuzzleType
from .cli import HelpFormatter


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    add_model_arguments(parser, packaged=True)
    puzzle = parser.add_mutually_exclusive_group(required=True)
    for kind in PUZZLE_TYPES.values():
        puzzle.add_argument(f"--{kind.name}", help=kind.input_help)
    parser.add_argument(
        "--puzzle-identifier", type=int,
        help="Row of the puzzle-embedding table (ARC: the puzzle's index in the training data's identifiers.json); "
        "default: the blank puzzle.",
    )  # fmt: skip
    parser.add_argument(
        "--halting", default="adaptive", metavar="MODE",
        help="Halting mode: adaptive (a puzzle stops when its Q head says so) or fixed (it runs --max-steps "
        "segments); default: adaptive.",
    )  # fmt: skip
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
    if args.png is not None and (Path(args.png).is_dir() or not Path(args.png).parent.is_dir()):
        parser.error(f"--png {args.png!r} must name a file in an existing folder")
    if args.segments and args.png is None:
        parser.error("--segments draws into the --png PATH; give --png too")
    from ..modeling_hrm import HALTING_MODES  # the model's own list, imported once `--help` has had its turn

    if args.halting not in HALTING_MODES:
        parser.error(f"--halting must be one of {', '.join(HALTING_MODES)}, got {args.halting!r}")
    return args


def existing_file(text: str) -> Path | None:
    """The file `text` names, or None when it names none: text too long or odd to be a path (an ARC grid, a maze)
    is a puzzle, never an error about file names."""
    try:
        path = Path(text)
        return path if "\n" not in text and path.is_file() else None
    except (OSError, ValueError):  # a name too long for the system, a NUL character
        return None


def read_puzzle(args: argparse.Namespace) -> tuple[PuzzleType, str | list]:
    """(puzzle type, puzzle) from whichever of --sudoku, --maze, --arc was given: the file it names when there is
    one, else the text itself."""
    kind = next(kind for kind in PUZZLE_TYPES.values() if getattr(args, kind.name) is not None)
    text = getattr(args, kind.name)
    path = existing_file(text)
    return kind, kind.parse_text(path.read_text() if path is not None else text)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        kind, puzzle = read_puzzle(args)
    except PuzzleInputError as error:
        sys.exit(f"error: {error}")
    # Imported once the arguments are read, so that `--help` and argument errors come without loading torch.
    from ..evaluation.halting import draw_answer
    from ..evaluation.loading import load_model, resolve_model
    from ..evaluation.model_folder import puzzle_type_refusal, trained_puzzle_type
    from ..pipeline_hrm import HrmPuzzlePipeline

    source = resolve_model(args.model, "--model", args.revision)
    model = load_model(source, args.trust_remote_code).eval()
    refusal = puzzle_type_refusal(kind, trained_puzzle_type(model, source.path), args.model, f"--{kind.name} given")
    if refusal:
        sys.exit(f"error: {refusal}")
    solver = HrmPuzzlePipeline(model=model, device=model.device)
    try:  # a list of one puzzle: an ARC grid or a JSON list of grids is never taken for a batch of puzzles
        (result,) = solver(
            [puzzle], halting=args.halting, max_steps=args.max_steps, puzzle_identifier=args.puzzle_identifier
        )
    except ValueError as error:  # a puzzle the type cannot encode, or a --puzzle-identifier the model does not have
        sys.exit(f"error: {error}")
    answer, steps, confidence = result["solution"], result["segments"], result["halt_confidence"]
    print(kind.answer_text(answer))
    if args.png is not None:
        path = draw_answer(
            model, kind, puzzle, answer, steps, args.png, args.segments, args.puzzle_identifier, args.max_steps
        )
        print(f"Wrote {path}")
    problem = kind.answer_problem(puzzle, answer)
    if problem:  # the model's answer breaks the rules: say so, and exit non-zero for scripts
        sys.exit(
            f"not solved: {problem.replace('field ', '')} (segments: {steps}, halting confidence: {confidence:.3f})"
        )
    print(f"segments: {steps}, halting confidence: {confidence:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
