"""The puzzle-solving pipeline of HRM-ACT-v1: a puzzle as text in, its solution in the same form out.

Every saved model folder registers it (`custom_pipelines` in `config.json`) and carries this file and the puzzle codec
beside the weights, so with only transformers installed

    from transformers import pipeline
    solver = pipeline(model="user/hrm-sudoku", trust_remote_code=True)
    solver("..3.2.6..9..3.5..1..18.64....81.29..7.......8..67.82....26.95..8..2.3..9..5.1.3..")

solves a Sudoku string (`.` or `0` for blanks), a maze in the characters `# SGo`, or an ARC grid (a list of lists of
colours 0..9). It imports only torch, transformers and, relatively, the puzzle types and the model file; the
model's shape picks its puzzle type, which encodes the puzzle and decodes the answer.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import Pipeline

from .modeling_hrm import HALTING_MODES
from .tokenization_hrm import PuzzleInputError, infer_puzzle_type, is_arc_grid


PIPELINE_TASK = "hrm-puzzle-solving"


class HrmPuzzlePipeline(Pipeline):
    """Solve one puzzle, or a list of puzzles, given in its human form.

    Call parameters:
        halting: `"adaptive"` (a puzzle stops when its Q head says so) or `"fixed"` (every puzzle runs `max_steps`
            segments, as the authors' evaluation does).
        max_steps: most segments per puzzle; defaults to the model's `halt_max_steps`.
        puzzle_identifier: the puzzle's row of the embedding table (for ARC, the identifier its task's training
            examples had); defaults to the blank puzzle.

    Returns, per puzzle, a dict with `solution` (a Sudoku string, maze lines, or an ARC list of lists), `segments`
    (the segments used) and `halt_confidence` (sigmoid of the Q head's halt logit when it stopped). A puzzle that
    cannot be encoded raises `PuzzleInputError`, a `ValueError` whose one line names the field and the value.
    """

    _load_tokenizer = False
    _load_feature_extractor = False
    _load_image_processor = False
    _load_processor = False
    _load_video_processor = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.puzzle_type = infer_puzzle_type(self.model.config.seq_len, self.model.config.vocab_size)
        if self.puzzle_type is None:
            raise ValueError(
                f"model: seq_len={self.model.config.seq_len} and vocab_size={self.model.config.vocab_size} fit no "
                "Sudoku, maze or ARC codec."
            )

    def __call__(self, inputs, **kwargs):
        if isinstance(inputs, np.ndarray) and inputs.ndim == 2:
            inputs = inputs.tolist()
        if is_arc_grid(inputs):  # a grid is a list too: keep the base class from taking its rows for puzzles
            return super().__call__([inputs], **kwargs)[0]
        return super().__call__(inputs, **kwargs)

    def _sanitize_parameters(self, halting=None, max_steps=None, puzzle_identifier=None):
        preprocess, forward = {}, {}
        if puzzle_identifier is not None:
            preprocess["puzzle_identifier"] = puzzle_identifier
        if halting is not None:
            if halting not in HALTING_MODES:
                raise ValueError(f"halting must be one of {HALTING_MODES}, got {halting!r}.")
            forward["halting"] = halting
        if max_steps is not None:
            forward["max_steps"] = max_steps
        return preprocess, forward, {}

    def preprocess(self, puzzle, puzzle_identifier: int | None = None) -> dict[str, torch.Tensor]:
        tokens = self.puzzle_type.encode(puzzle, self.model.config.seq_len)
        if puzzle_identifier is None:
            puzzle_identifier = self.model.config.blank_puzzle_id
        if not 0 <= int(puzzle_identifier) < self.model.config.num_puzzle_identifiers:
            raise PuzzleInputError(
                f"puzzle_identifier must lie in [0, {self.model.config.num_puzzle_identifiers}), "
                f"got {puzzle_identifier}."
            )
        return {
            "input_ids": torch.as_tensor(tokens)[None],
            "puzzle_identifiers": torch.tensor([int(puzzle_identifier)], dtype=torch.int32),
        }

    def _forward(self, model_inputs, halting: str = "adaptive", max_steps: int | None = None):
        out = self.model.solve(**model_inputs, halting=halting, max_steps=max_steps)
        return {"predictions": out.predictions, "steps": out.steps, "halt_confidence": out.halt_confidence}

    def postprocess(self, model_outputs) -> dict:
        solution = self.puzzle_type.decode(model_outputs["predictions"][0].cpu().numpy())
        return {
            "solution": self.puzzle_type.solution(solution),
            "segments": int(model_outputs["steps"][0]),
            "halt_confidence": float(model_outputs["halt_confidence"][0]),
        }


def custom_pipelines() -> dict:
    """The `config.custom_pipelines` entry that makes `pipeline(model=..., trust_remote_code=True)` pick this class
    (the layout `Pipeline.save_pretrained` writes for a registered pipeline)."""
    return {
        PIPELINE_TASK: {
            "impl": f"{HrmPuzzlePipeline.__module__.split('.')[-1]}.{HrmPuzzlePipeline.__name__}",
            "pt": ["AutoModel"],
        }
    }
