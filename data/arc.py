"""ARC-AGI: task parsing (Kaggle JSON or one file per task), encoding, augmentation and its inverse.

Grids become tokens through the ARC type of `tokenization_hrm` (EOS 1, colour c -> c + 2 on a 30x30 canvas, the
grid at a top-left offset closed by an EOS row and column). An augmented puzzle applies the type's augmentation (a
colour permutation fixing 0, then a dihedral transform) to every grid of the task, and is named
`<task>_t<transform>_<colour map digits>` so that predictions can be mapped back.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from datasets import DatasetDict
from tqdm import tqdm

from ..tokenization_hrm import ARC, ARC_SEQ_LEN, ARC_SIDE, ARC_VOCAB_SIZE, ArcAugmentation, arc_canvas
from .builder import PuzzleGroup, build_puzzle_dataset
from .metadata import IN_PROCESS, Provenance, PuzzleDatasetMetadata
from .puzzle_csv import PuzzleFormatError


BLANK_IDENTIFIER = "<blank>"
AUGMENT_RETRIES_FACTOR = 5

Grid = np.ndarray  # [rows, columns] uint8 colours 0..9
Pair = tuple[Grid, Grid]


@dataclass
class ArcTask:
    """One ARC task: demonstration (`train`) and `test` input/output pairs."""

    name: str
    subset: str
    train: list[Pair] = field(default_factory=list)
    test: list[Pair] = field(default_factory=list)


# ---------------------------------------------------------------- parsing


def parse_grid(raw: object, where: str) -> Grid:
    """A validated grid; errors name `where` (task, example, field)."""
    if not (isinstance(raw, list) and raw and all(isinstance(row, list) and row for row in raw)):
        raise PuzzleFormatError(f"{where}: a grid must be a non-empty list of non-empty rows")
    if len({len(row) for row in raw}) != 1:
        raise PuzzleFormatError(
            f"{where}: a grid must be a rectangle, got rows of lengths {sorted({len(r) for r in raw})}"
        )
    # JSON `true`/`false` load as bools, which count as the ints 1 and 0 unless excluded.
    bad = [v for row in raw for v in row if isinstance(v, bool) or not isinstance(v, (int, np.integer))]
    if bad:
        raise PuzzleFormatError(f"{where}: a grid must hold integer colours 0..9, got {bad[0]!r}")
    grid = np.array(raw, dtype=np.int64)
    if grid.shape[0] > ARC_SIDE or grid.shape[1] > ARC_SIDE:
        raise PuzzleFormatError(f"{where}: grid of {grid.shape[0]}x{grid.shape[1]} exceeds {ARC_SIDE}x{ARC_SIDE}")
    if grid.min() < 0 or grid.max() > 9:
        bad = sorted({int(v) for v in grid.flat if not 0 <= v <= 9})
        raise PuzzleFormatError(f"{where}: colours must be in 0..9, got {bad}")
    return grid.astype(np.uint8)


def parse_task(name: str, subset: str, raw: object, test_outputs: list | None, where: str) -> ArcTask:
    """Build an `ArcTask` from its JSON dict; `test_outputs` (Kaggle solutions) overrides the test outputs."""
    if not isinstance(raw, dict):
        raise PuzzleFormatError(f"{where}: task {name}: must be an object with 'train' and 'test' lists")
    task = ArcTask(name, subset)
    for kind in ("train", "test"):
        examples = raw.get(kind)
        if not isinstance(examples, list) or not examples or not all(isinstance(e, dict) for e in examples):
            raise PuzzleFormatError(
                f"{where}: task {name}: '{kind}' must be a non-empty list of examples ({{'input': ..., 'output': ...}})"
            )
        if kind == "test" and test_outputs is not None and not isinstance(test_outputs, list):
            raise PuzzleFormatError(
                f"{where}: task {name}: solutions must be a list of grids, got {type(test_outputs).__name__}"
            )
        if kind == "test" and test_outputs is not None and len(test_outputs) != len(examples):
            raise PuzzleFormatError(
                f"{where}: task {name}: {len(examples)} test inputs but {len(test_outputs)} solutions"
            )
        for i, example in enumerate(examples):
            output = test_outputs[i] if kind == "test" and test_outputs is not None else example.get("output")
            pair = (
                parse_grid(example.get("input"), f"{where}: task {name}: {kind} example {i} input"),
                parse_grid(output, f"{where}: task {name}: {kind} example {i} output"),
            )
            getattr(task, kind).append(pair)
    return task


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise PuzzleFormatError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise PuzzleFormatError(f"{path}:{error.lineno}: invalid JSON: {error.msg} (column {error.colno})") from None


def _read_json_object(path: Path) -> dict:
    """A JSON file that must hold an object keyed by task name."""
    content = _read_json(path)
    if not isinstance(content, dict):
        raise PuzzleFormatError(f"{path}: must be a JSON object keyed by task name, got a {type(content).__name__}")
    return content


def load_kaggle_subset(kaggle_dir: str | Path, subset: str) -> list[ArcTask]:
    """Tasks of `arc-agi_<subset>_challenges.json` with outputs from `arc-agi_<subset>_solutions.json`."""
    challenges_path = Path(kaggle_dir) / f"arc-agi_{subset}_challenges.json"
    solutions_path = Path(kaggle_dir) / f"arc-agi_{subset}_solutions.json"
    challenges, solutions = _read_json_object(challenges_path), _read_json_object(solutions_path)
    missing = sorted(set(challenges) - set(solutions))
    if missing:
        raise PuzzleFormatError(f"{solutions_path}: no solutions for tasks {missing[:5]}")
    return [
        parse_task(name, subset, raw, solutions[name], str(challenges_path))
        for name, raw in sorted(challenges.items())
    ]


def load_folder_subset(tasks_dir: str | Path, subset: str) -> list[ArcTask]:
    """Tasks of the JSON files under `tasks_dir/subset` (the ARC-AGI GitHub layout; subfolders included)."""
    files = sorted((Path(tasks_dir) / subset).rglob("*.json"))
    if not files:
        raise FileNotFoundError(f"No task files (*.json) under {Path(tasks_dir) / subset}")
    return [parse_task(path.stem, subset, _read_json(path), None, str(path)) for path in files]


def load_tasks(source_dir: str | Path, subsets: Sequence[str], kaggle: bool = True) -> list[ArcTask]:
    """Tasks of every subset, in subset order then by name; a task name in two subsets is an error."""
    load = load_kaggle_subset if kaggle else load_folder_subset
    tasks, seen = [], {}
    for subset in subsets:
        for task in load(source_dir, subset):
            if task.name in seen:
                raise PuzzleFormatError(f"Task {task.name} is in both subsets {seen[task.name]} and {subset}")
            seen[task.name] = subset
            tasks.append(task)
    return tasks


# ---------------------------------------------------------------- augmentation


_NAME = re.compile(r"^(?P<task>.+)_t(?P<t>[0-7])_(?P<map>\d{10})$")


def parse_identifier(name: str) -> tuple[str, ArcAugmentation]:
    """(task name, augmentation) of a puzzle identifier name; un-augmented names get the identity."""
    match = _NAME.match(name)
    if match is None:
        return name, ArcAugmentation()
    return match["task"], ArcAugmentation(int(match["t"]), tuple(int(c) for c in match["map"]))


def _puzzle_hash(pairs: Sequence[Pair]) -> bytes:
    """Order-free hash of a puzzle's grids, shapes included."""
    digests = sorted(
        hashlib.blake2b(b"".join(bytes(g.shape) + np.ascontiguousarray(g).tobytes() for g in pair)).digest()
        for pair in pairs
    )
    return hashlib.blake2b(b"".join(digests)).digest()


