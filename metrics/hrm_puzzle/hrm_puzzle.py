"""Puzzle metrics of HRM-ACT-v1 (the metrics of the authors' `ACTLossHead`, models/losses.py) as an `evaluate` module, loaded by local path.

```python
metric = evaluate.load("metrics/hrm_puzzle")
metric.add_batch(predictions=pred_tokens, references=labels)  # any number of times
metric.compute(q_halt_logits=q_halt, steps=steps)  # both optional: one value per puzzle added, in order
# {"count", "exact_accuracy", "accuracy", "q_halt_accuracy", "steps"}
```
"""

import datasets
import evaluate
import numpy as np


IGNORE_LABEL_ID = -100

_DESCRIPTION = """
Exact accuracy (every labelled token of the puzzle right), token accuracy (mean over puzzles of the fraction of
labelled tokens right), Q-halt accuracy (the halting head's `q_halt >= 0` agrees with the puzzle being solved) and the
mean number of ACT segments. Rows with no labelled token are skipped, as in the authors' release. A NaN or infinite
Q-halt logit never counts as agreeing.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted token ids, one sequence per puzzle.
    references: label token ids of the same length, -100 where a position carries no label.
    q_halt_logits (optional, to `compute`): the halting head's q_halt logit per puzzle; gives `q_halt_accuracy`.
    steps (optional, to `compute`): ACT segments each puzzle ran; gives `steps` (their mean).
Returns:
    count, exact_accuracy, accuracy, and q_halt_accuracy / steps when given.
"""

_TOKENS = {
    "predictions": datasets.Sequence(datasets.Value("int64")),
    "references": datasets.Sequence(datasets.Value("int64")),
}


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class HrmPuzzle(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Wang et al. (2025), Hierarchical Reasoning Model, arXiv:2506.21734.",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(_TOKENS),
        )

    def _compute(self, predictions, references, q_halt_logits=None, steps=None) -> dict[str, float]:
        predictions, references = np.asarray(predictions), np.asarray(references)
        valid = references != IGNORE_LABEL_ID
        label_counts = valid.sum(-1)
        counted = label_counts > 0
        right = (valid & (predictions == references)).sum(-1)
        solved = right == label_counts
        count = int(counted.sum())
        results = {
            "count": count,
            "exact_accuracy": float(solved[counted].sum() / max(count, 1)),
            "accuracy": float((right[counted] / label_counts[counted]).sum() / max(count, 1)),
        }
        if q_halt_logits is not None:
            q_halt_logits = np.asarray(q_halt_logits, dtype=np.float64)
            agrees = ((q_halt_logits >= 0) == solved) & np.isfinite(q_halt_logits)  # a NaN logit never agrees
            results["q_halt_accuracy"] = float(agrees[counted].sum() / max(count, 1))
        if steps is not None:
            results["steps"] = float(np.asarray(steps)[counted].sum() / max(count, 1))
        return results
