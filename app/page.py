"""The Gradio page of `hrm app`: choose a puzzle type, type a puzzle (or draw a held-out one), solve it, and see the
answer, how it formed segment by segment, the halting confidence and whether it keeps the rules.

Gradio is imported here only, when a page is built: `hrm --help` and `hrm app --help` never load it.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import numpy as np

from ..errors import debug, error_line
from ..tokenization_hrm import EXAMPLE_SUDOKU, PUZZLE_TYPES
from .solving import Answer, PuzzleSolver, load_solver


if TYPE_CHECKING:
    import gradio


INSTALL_LINE = 'pip install "hrm-hf[app]"'
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
# Grids as text line up in a fixed-width font.
GRID_CSS = "#puzzle textarea, #answer textarea { font-family: monospace; }"
MAX_TTA = 16  # the slider's end: in README's test-time scaling table, K=16 with `rules` removes 98% of K=1's errors


class MissingGradioError(ValueError):
    """Gradio, the `app` extra, is not installed."""

    exit_code = 2  # `hrm`'s exit code for bad usage: the command cannot run as installed


def import_gradio():
    """The gradio module, or a one-line `MissingGradioError` saying how to install it."""
    try:
        import gradio
    except ImportError:
        raise MissingGradioError(f"hrm app needs Gradio, an optional extra: {INSTALL_LINE}") from None
    return gradio


def answer_fields(answer: Answer) -> tuple:
    """The page's outputs for a solved puzzle: status, answer text, the two pictures, segments, confidence, rules."""
    votes = f" ({answer.votes} votes)" if answer.votes is not None else ""
    status = "solved" if answer.follows_rules else "not solved: the answer breaks the rules"
    rules = "yes" if answer.follows_rules else f"no: {answer.problem}"
    confidence = f"{answer.halt_confidence:.3f}{votes}"
    return status, answer.text, answer.picture, answer.segments_picture, str(answer.segments), confidence, rules


def error_fields(error: Exception) -> tuple:
    """The page's outputs for a puzzle that could not be solved: the one error line, the rest empty."""
    return error_line(error).strip(), "", None, None, "", "", ""


def placeholder(solver: PuzzleSolver) -> str:
    """What the empty puzzle box suggests: an example of the model's size where there is one, else the format."""
    if solver.kind is PUZZLE_TYPES["sudoku"] and solver.model.config.seq_len in EXAMPLE_SUDOKU:
        return f"e.g. {EXAMPLE_SUDOKU[solver.model.config.seq_len]} ({solver.kind.input_help})"
    return solver.kind.input_help if solver.kind else ""


def solve_fields(
    solver: PuzzleSolver, type_name: str, text: str | None, identifier: float | None, tta: float, select: str
) -> tuple:
    """The page's outputs for the Solve button: the answer's (`answer_fields`), or the error's one line
    (`error_fields`), never a traceback. Gradio gives numbers as floats and an empty box as None: a whole number goes
    on as an int, any other (2.5, nan) as it is, for the pipeline's check to name it."""
    try:
        if identifier is not None and float(identifier).is_integer():
            identifier = int(identifier)
        return answer_fields(solver.solve(type_name, text or "", int(tta), select, identifier))
    except Exception as error:  # noqa: BLE001 - the page shows every failure as its one line
        if debug():  # HRM_DEBUG=1: the traceback goes to the server's log, as `hrm` shows it
            raise
        return error_fields(error)


def random_fields(solver: PuzzleSolver, rng: np.random.Generator) -> tuple:
    """The page's outputs for the Random button: a held-out puzzle's text and identifier, and the status line."""
    try:
        text, identifier = solver.random_puzzle(rng)
        return text, identifier, "a held-out puzzle: press Solve"
    except Exception as error:  # noqa: BLE001 - as in solve_fields
        keep = import_gradio().skip()  # the puzzle box keeps what it holds
        return keep, keep, error_line(error).strip()


