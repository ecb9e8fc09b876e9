"""The puzzle-solving pipeline of HRM-ACT-v1: a puzzle as text in, its solution in the same form out.

Every saved model folder registers it (`custom_pipelines` in `config.json`) and carries this file and the puzzle codec
beside the weights, so with only transformers installed

    from transformers import pipeline
    solver = pipeline(model="user/hrm-sudoku", trust_remote_code=True)
    solver("..3.2.6..9..3.5..1..18.64....81.29..7.......8..67.82....26.95..8..2.3..9..5.1.3..")

solves a Sudoku string (`.` or `0` for blanks), a maze in the characters `# SGo`, or an ARC grid (a list of lists of
colours 0..9). It imports only torch, transformers and, relatively, the puzzle types and the model file; the
model's shape picks its puzzle type, which encodes the puzzle and decodes the answer.

`solver(puzzle, tta=8)` solves the puzzle under 8 transforms of its type at once (the identity and 7 random ones that
keep it a valid puzzle: for Sudoku the authors' digit relabelling and line shuffles, for mazes the 8 symmetries of
the square), maps each answer back and lets them vote (`select="vote"`), or first drops the answers that break the
puzzle's rules (`select="rules"`). The voting here is also `hrm evaluate --tta`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from transformers import Pipeline

from .modeling_hrm import HALTING_MODES
from .tokenization_hrm import PuzzleInputError, PuzzleType, infer_puzzle_type, is_arc_grid


PIPELINE_TASK = "hrm-puzzle-solving"
# How one answer is picked from several: `vote` ranks the distinct answers by votes, then by mean halting confidence
# (the authors' ARC voting); `rules` first drops the answers that break the puzzle's rules or change a given.
SELECTIONS = ("vote", "rules")


@dataclass
class RankedAnswers:
    """The distinct answers of one puzzle, best first, with their votes and mean halting confidence `sigmoid(q_halt)`.

    Attributes:
        answers: the distinct answers (token vectors, or ARC grids), best first.
        votes: how many candidates gave each.
        confidences: each answer's mean halting confidence over the candidates that gave it.
        members: the positions, in the candidates given, of those that gave each answer.
    """

    answers: list[np.ndarray]
    votes: list[int]
    confidences: list[float]
    members: list[list[int]]


def answer_key(answer: np.ndarray) -> tuple:
    """A hashable identity of an answer (shape and values)."""
    return answer.shape, answer.tobytes()


def rank_answers(answers: Sequence[np.ndarray], confidences: Sequence[float]) -> RankedAnswers:
    """Rank the distinct `answers` by votes, then by mean confidence; ties keep the order answers first appear in,
    as the authors' ARC evaluation ranks the de-augmented predictions of a test input."""
    tallies: dict[tuple, list] = {}
    for position, (answer, confidence) in enumerate(zip(answers, confidences, strict=True)):
        entry = tallies.setdefault(answer_key(answer), [answer, 0, 0.0, []])
        entry[1] += 1
        entry[2] += confidence
        entry[3].append(position)
    order = sorted(tallies.values(), key=lambda e: (-e[1], -e[2] / e[1]))
    return RankedAnswers(
        [e[0] for e in order], [e[1] for e in order], [e[2] / e[1] for e in order], [e[3] for e in order]
    )


def follows_rules(kind: PuzzleType, puzzle_tokens: np.ndarray, answer_tokens: np.ndarray) -> bool:
    """Whether an answer keeps the puzzle's givens and its rules (`PuzzleType.answer_problem`)."""
    return kind.answer_problem(kind.decode(puzzle_tokens), kind.decode(answer_tokens)) is None


