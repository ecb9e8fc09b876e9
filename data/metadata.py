"""Dataset metadata: the fields of the release's `dataset.json`, plus provenance (`Provenance`, for the card).

Counts (`total_groups`, `mean_puzzle_examples`) describe one split, as in the release, where each split folder has
its own `dataset.json`; the vocabulary, sequence length and identifier table are shared by all splits.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..records import check_record
from ..tokenization_hrm import PUZZLE_TYPES, PuzzleType, infer_puzzle_type


# Label id of positions that carry no loss, as `forward` and the loss functions expect (the release stored PAD 0).
IGNORE_LABEL_ID = -100
# The keys of the release's `dataset.json`, in its order.
RELEASE_KEYS = (
    "pad_id",
    "ignore_label_id",
    "blank_identifier_id",
    "vocab_size",
    "seq_len",
    "num_puzzle_identifiers",
    "total_groups",
    "mean_puzzle_examples",
    "sets",
)


@dataclass(frozen=True)
class Provenance:
    """Where a built dataset comes from, as its card tells it.

    Attributes:
        source: how the rows were obtained (a paragraph of the card).
        license: the data's license (a Hub license id), or None when the builder cannot tell.
        build_command: the command line that built the dataset; "" when built in-process.
        source_datasets: the Hub datasets the rows were read from, or None.
    """

    source: str = ""
    license: str | None = None
    build_command: str = ""
    source_datasets: list[str] | None = None


IN_PROCESS = Provenance()  # a dataset built in-process: no source told, no license, no command


@dataclass
class PuzzleDatasetMetadata:
    """Metadata of one split of a puzzle dataset.

    Attributes:
        vocab_size: token ids are `0..vocab_size-1`; id 0 is PAD.
        seq_len: tokens per example (inputs and labels alike).
        num_puzzle_identifiers: rows of the puzzle-embedding table, the blank identifier included.
        total_groups: groups (a source puzzle and its augmentations) in this split.
        mean_puzzle_examples: examples per puzzle in this split, on average.
        pad_id: input token used for padding.
        ignore_label_id: label id stored where no loss is taken: -100 in datasets built here; the release and
            datasets built before stored 0, which batches turn into -100. None if every label counts.
        blank_identifier_id: puzzle identifier of padding rows.
        sets: the release's subset names (always `["all"]` for datasets built here).
        identifier_names: name of each puzzle identifier (ARC: the augmented puzzle names), or None.
        task: the name of the puzzle type (`sudoku`, `maze` or `arc`, keys of `tokenization_hrm.PUZZLE_TYPES`).
        split: the split these counts describe.
        build_command: the command line that built the dataset.
        fingerprint: a hash of the dataset's rows and metadata, computed when it was built
            (`storage.content_fingerprint`), the same for every split; "" for datasets built before it was recorded.
            A model trained on the dataset and a checkpoint record it, so that a dataset rebuilt with other puzzles is
            told apart from the one they were trained on.
    """

    vocab_size: int
    seq_len: int
    num_puzzle_identifiers: int
    total_groups: int
    mean_puzzle_examples: float
    pad_id: int = 0
    ignore_label_id: int | None = IGNORE_LABEL_ID
    blank_identifier_id: int = 0
    sets: list[str] = field(default_factory=lambda: ["all"])
    identifier_names: list[str] | None = None
    task: str = ""
    split: str = ""
    build_command: str = ""
    fingerprint: str = ""

    @property
    def puzzle_type_name(self) -> str:
        """The name of the dataset's task: its `task`, else the name of the puzzle type its shape fits; "" if none."""
        kind = self.puzzle_type
        return self.task or (kind.name if kind is not None else "")

    @property
    def puzzle_type(self) -> PuzzleType | None:
        """The puzzle type the dataset names, or the one its shape fits when it names none (the release); None if
        neither. A `task` that is no puzzle type (a synthetic dataset) is never taken for the type its shape fits."""
        if self.task:
            return PUZZLE_TYPES.get(self.task)
        return infer_puzzle_type(self.seq_len, self.vocab_size)

    def to_dict(self, with_identifier_names: bool = True) -> dict[str, Any]:
        """All fields as a JSON-ready dict (the release's keys first)."""
        fields = dataclasses.asdict(self)
        if not with_identifier_names:
            fields.pop("identifier_names")
        return {**{key: fields.pop(key) for key in RELEASE_KEYS}, **fields}

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "puzzle metadata") -> PuzzleDatasetMetadata:
        """Inverse of `to_dict`; also reads a release `dataset.json` (missing provenance fields keep defaults).

        Every field is checked for its type, and the sizes and ids for their ranges, before use: a bad one is a
        one-line `ValueError` naming `where` (the file) and the field."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        check_record(values, {}, where)
        unknown = set(values) - set(fields)
        if unknown:
            raise ValueError(f"{where}: Unknown puzzle metadata fields: {sorted(unknown)}")
        kinds = {name: annotation_kinds(str(f.type)) for name, f in fields.items()}
        required = {name for name, f in fields.items() if f.default is dataclasses.MISSING}
        required -= {name for name, f in fields.items() if f.default_factory is not dataclasses.MISSING}
        check_record(values, kinds, where, optional=frozenset(fields.keys() - required))
        metadata = cls(**values)
        metadata.check_ranges(where)
        return metadata

    def check_ranges(self, where: str) -> None:
        """A `ValueError` naming the field when a size is not positive or an id or name list does not fit them."""
        for name in ("vocab_size", "seq_len", "num_puzzle_identifiers"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{where}: field `{name}` must be positive, got {getattr(self, name)!r}.")
        if self.total_groups < 0 or not self.mean_puzzle_examples >= 0:  # also refuses NaN
            raise ValueError(
                f"{where}: fields `total_groups` and `mean_puzzle_examples` must be >= 0, got "
                f"{self.total_groups!r} and {self.mean_puzzle_examples!r}."
            )
        if not 0 <= self.pad_id < self.vocab_size:
            raise ValueError(
                f"{where}: field `pad_id` must be in [0, vocab_size={self.vocab_size}), got {self.pad_id!r}."
            )
        if not 0 <= self.blank_identifier_id < self.num_puzzle_identifiers:
            raise ValueError(
                f"{where}: field `blank_identifier_id` must be in [0, num_puzzle_identifiers="
                f"{self.num_puzzle_identifiers}), got {self.blank_identifier_id!r}."
            )
        names = self.identifier_names
        if names is not None and (
            len(names) != self.num_puzzle_identifiers or not all(isinstance(name, str) for name in names)
        ):
            raise ValueError(
                f"{where}: the identifier names must be {self.num_puzzle_identifiers} strings "
                f"(num_puzzle_identifiers), got {len(names)} values."
            )


def annotation_kinds(annotation: str) -> tuple[str | None, ...]:
    """The JSON kinds (`records.KINDS` names, None for null) a field annotated `annotation` may hold."""
    kinds = {"int": "int", "float": "number", "str": "str", "bool": "bool", "None": None}
    return tuple(kinds.get(part.strip(), "list" if part.strip().startswith("list") else "dict")
                 for part in annotation.split("|"))  # fmt: skip
