"""ARC pass@k as an `evaluate` module, loaded by local path.

```python
metric = evaluate.load("metrics/arc_pass_at_k")
metric.compute(predictions=[["[[1,2]]", "[[3]]"]], references=["[[3]]"], puzzle_ids=["abc"], ks=[1, 2])
# {"pass@1": 0.0, "pass@2": 1.0, "puzzles": 1, "test_inputs": 1}
```
"""

from collections import defaultdict

import datasets
import evaluate
import numpy as np


DEFAULT_KS = (1, 2, 5, 10, 100, 1000)

_DESCRIPTION = """
pass@k of ARC-AGI: a test input is solved when its true output grid is among the first k ranked candidates; a puzzle
scores the mean over its test inputs; pass@k is the mean over puzzles (ARC's official score is pass@2).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: per test input, candidate grids best first, each serialised the same way as the reference
        (for instance `json.dumps(grid)`).
    references: per test input, the true output grid, serialised.
    puzzle_ids: per test input, the name of the puzzle it belongs to.
    ks (optional): the k values to report; defaults to 1, 2, 5, 10, 100, 1000.
Returns:
    `pass@k` for each k, `puzzles` and `test_inputs` (the counts scored).
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ArcPassAtK(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Chollet (2019), On the Measure of Intelligence, arXiv:1911.01547.",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("string")),
                    "references": datasets.Value("string"),
                    "puzzle_ids": datasets.Value("string"),
                }
            ),
        )

    def _compute(self, predictions, references, puzzle_ids, ks=DEFAULT_KS) -> dict[str, float]:
        if any(k < 1 for k in ks):
            raise ValueError(f"ks must be positive, got {list(ks)}.")
        rank_of_truth = [
            candidates.index(truth) if truth in candidates else np.inf
            for candidates, truth in zip(predictions, references, strict=True)
        ]
        by_puzzle = defaultdict(list)
        for puzzle, rank in zip(puzzle_ids, rank_of_truth, strict=True):
            by_puzzle[puzzle].append(rank)
        results = {
            f"pass@{k}": float(np.mean([np.mean(np.array(ranks) < k) for ranks in by_puzzle.values()]))
            if by_puzzle
            else 0.0
            for k in ks
        }
        return {**results, "puzzles": len(by_puzzle), "test_inputs": len(references)}