def select_answer(
    kind: PuzzleType,
    puzzle_tokens: np.ndarray,
    answers: Sequence[np.ndarray],
    confidences: Sequence[float],
    select: str,
) -> tuple[int, RankedAnswers]:
    """The candidate that answers a puzzle (a position in `answers`, the first of the winning answer's voters) and
    the ranking, the winner first. With `select="rules"`, the winner is the best-ranked answer that keeps the rules
    (the best one when none does): dropping the others before the vote leaves the ranking of the rest as it is, so
    the rules are checked answer by answer down the ranking, and only until one passes."""
    check_selection(select)
    ranked = rank_answers(answers, confidences)
    if select == "rules":
        passing = (i for i, answer in enumerate(ranked.answers) if follows_rules(kind, puzzle_tokens, answer))
        winner = next(passing, 0)
        order = [winner, *(i for i in range(len(ranked.answers)) if i != winner)]
        ranked = RankedAnswers(
            *(
                [entries[i] for i in order]
                for entries in (ranked.answers, ranked.votes, ranked.confidences, ranked.members)
            )
        )
    return ranked.members[0][0], ranked


def check_selection(select: str) -> None:
    """A one-line error naming `select` when it is none of `SELECTIONS`."""
    if select not in SELECTIONS:
        raise ValueError(f"select must be one of {SELECTIONS}, got {select!r}.")


def check_tta(kind: PuzzleType | None, tta: int) -> None:
    """A one-line error for a number of transforms the puzzle type cannot take: at least 1, and only 1 for types
    whose augmented copies are separate puzzles with their own embedding (ARC: its dataset holds them)."""
    if isinstance(tta, bool) or not isinstance(tta, int) or tta < 1:
        raise ValueError(f"tta must be a whole number of transforms, at least 1, got {tta!r}.")
    if tta > 1 and kind is None:
        raise ValueError(f"tta must be 1 for puzzles of no known type (no transforms to draw), got tta={tta}.")
    if tta > 1 and kind.voted_over_augmentations:
        raise ValueError(
            f"tta must be 1 for {kind.name}: each augmented {kind.name} puzzle has its own puzzle embedding, and "
            f"its dataset already holds the augmentations that vote; got tta={tta}."
        )


def test_time_augmentations(kind: PuzzleType, rng: np.random.Generator, tta: int, seq_len: int) -> list:
    """The transforms one puzzle is solved under: the identity (None) first, then `tta - 1` random ones of its type."""
    return [None, *kind.random_augmentations(rng, tta - 1, seq_len)] if tta > 1 else [None]


def augmented(kind: PuzzleType, tokens: np.ndarray, augmentation) -> np.ndarray:
    """`tokens` under `augmentation` (None: as they are)."""
    return tokens if augmentation is None else kind.augment(tokens, augmentation)


def unaugmented(kind: PuzzleType, tokens: np.ndarray, augmentation) -> np.ndarray:
    """An answer to the augmented puzzle mapped back to the original (None: as it is)."""
    return tokens if augmentation is None else kind.unaugment(tokens, augmentation)


