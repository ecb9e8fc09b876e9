"""The one evaluation of a model on a dataset split, shared by `hrm evaluate` and the trainer's periodic evaluation.

Rows are solved with per-row halting (`halting.solve_stream`), spread over the processes of an `Accelerator` (each
rank takes every world_size-th row; the results are gathered back in dataset order, so no row counts twice), and
scored once: exact, token and Q-halt accuracy, segments used and, for ARC, the voted pass@k and the Kaggle submission.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from accelerate.utils import broadcast_object_list, gather_object
from tqdm.auto import tqdm

from .halting import SolvedRow, solve_stream
from .scoring import arc_scores, dataset_arrays, puzzle_metrics, steps_histogram


if TYPE_CHECKING:
    from accelerate import Accelerator
    from datasets import Dataset

    from ..data.metadata import PuzzleDatasetMetadata


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
    """

    metrics: dict[str, float]
    steps_histogram: dict[str, int]
    arrays: dict
    solved: list[SolvedRow] = field(default_factory=list)
    submission: dict | None = None


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
) -> SplitEvaluation:
    """Solve the first `limit` rows of `split` (all by default) and score them; call it on every rank.

    `halting="fixed"` runs every row for `max_steps` segments (default: the model's `halt_max_steps`), the release's
    evaluation; `"adaptive"` stops a row when its Q head says so. `batch_size` is the rows in flight per process.
    """
    arrays = dataset_arrays(split, metadata, limit)
    solved = solve_rows(
        model, arrays, accelerator, batch_size, halting, max_steps, progress and accelerator.is_main_process
    )
    result = [None]
    if accelerator.is_main_process:  # one rank loads and computes the metric modules, the others receive the scores
        metrics = puzzle_metrics(solved, arrays["labels"])
        submission = None
        kind = metadata.puzzle_type
        if kind is not None and kind.voted_over_augmentations:
            pass_at_k, submission = arc_scores(solved, arrays, metadata)
            metrics |= pass_at_k
        result[0] = (metrics, steps_histogram(solved), submission)
    metrics, histogram, submission = broadcast_object_list(result)[0]
    if not accelerator.is_main_process:
        return SplitEvaluation(metrics, histogram, arrays)
    return SplitEvaluation(metrics, histogram, arrays, solved, submission)
