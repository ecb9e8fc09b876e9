"""Scores of solved rows: the shared puzzle metrics, the histogram of segments used, and ARC's voted pass@k (per task,
and per test output as the Kaggle leaderboard averages)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..data.arc import parse_identifier
from ..data.metadata import IGNORE_LABEL_ID, PuzzleDatasetMetadata
from .arc import SUBMISSION_ATTEMPTS, RankedTestInput, candidates_from_rows, submission, vote


if TYPE_CHECKING:
    import evaluate
    from datasets import Dataset

    from .halting import SolvedRow


METRICS_DIR = Path(__file__).resolve().parent.parent / "metrics"
PASS_AT_K = (1, 2, 5, 10, 100, 1000)


def load_metric(name: str) -> evaluate.EvaluationModule:
    """One of the repository's `evaluate` modules (`metrics/<name>/<name>.py`), by local path."""
    import evaluate  # 1.7 s to import: only once a metric is computed

    return evaluate.load(str(METRICS_DIR / name), keep_in_memory=True)


def dataset_arrays(split: Dataset, metadata: PuzzleDatasetMetadata, limit: int | None = None) -> dict[str, np.ndarray]:
    """`input_ids`, `labels` and `puzzle_identifiers` of the first `limit` rows, tokens as stored (int8).

    Where a puzzle type votes over its dataset's augmentations (ARC), a limit keeps whole tasks: every row of each
    task met in the first `limit` rows, so no task is scored over part of its test inputs and the submission misses
    none. Labels read -100 where no loss is taken, also in datasets that store another `ignore_label_id`.
    """
    rows = split
    if limit is not None and limit < len(split):
        rows = split.select(limited_rows(split, metadata, limit))
    columns = rows.with_format("numpy", columns=["input_ids", "labels", "puzzle_identifiers"])[:]
    labels = columns["labels"]
    if metadata.ignore_label_id not in (None, IGNORE_LABEL_ID):
        labels = np.where(labels == metadata.ignore_label_id, IGNORE_LABEL_ID, labels)
    return {
        "input_ids": columns["input_ids"],
        "labels": labels,
        "puzzle_identifiers": columns["puzzle_identifiers"].astype(np.int64),
    }


def limited_rows(split: Dataset, metadata: PuzzleDatasetMetadata, limit: int) -> list[int]:
    """The rows `--limit` keeps: the first `limit`, and for a type voted over augmentations the other rows of their
    tasks too (a task's augmented puzzles are named `<task>_t<transform>_<colour map>`)."""
    kind, names = metadata.puzzle_type, metadata.identifier_names
    if kind is None or not kind.voted_over_augmentations or names is None:
        return list(range(limit))
    identifiers = split.with_format("numpy", columns=["puzzle_identifiers"])[:]["puzzle_identifiers"].tolist()
    blank = metadata.blank_identifier_id
    task = [None if i == blank else parse_identifier(names[i])[0] for i in identifiers]
    kept = {name for name in task[:limit] if name is not None}
    return [row for row, name in enumerate(task) if row < limit or name in kept]


def puzzle_metrics(solved: list[SolvedRow], labels: np.ndarray) -> dict:
    """Exact, token and Q-halt accuracy, mean segments (the shared `hrm_puzzle` metric) and total segments;
    `solved` is in dataset order."""
    steps = [row.steps for row in solved]
    scores = load_metric("hrm_puzzle").compute(
        predictions=np.stack([row.predictions.numpy() for row in solved]),
        references=labels,
        q_halt_logits=[row.q_halt_logit for row in solved],
        steps=steps,
    )
    return {
        "exact_accuracy": scores["exact_accuracy"],
        "token_accuracy": scores["accuracy"],
        "q_halt_accuracy": scores["q_halt_accuracy"],
        "mean_steps": scores["steps"],
        "total_steps": int(sum(steps)),
        "count": scores["count"],
    }


def steps_histogram(solved: list[SolvedRow]) -> dict[str, int]:
    """Rows by segments used."""
    return {str(k): v for k, v in sorted(Counter(row.steps for row in solved).items())}


def arc_scores(
    copies: list[list[SolvedRow]], arrays: dict[str, np.ndarray], metadata: PuzzleDatasetMetadata
) -> tuple[dict[str, float], dict]:
    """ARC pass@k after voting across augmentations (and across the models of an ensemble: one list of solved rows
    in dataset order per model), and the Kaggle submission of the two best candidates."""
    names, blank = metadata.identifier_names, metadata.blank_identifier_id
    if names is None:
        raise ValueError(f"ARC scoring needs identifier_names in the dataset metadata of split {metadata.split!r}.")
    identifiers = arrays["puzzle_identifiers"].tolist()
    ranked = vote(
        candidate
        for solved in copies
        for candidate in candidates_from_rows(
            identifiers,
            [row.predictions.numpy() for row in solved],
            [row.halt_confidence for row in solved],
            names,
            blank,
        )
    )
    truth_tokens = np.where(arrays["labels"] == IGNORE_LABEL_ID, 0, arrays["labels"])
    truths = vote(candidates_from_rows(identifiers, truth_tokens, [1.0] * len(identifiers), names, blank))
    predictions = [serialise_grids(ranked[key]) for key in truths]
    references = [serialise_grids(truths[key])[0] for key in truths]
    scores = load_metric("arc_pass_at_k").compute(
        predictions=predictions, references=references, puzzle_ids=[puzzle for puzzle, _ in truths], ks=list(PASS_AT_K)
    )
    # pass@k averages per task (as ARCScorer and the TRM authors' scorer do); the Kaggle leaderboard averages over
    # every test output instead. Both are reported, each by its name.
    solved_outputs = [
        truth in candidates[:SUBMISSION_ATTEMPTS] for candidates, truth in zip(predictions, references, strict=True)
    ]
    scores[f"pass@{SUBMISSION_ATTEMPTS}_per_output"] = float(np.mean(solved_outputs)) if solved_outputs else 0.0
    return scores, submission(ranked)


def serialise_grids(entry: RankedTestInput) -> list[str]:
    return [json.dumps(grid.tolist()) for grid in entry.grids]
