"""The one evaluation of a model on a dataset split, shared by `hrm evaluate` and the trainer's periodic evaluation.

Rows are solved with per-row halting (`halting.solve_stream`), spread over the processes of an `Accelerator` (each
rank takes every world_size-th row; the results are gathered back in dataset order, so no row counts twice), and
scored once: exact, token and Q-halt accuracy, segments used and, for ARC, the voted pass@k and the Kaggle submission.
Test-time scaling plugs in between (`voting`): rows solved under K transforms of their puzzle type, by several
models, with more segments than training used, and one answer selected per row; `solve_candidates` does the solving,
`score_candidates` the selection and the scores, so several selections share one solve.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from accelerate.utils import broadcast_object_list, gather_object
from tqdm.auto import tqdm

from .halting import SolvedRow, solve_stream
from .scoring import arc_scores, dataset_arrays, puzzle_metrics, steps_histogram
from .voting import Candidates, augmented_arrays, mapped_back, select_rows


if TYPE_CHECKING:
    from accelerate import Accelerator
    from datasets import Dataset

    from ..data.metadata import PuzzleDatasetMetadata
    from ..tokenization_hrm import PuzzleType


@dataclass
class SplitEvaluation:
    """What `evaluate_split` measured.

    Attributes:
        metrics: scalar metrics by name (`exact_accuracy`, `token_accuracy`, `q_halt_accuracy`, `mean_steps`,
            `total_steps`, `count`; for ARC also `pass@k`, `puzzles`, `test_inputs`), on every rank.
        steps_histogram: rows by segments used, on every rank.
        solved: the solved rows in dataset order (main process only; empty elsewhere).
        arrays: the scored rows' `input_ids`, `labels` (-100 where no loss is taken) and `puzzle_identifiers`.
        submission: ARC's Kaggle submission of the two best candidates per test input (main process only).
        seconds: the wall-clock of solving the rows and selecting their answers.
        protocol: how the answers were made: `halting`, `max_segments`, `tta`, `select`, `models`.
    """

    metrics: dict[str, float]
    steps_histogram: dict[str, int]
    arrays: dict
    solved: list[SolvedRow] = field(default_factory=list)
    submission: dict | None = None
    seconds: float = 0.0
    protocol: dict = field(default_factory=dict)


def solve_rows(
    model,
    arrays: dict,
    accelerator: Accelerator,
    batch_size: int,
    halting: str,
    max_steps: int | None = None,
    progress: bool = False,
) -> list[SolvedRow]:
    """This rank's share of the rows solved, then every rank's results gathered in dataset order."""
    rank, world = accelerator.process_index, accelerator.num_processes
    indices = range(rank, len(arrays["input_ids"]), world)
    rows = ({key: torch.as_tensor(arrays[key][i]) for key in ("input_ids", "puzzle_identifiers")} for i in indices)
    stream = solve_stream(model, rows, batch_size, halting, max_steps)
    solved = list(tqdm(stream, total=len(indices), desc=f"{halting} halting", unit="puzzle", disable=not progress))
    for row in solved:
        row.index = row.index * world + rank
    return sorted(gather_object(solved), key=lambda row: row.index)


def solve_candidates(
    models: Sequence,
    arrays: dict,
    kind: PuzzleType | None,
    accelerator: Accelerator,
    *,
    halting: str = "fixed",
    batch_size: int = 64,
    max_steps: int | None = None,
    tta: int = 1,
    seed: int = 0,
    progress: bool = False,
) -> Candidates:
    """Solve every row of `arrays` by each of `models` under `tta` transforms of its puzzle type `kind` (the identity
    first; `seed` draws the others), the copies of a row in one batch, and map the answers back.

    `max_steps` may exceed the models' `halt_max_steps`: the carry simply runs on, and adaptive halting still stops
    a row when its Q head says so.
    """
    start = time.perf_counter()
    inputs, transforms = augmented_arrays(arrays, kind, tta, seed)
    copies = []
    for model in models:
        solved = solve_rows(model, inputs, accelerator, batch_size, halting, max_steps, progress)
        copies += mapped_back(solved, transforms, kind)
    seconds = time.perf_counter() - start
    segments = max_steps if max_steps is not None else models[0].config.halt_max_steps
    protocol = {"halting": halting, "max_segments": segments, "tta": tta, "models": len(models)}
    return Candidates(copies, seconds, protocol)


def score_candidates(
    candidates: Candidates,
    arrays: dict,
    metadata: PuzzleDatasetMetadata,
    accelerator: Accelerator,
    select: str = "vote",
) -> SplitEvaluation:
    """One answer per row selected from `candidates` (`select`: `vote` or `rules`) and scored; call it on every
    rank. ARC's pass@k votes over every candidate of a test input."""
    result = [None]
    solved = []
    if accelerator.is_main_process:  # one rank loads and computes the metric modules, the others receive the scores
        kind = metadata.puzzle_type
        start = time.perf_counter()
        solved = select_rows(candidates.copies, arrays, kind, select)
        seconds = candidates.seconds + time.perf_counter() - start  # selecting is inference too (rules check answers)
        metrics = puzzle_metrics(solved, arrays["labels"])
        submission = None
        if kind is not None and kind.voted_over_augmentations:
            pass_at_k, submission = arc_scores(candidates.copies, arrays, metadata)
            metrics |= pass_at_k
        result[0] = (metrics, steps_histogram(solved), submission, seconds)
    metrics, histogram, submission, seconds = broadcast_object_list(result)[0]
    protocol = {**candidates.protocol, "select": select}
    if not accelerator.is_main_process:
        return SplitEvaluation(metrics, histogram, arrays, seconds=seconds, protocol=protocol)
    return SplitEvaluation(metrics, histogram, arrays, solved, submission, seconds, protocol)


def evaluate_split(
    model,
    split: Dataset,
    metadata: PuzzleDatasetMetadata,
    accelerator: Accelerator,
    *,
    halting: str = "fixed",
    batch_size: int = 64,
    limit: int | None = None,
    max_steps: int | None = None,
    progress: bool = False,
    tta: int = 1,
    select: str = "vote",
    seed: int = 0,
) -> SplitEvaluation:
    """Solve the first `limit` rows of `split` (all by default) and score them; call it on every rank.

    `halting="fixed"` runs every row for `max_steps` segments (default: the model's `halt_max_steps`; more is
    allowed), the release's evaluation; `"adaptive"` stops a row when its Q head says so. `batch_size` is the rows in
    flight per process. `model` may be a list of models whose answers vote together; `tta` solves each row under
    that many transforms of its puzzle type, and `select` (`vote` or `rules`) picks one answer among them all.
    """
    models = list(model) if isinstance(model, (list, tuple)) else [model]
    arrays = dataset_arrays(split, metadata, limit)
    candidates = solve_candidates(
        models, arrays, metadata.puzzle_type, accelerator, halting=halting, batch_size=batch_size,
        max_steps=max_steps, tta=tta, seed=seed, progress=progress and accelerator.is_main_process,
    )  # fmt: skip
    return score_candidates(candidates, arrays, metadata, accelerator, select)
