"""The dataset card (README.md with YAML metadata) that travels with a built puzzle dataset.

Built locally, its loading section names the folder; `card_for_repo` names the Hub repo instead when the dataset is
pushed. It links the paper and carries its BibTeX, as the model card does (both from here), so that the paper's Hub
page lists the datasets and the models. Like the rest of `storage`'s imports, it needs nothing outside `data` but the
puzzle types (`tokenization_hrm`), whose descriptions it quotes.
"""

from __future__ import annotations

from huggingface_hub import DatasetCard, DatasetCardData

from .metadata import Provenance, PuzzleDatasetMetadata


PAPER_URL = "https://arxiv.org/abs/2506.21734"
BIBTEX = """\
@misc{wang2025hierarchicalreasoningmodel,
      title={Hierarchical Reasoning Model},
      author={Guan Wang and Jin Li and Yuhao Sun and Xing Chen and Changling Liu and Yue Wu and Meng Lu and Sen Song and Yasin Abbasi Yadkori},
      year={2025},
      eprint={2506.21734},
      archivePrefix={arXiv},
      primaryClass={cs.AI},
      url={https://arxiv.org/abs/2506.21734},
}"""
# The Hub's task categories have none for puzzle solving; "other" is the one it offers for such data.
TASK_CATEGORIES = ["other"]
LOADING_HEADING = "## Loading\n"

COLUMNS = """\
| column | type | meaning |
|---|---|---|
| `input_ids` | int8 x seq_len | input tokens |
| `labels` | int8 x seq_len | target tokens (-100 = no loss) |
| `puzzle_identifiers` | int32 | row of the puzzle-embedding table (0 = blank) |
| `puzzle_index` | int32 | puzzle of this example within the split |
| `group_index` | int32 | group (source puzzle and its augmentations) within the split |
"""


def _size_category(rows: int) -> str:
    bounds = [
        (10**3, "n<1K"),
        (10**4, "1K<n<10K"),
        (10**5, "10K<n<100K"),
        (10**6, "100K<n<1M"),
        (10**7, "1M<n<10M"),
        (10**8, "10M<n<100M"),
    ]
    return next((label for bound, label in bounds if rows < bound), "n>100M")


def dataset_card(
    metadata: dict[str, PuzzleDatasetMetadata],
    num_rows: dict[str, int],
    provenance: Provenance,
) -> DatasetCard:
    """A card describing the puzzle type, the dataset's provenance (its source, license, build command and the Hub
    datasets it was built from) and the metadata of each split."""
    first = next(iter(metadata.values()))
    data = DatasetCardData(
        pretty_name=f"HRM {first.task} puzzles",
        license=provenance.license,
        size_categories=[_size_category(sum(num_rows.values()))],
        task_categories=TASK_CATEGORIES,
        tags=["hrm", "reasoning", "puzzles", first.task],
        source_datasets=provenance.source_datasets,
    )
    table = "\n".join(
        f"| {name} | {num_rows[name]} | {m.total_groups} | {m.mean_puzzle_examples:.4g} |"
        for name, m in metadata.items()
    )
    built = (
        f"Built with:\n```\n{first.build_command}\n```\nEvery random choice (subsampling, augmentation, generation) "
        "derives from `--seed` (default 0), so the same command gives the same bytes."
        if first.build_command
        else "Built in-process with the `data` package."
    )
    body = f"""# HRM {first.task} puzzles

{first.puzzle_type.dataset_description}

Paper: [Hierarchical Reasoning Model]({PAPER_URL}) (Wang et al., 2025).

## Source and build
{provenance.source}

{built}

## Metadata
`puzzle_metadata.json` holds the metadata of each split (the release's `dataset.json` fields and provenance)
and `identifiers.json` the puzzle identifier names where there are several.

- vocab_size: {first.vocab_size}
- seq_len: {first.seq_len}
- pad_id: {first.pad_id}, ignore_label_id: {first.ignore_label_id}, blank_identifier_id: {first.blank_identifier_id}
- num_puzzle_identifiers: {first.num_puzzle_identifiers}

| split | examples | groups | mean examples per puzzle |
|---|---|---|---|
{table}

## Columns
{COLUMNS}
## Citation
```bibtex
{BIBTEX}
```

{loading_section(None)}"""
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n{body}")


def loading_section(repo_id: str | None) -> str:
    """How to load the dataset: from the Hub repo `repo_id`, or from its folder while it has none."""
    rows = f'`load_dataset("{repo_id}")`' if repo_id else '`load_from_disk("<this folder>")`'
    return f"""{LOADING_HEADING}With the `data` package of hrm-hf (rows and metadata):
```python
from hrm_hf.data import load_puzzle_dataset
dataset, metadata = load_puzzle_dataset("{repo_id or "<this folder>"}")
```
The columns are named like the model's `forward` arguments, so a torch-formatted batch goes straight in:
`model(**dataset["test"].with_format("torch", columns=["input_ids", "puzzle_identifiers", "labels"])[:4])`.
With `datasets` alone, the rows come from {rows} and the metadata from `puzzle_metadata.json` beside them.
"""


def card_for_repo(card: DatasetCard, repo_id: str) -> DatasetCard:
    """`card` with its loading section (the last one) naming the Hub repo `repo_id`."""
    card.text = card.text.partition(LOADING_HEADING)[0] + loading_section(repo_id)
    return card