def build_page(solver: PuzzleSolver, seed: int | None = None) -> gradio.Blocks:
    """The page, wired to `solver`; `seed` seeds the random held-out puzzles (default: fresh each start)."""
    from ..pipeline_hrm import SELECTIONS

    gr = import_gradio()
    rng = np.random.default_rng(seed)
    kind_name = solver.kind.name if solver.kind else None

    with gr.Blocks(title="HRM puzzle solver", analytics_enabled=False) as page:
        model = "The 9x9 Sudoku model packaged with hrm-hf" if solver.packaged else f"Model `{solver.model_name}`"
        gr.Markdown(
            f"# HRM puzzle solver\n{model}, trained on "
            f"{solver.kind.description if solver.kind else 'an unknown puzzle type'}."
        )
        with gr.Row():
            with gr.Column():
                kind = gr.Radio(list(PUZZLE_TYPES), value=kind_name, label="puzzle type", elem_id="kind")
                text = gr.Textbox(label="puzzle", lines=6, placeholder=placeholder(solver), elem_id="puzzle")
                identifier = gr.Number(
                    solver.model.config.blank_puzzle_id, precision=0, elem_id="identifier",
                    label="puzzle identifier (ARC: the task's; the default is the blank puzzle's)",
                )  # fmt: skip
                tta = gr.Slider(
                    1, MAX_TTA, value=1, step=1, elem_id="tta",
                    label="test-time scaling: transforms of the puzzle that vote (1: the puzzle as it is)",
                )  # fmt: skip
                select = gr.Radio(
                    list(SELECTIONS), value="vote", elem_id="select",
                    label="how the transforms' answers are picked (rules: drop those that break the rules first)",
                )  # fmt: skip
                with gr.Row():
                    draw = gr.Button("Random held-out puzzle", elem_id="random")
                    go = gr.Button("Solve", variant="primary", elem_id="solve")
            with gr.Column():
                status = gr.Textbox(label="status", interactive=False, elem_id="status")
                answer = gr.Textbox(label="answer", lines=6, interactive=False, elem_id="answer")
                with gr.Row():
                    segments = gr.Textbox(label="segments used", interactive=False, elem_id="segments")
                    confidence = gr.Textbox(label="halting confidence", interactive=False, elem_id="confidence")
                    rules = gr.Textbox(label="follows the rules", interactive=False, elem_id="rules")
                # Captions above the pictures: Gradio's own label would cover their titles.
                gr.Markdown("**puzzle and answer**")
                picture = gr.Image(format="png", interactive=False, show_label=False, buttons=[], elem_id="picture")
                gr.Markdown(
                    "**the answer after each segment** (the puzzle as given; orange: cells the segment changed, "
                    "green: where adaptive halting stops)"
                )
                formed = gr.Image(format="png", interactive=False, show_label=False, buttons=[], elem_id="formed")
        outputs = [status, answer, picture, formed, segments, confidence, rules]
        go.click(lambda *inputs: solve_fields(solver, *inputs), [kind, text, identifier, tta, select], outputs)
        draw.click(lambda: random_fields(solver, rng), [], [text, identifier, status])
    return page


class AddressError(OSError):
    """The page cannot listen on the address asked for (a port in use, a host not of this machine)."""


def check_address(host: str, port: int) -> None:
    """A one-line `AddressError` naming `--host`/`--port` when the page cannot listen there, said before the model
    loads; Gradio would say it after, pointing at its own `server_port` parameter."""
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Gradio binds: a closing socket is no hold
            probe.bind(address)
    except OSError as error:
        raise AddressError(f"--host {host} --port {port}: cannot listen there: {error.strerror or error}.") from None


def serve(
    model: str,
    *,
    revision: str | None = None,
    trust_remote_code: bool = False,
    dataset: str | None = None,
    host: str | None = DEFAULT_HOST,
    port: int | None = DEFAULT_PORT,
) -> None:
    """Load the model (a folder or Hub repo id) and serve its page on `host:port` until interrupted; None leaves them
    to Gradio's environment variables (a Space's `GRADIO_SERVER_NAME`)."""
    import_gradio()  # before the model loads: a missing extra is said at once
    if port is not None:
        check_address(host or DEFAULT_HOST, port)
    solver = load_solver(model, revision, trust_remote_code, dataset)
    build_page(solver).launch(server_name=host, server_port=port, ssr_mode=False, footer_links=[], css=GRID_CSS)
