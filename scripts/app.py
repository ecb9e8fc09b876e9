"""Serve a web page that solves puzzles with a model, or write (and push) it as a Hugging Face Space.

    hrm app --model outputs/cpu-demo/model --dataset outputs/cpu-demo/data
    hrm app --model user/hrm-sudoku --export space/
    hrm app --model user/hrm-sudoku --push-to-hub user/hrm-sudoku-solver

The page (Gradio, an extra: pip install "hrm-hf[app]") takes a puzzle as `hrm solve` does (Sudoku cells row by row
with `.` or `0` blanks, maze lines, an ARC JSON grid) or draws a random one from the test split of --dataset, solves it
through the model's puzzle pipeline (test-time scaling: a number of transforms that vote, `vote` or `rules`), and shows
the answer as text and as a picture, the answer after every segment, the halting confidence, the segments used and
whether the answer keeps the rules. It listens on --host:--port until Ctrl-C.

--export DIR writes a Space folder instead: `app.py`, `requirements.txt` and `README.md` with the Space's YAML header.
Its model is the Hub repo --model names, at the commit it resolves to now; a local model folder is copied into the
Space's `model/` folder. --push-to-hub REPO pushes that folder (or, without --export, one written to a temporary
folder) to the Hub Space repo REPO.
"""

import argparse
import contextlib
import sys

from ..evaluation.loading import PACKAGED_MODEL, PACKAGED_PUZZLES, add_model_arguments
from .cli import HelpFormatter


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from ..app.page import DEFAULT_HOST, DEFAULT_PORT  # light: gradio is imported only when a page is built

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    add_model_arguments(parser, packaged=True)
    parser.add_argument(
        "--dataset", metavar="FOLDER_OR_REPO",
        help="Puzzle dataset (folder, or Hub dataset repo id) whose test split the page draws random puzzles from "
        "(default: none; for the packaged model, the puzzles packaged with it).",
    )  # fmt: skip
    parser.add_argument("--host", default=DEFAULT_HOST, help="Address to listen on.")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="Port to listen on.")
    parser.add_argument("--export", metavar="DIR", help="Write a Hugging Face Space folder to DIR (absent or empty).")
    parser.add_argument(
        "--push-to-hub", metavar="REPO", help="Push the Space to this Hub Space repo id (created if needed)."
    )
    parser.add_argument("--private", action="store_true", help="With --push-to-hub: create the Space as private.")
    args = parser.parse_args(argv)
    if args.dataset is None and args.model == str(PACKAGED_MODEL):
        args.dataset = str(PACKAGED_PUZZLES)
    if not 0 < args.port < 65536:
        parser.error(f"--port must lie in 1..65535, got {args.port}")
    if args.private and args.push_to_hub is None:
        parser.error("--private is for the Space --push-to-hub creates; give --push-to-hub too")
    if args.push_to_hub is not None:
        from ..hub import is_repo_id

        if not is_repo_id(args.push_to_hub):
            parser.error(f"--push-to-hub must be a Hub repo id owner/name, got {args.push_to_hub!r}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from ..app.page import import_gradio, serve

    import_gradio()  # the extra is checked before any model loads
    if args.export is None and args.push_to_hub is None:
        serve(
            args.model, revision=args.revision, trust_remote_code=args.trust_remote_code, dataset=args.dataset,
            host=args.host, port=args.port,
        )  # fmt: skip
        return
    from ..app.solving import load_solver
    from ..app.space import check_space_dataset, export_space, push_space
    from ..folders import claim_folder

    check_space_dataset(args.dataset)
    with contextlib.ExitStack() as held:
        if args.export is not None:  # claimed (a non-empty folder refused) before the model loads
            held.enter_context(claim_folder(args.export, "--export", empty=True, undo_on_error=True))
        solver = load_solver(args.model, args.revision, args.trust_remote_code)
        if args.export is not None:
            print(f"Wrote the Space to {export_space(solver, args.export, args.dataset)}")
    # Pushed once the folder is released: a held folder holds its lock file, no file of the Space. A refused push
    # leaves the export whole.
    if args.push_to_hub is not None:
        url = push_space(solver, args.push_to_hub, args.export, args.dataset, args.private)
        print(f"Pushed the Space to {args.push_to_hub}: {url}")


if __name__ == "__main__":
    main(sys.argv[1:])