def augmentations(task: ArcTask, num_aug: int, rng: np.random.Generator) -> list[ArcAugmentation]:
    """The identity plus up to `num_aug` random augmentations that change the task (duplicates rejected by hash)."""
    pairs = task.train + task.test
    chosen, seen = [ArcAugmentation()], {_puzzle_hash(pairs)}
    for _ in range(AUGMENT_RETRIES_FACTOR * num_aug):
        if len(chosen) > num_aug:
            break
        candidate = ArcAugmentation.random(rng)
        digest = _puzzle_hash([(candidate.apply(a), candidate.apply(b)) for a, b in pairs])
        if digest not in seen:
            seen.add(digest)
            chosen.append(candidate)
    return chosen


# ---------------------------------------------------------------- groups


@dataclass
class EncodedTask:
    """A task's augmented puzzles, encoded: names, and (inputs, labels, puzzle sizes) per split."""

    names: list[str]
    splits: dict[str, tuple[np.ndarray, np.ndarray, list[int]]]


def _encode_pairs(pairs: Sequence[Pair], translate: bool, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Encode one puzzle's pairs; with `translate` all but one random pair get a random offset."""
    fixed = int(rng.integers(len(pairs))) if translate else -1
    inputs, labels = [], []
    for i, (grid_in, grid_out) in enumerate(pairs):
        row = column = 0
        if translate and i != fixed:
            row = int(rng.integers(ARC_SIDE - max(grid_in.shape[0], grid_out.shape[0]) + 1))
            column = int(rng.integers(ARC_SIDE - max(grid_in.shape[1], grid_out.shape[1]) + 1))
        inputs.append(arc_canvas(grid_in, row, column))
        labels.append(arc_canvas(grid_out, row, column))
    return np.stack(inputs), np.stack(labels)


def encode_task(task: ArcTask, is_test_task: bool, num_aug: int, seed: int, index: int) -> EncodedTask:
    """Augment and encode one task. Test-set tasks put demonstrations in `train` and test pairs in `test`; other
    tasks go to `train` whole. Training-split pairs are translated. Randomness comes from (`seed`, `index`)."""
    rng = np.random.default_rng([seed, index])
    parts = {"train": task.train, "test": task.test} if is_test_task else {"train": task.train + task.test}
    augs = augmentations(task, num_aug, rng)
    splits = {}
    for split, pairs in parts.items():
        encoded = [_encode_pairs([(a.apply(x), a.apply(y)) for x, y in pairs], split == "train", rng) for a in augs]
        splits[split] = (
            np.concatenate([e[0] for e in encoded]),
            np.concatenate([e[1] for e in encoded]),
            [len(pairs)] * len(augs),
        )
    return EncodedTask([a.name(task.name) if i else task.name for i, a in enumerate(augs)], splits)


def _encode_task_star(args: tuple) -> EncodedTask:
    return encode_task(*args)


def arc_groups(
    tasks: Sequence[ArcTask], test_subset: str, num_aug: int, seed: int, identifier_names: list[str], workers: int = 1
) -> Iterator[tuple[str, PuzzleGroup]]:
    """`(split, group)` pairs of every task, in task order, encoded on `workers` processes.

    `identifier_names` (initially `["<blank>"]`) receives each new puzzle name; its index is the identifier.
    """
    identifiers = {name: i for i, name in enumerate(identifier_names)}
    jobs = [(task, task.subset == test_subset, num_aug, seed, i) for i, task in enumerate(tasks)]
    with Pool(workers) if workers > 1 else _InProcess() as pool:
        for encoded in tqdm(pool.imap(_encode_task_star, jobs), total=len(jobs), desc="Encoding ARC tasks"):
            for name in encoded.names:
                if name not in identifiers:
                    identifiers[name] = len(identifier_names)
                    identifier_names.append(name)
            ids = np.array([identifiers[name] for name in encoded.names], dtype=np.int32)
            for split, (inputs, labels, sizes) in encoded.splits.items():
                yield split, PuzzleGroup(inputs, labels, ids, np.array(sizes))


class _InProcess:
    """Stands in for a `multiprocessing.Pool` when one worker is asked for."""

    def __enter__(self) -> _InProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def imap(self, function, jobs):
        return map(function, jobs)


def build_arc_dataset(
    tasks: Sequence[ArcTask],
    test_subset: str,
    *,
    num_aug: int = 1000,
    seed: int = 0,
    workers: int = 1,
    output_dir: str | Path | None = None,
    provenance: Provenance = IN_PROCESS,
) -> tuple[DatasetDict, dict[str, PuzzleDatasetMetadata]]:
    """Augment and encode ARC tasks into the `DatasetDict`; identifier 0 is `<blank>`."""
    names = [BLANK_IDENTIFIER]
    return build_puzzle_dataset(
        arc_groups(tasks, test_subset, num_aug, seed, names, workers),
        task=ARC.name,
        vocab_size=ARC_VOCAB_SIZE,
        seq_len=ARC_SEQ_LEN,
        identifier_names=names,
        output_dir=output_dir,
        provenance=provenance,
    )