class HrmPuzzlePipeline(Pipeline):
    """Solve one puzzle, or a list of puzzles, given in its human form.

    Call parameters:
        halting: `"adaptive"` (a puzzle stops when its Q head says so) or `"fixed"` (every puzzle runs `max_steps`
            segments, as the authors' evaluation does).
        max_steps: most segments per puzzle; defaults to the model's `halt_max_steps`.
        puzzle_identifier: the puzzle's row of the embedding table (for ARC, the identifier its task's training
            examples had); defaults to the blank puzzle.
        tta: solve the puzzle under this many transforms of its type in one batch (the identity and `tta - 1` random
            ones) and let the answers, mapped back, vote; 1 (the default) solves it as it is.
        select: how the answers of `tta > 1` are picked, `"vote"` or `"rules"` (see `SELECTIONS`).
        seed: the seed of the random transforms (default 0).

    Returns, per puzzle, a dict with `solution` (a Sudoku string, maze lines, or an ARC list of lists), `segments`
    (the segments used, summed over the `tta` copies) and `halt_confidence` (sigmoid of the Q head's halt logit when
    it stopped; with `tta > 1`, the winning answer's mean), and with `tta > 1` its `votes`. A puzzle that cannot be
    encoded raises `PuzzleInputError`, a `ValueError` whose one line names the field and the value.
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

    def _sanitize_parameters(
        self, halting=None, max_steps=None, puzzle_identifier=None, tta=None, select=None, seed=None
    ):
        preprocess, forward, postprocess = {}, {}, {}
        if puzzle_identifier is not None:
            preprocess["puzzle_identifier"] = puzzle_identifier
        if tta is not None:
            check_tta(self.puzzle_type, tta)
            preprocess["tta"] = tta
        if seed is not None:
            preprocess["seed"] = seed
        if select is not None:
            check_selection(select)
            postprocess["select"] = select
        if halting is not None:
            if halting not in HALTING_MODES:
                raise ValueError(f"halting must be one of {HALTING_MODES}, got {halting!r}.")
            forward["halting"] = halting
        if max_steps is not None:
            forward["max_steps"] = max_steps
        return preprocess, forward, postprocess

    def preprocess(self, puzzle, puzzle_identifier: int | None = None, tta: int = 1, seed: int = 0) -> dict:
        """The puzzle's tokens under each of its `tta` transforms, one row each."""
        kind, seq_len = self.puzzle_type, self.model.config.seq_len
        tokens = kind.encode(puzzle, seq_len)
        if puzzle_identifier is None:
            puzzle_identifier = self.model.config.blank_puzzle_id
        if (
            isinstance(puzzle_identifier, float | str)
            or not 0 <= int(puzzle_identifier) < self.model.config.num_puzzle_identifiers
        ):
            raise PuzzleInputError(
                f"puzzle_identifier must lie in [0, {self.model.config.num_puzzle_identifiers}), "
                f"got {puzzle_identifier}."
            )
        transforms = test_time_augmentations(kind, np.random.default_rng(seed), tta, seq_len)
        return {
            "input_ids": torch.as_tensor(np.stack([augmented(kind, tokens, t) for t in transforms])),
            "puzzle_identifiers": torch.full((len(transforms),), int(puzzle_identifier), dtype=torch.int32),
            "puzzle": tokens,
            "transforms": transforms,
        }

    def _forward(self, model_inputs, halting: str = "adaptive", max_steps: int | None = None):
        inputs = {key: model_inputs[key] for key in ("input_ids", "puzzle_identifiers")}
        out = self.model.solve(**inputs, halting=halting, max_steps=max_steps)  # the copies as one batch
        return {
            "predictions": out.predictions,
            "steps": out.steps,
            "halt_confidence": out.halt_confidence,
            "puzzle": model_inputs["puzzle"],
            "transforms": model_inputs["transforms"],
        }

    def postprocess(self, model_outputs, select: str = "vote") -> dict:
        kind, transforms = self.puzzle_type, model_outputs["transforms"]
        confidences = model_outputs["halt_confidence"].cpu().tolist()
        answers = [
            unaugmented(kind, prediction, t)
            for prediction, t in zip(model_outputs["predictions"].cpu().numpy(), transforms, strict=True)
        ]
        best, ranked = select_answer(kind, model_outputs["puzzle"], answers, confidences, select)
        result = {
            "solution": kind.solution(kind.decode(answers[best])),
            "segments": int(model_outputs["steps"].sum()),
            "halt_confidence": float(ranked.confidences[0]) if len(transforms) > 1 else float(confidences[0]),
        }
        return result | ({"votes": ranked.votes[0]} if len(transforms) > 1 else {})


def custom_pipelines() -> dict:
    """The `config.custom_pipelines` entry that makes `pipeline(model=..., trust_remote_code=True)` pick this class
    (the layout `Pipeline.save_pretrained` writes for a registered pipeline)."""
    return {
        PIPELINE_TASK: {
            "impl": f"{HrmPuzzlePipeline.__module__.split('.')[-1]}.{HrmPuzzlePipeline.__name__}",
            "pt": ["AutoModel"],
        }
    }
