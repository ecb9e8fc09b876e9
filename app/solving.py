"""The web app's work, without the web: a model loaded once, a puzzle given as text solved and drawn, a random
held-out puzzle drawn from a dataset.

Nothing here solves, decodes, checks rules or draws by itself: the puzzle pipeline (`HrmPuzzlePipeline`) solves, the
puzzle type parses, decodes and checks, `draw_answer` draws what `hrm solve --png` (and `--segments`) draws.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ..tokenization_hrm import PUZZLE_TYPES, PuzzleInputError, PuzzleType


if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedModel

    from ..hub import Source


@dataclass
class Answer:
    """What the page shows of one solved puzzle.

    Attributes:
        text: the answer as `hrm solve` prints it.
        picture: the puzzle beside the answer (`hrm solve --png`).
        segments_picture: the prediction after every segment, the halting one framed (`hrm solve --png --segments`).
        segments: segments used (summed over the test-time transforms).
        halt_confidence: the Q head's halting confidence (with transforms, the winning answer's mean).
        votes: how many transforms gave the answer (None without test-time scaling).
        problem: why the answer breaks the puzzle's rules or changes a given; None when it follows them.
    """

    text: str
    picture: Image.Image
    segments_picture: Image.Image
    segments: int
    halt_confidence: float
    votes: int | None
    problem: str | None

    @property
    def follows_rules(self) -> bool:
        return self.problem is None


def is_packaged(path: str | Path | None, packaged: Path) -> bool:
    """Whether `path` is one of the folders packaged with hrm-hf, which the Space's own install of the package
    carries."""
    return path is not None and Path(path).resolve() == packaged


def puzzle_text(kind: PuzzleType, tokens: np.ndarray) -> str:
    """A puzzle's tokens as text the page (and `hrm solve`) reads back: Sudoku cells, maze lines, an ARC JSON grid."""
    puzzle = kind.solution(kind.decode(tokens))
    return puzzle if isinstance(puzzle, str) else json.dumps(puzzle)


def loaded_picture(draw) -> Image.Image:
    """The picture `draw(path)` writes, read back into memory; the file goes with its temporary folder."""
    with tempfile.TemporaryDirectory(prefix="hrm-app-") as folder:
        with Image.open(draw(Path(folder) / "picture.png")) as picture:
            return picture.copy()


class PuzzleSolver:
    """One model, loaded once, that the page asks to solve puzzles; with a held-out split, the source of random
    puzzles.

    Args:
        model: the loaded model (`load_solver` loads it as `hrm solve` does).
        source: where it was loaded from (a folder, or a Hub repo at a commit).
        model_name: the model as the user named it (error lines name it).
        kind: the puzzle type the model was trained on (None when nothing says).
        held_out: the test split of a puzzle dataset for that type, or None.
        trust_remote_code: whether the model runs its own code (a Space of it must load it the same way).
    """

    def __init__(
        self,
        model: PreTrainedModel,
        source: Source,
        model_name: str,
        kind: PuzzleType | None,
        held_out: Dataset | None = None,
        trust_remote_code: bool = False,
    ):
        from ..pipeline_hrm import HrmPuzzlePipeline

        self.model, self.source, self.model_name, self.kind, self.held_out = model, source, model_name, kind, held_out
        self.trust_remote_code = trust_remote_code
        self.pipeline = HrmPuzzlePipeline(model=model, device=model.device)

    @property
    def packaged(self) -> bool:
        """Whether the model is the one packaged with hrm-hf (a folder, not a Hub repo)."""
        from ..evaluation.loading import PACKAGED_MODEL

        return self.source.repo_id is None and is_packaged(self.source.path, PACKAGED_MODEL)

    def solve(
        self,
        type_name: str,
        text: str,
        tta: int = 1,
        select: str = "vote",
        puzzle_identifier: int | None = None,
    ) -> Answer:
        """Solve the puzzle `text` (of the type called `type_name`) as `hrm solve` does, under `tta` transforms voted
        by `select`. A puzzle the model cannot take is a one-line `ValueError` naming what is wrong."""
        from ..evaluation.halting import draw_answer
        from ..evaluation.model_folder import puzzle_type_refusal

        if type_name not in PUZZLE_TYPES:
            raise PuzzleInputError(f"puzzle type must be one of {', '.join(PUZZLE_TYPES)}, got {type_name!r}.")
        kind = PUZZLE_TYPES[type_name]
        refusal = puzzle_type_refusal(kind, self.kind, self.model_name, f"puzzle type {type_name} chosen")
        if refusal:
            raise PuzzleInputError(refusal)
        puzzle = kind.parse_text(text)
        # A list of one puzzle: an ARC grid is never taken for a batch of puzzles.
        (result,) = self.pipeline([puzzle], tta=tta, select=select, puzzle_identifier=puzzle_identifier)
        answer, steps = result["solution"], result["segments"]
        return Answer(
            text=kind.answer_text(answer),
            picture=loaded_picture(lambda path: draw_answer(self.model, kind, puzzle, answer, steps, path)),
            segments_picture=loaded_picture(
                lambda path: draw_answer(
                    self.model, kind, puzzle, answer, steps, path, segments=True, puzzle_identifier=puzzle_identifier
                )
            ),
            segments=steps,
            halt_confidence=result["halt_confidence"],
            votes=result.get("votes"),
            problem=kind.answer_problem(puzzle, answer),
        )

    def random_puzzle(self, rng: np.random.Generator) -> tuple[str, int]:
        """A random row of the held-out split: its puzzle as text and its puzzle identifier."""
        if self.held_out is None:
            raise ValueError("no held-out puzzles: start the app with --dataset FOLDER_OR_REPO to draw them.")
        row = self.held_out[int(rng.integers(self.held_out.num_rows))]
        return puzzle_text(self.kind, np.asarray(row["input_ids"])), int(row["puzzle_identifiers"])


def load_solver(
    model: str,
    revision: str | None = None,
    trust_remote_code: bool = False,
    dataset: str | None = None,
) -> PuzzleSolver:
    """The solver of the model `model` names (a folder or a Hub repo id, resolved and loaded strictly as every command
    loads one), with the test split of `dataset` (a folder or Hub dataset id) as its held-out puzzles. The one place
    the app turns its `--model` into a model."""
    from ..data.storage import load_puzzle_dataset, resolve_puzzle_dataset
    from ..evaluation.loading import load_model, resolve_model
    from ..evaluation.model_folder import dataset_misfit, puzzle_type_refusal, trained_puzzle_type

    source = resolve_model(model, "--model", revision)
    loaded = load_model(source, trust_remote_code).eval()
    kind = trained_puzzle_type(loaded, source.path)
    held_out = None
    if dataset is not None:
        held_out, metadata = load_puzzle_dataset(resolve_puzzle_dataset(dataset, "--dataset"), split="test")
        problem = dataset_misfit(loaded.config, metadata, f"--dataset {dataset}", f"--model {model}")
        held = metadata.puzzle_type.name if metadata.puzzle_type else "no known type of"
        problem = problem or puzzle_type_refusal(
            metadata.puzzle_type, kind, model, f"--dataset {dataset} holds {held} puzzles"
        )
        if problem:
            raise ValueError(problem)
    return PuzzleSolver(loaded, source, model, kind, held_out, trust_remote_code)
