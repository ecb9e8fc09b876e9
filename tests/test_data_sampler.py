"""Training sampler: release semantics, ranks, determinism, resumption."""

import numpy as np
import pytest
import torch

from hrm_hf.data.builder import PuzzleGroup, build_puzzle_dataset
from hrm_hf.data.sampler import TrainBatchSampler


SEQ_LEN = 6


def _dataset(puzzle_sizes_per_group: list[list[int]]):
    """Groups of puzzles with the given example counts; each example's tokens encode its row number."""
    groups, row, identifier = [], 0, 1
    for sizes in puzzle_sizes_per_group:
        count = sum(sizes)
        rows = np.arange(row, row + count)
        inputs = np.stack([rows // 100 + 1, rows % 100 + 1, *[np.zeros_like(rows)] * (SEQ_LEN - 2)], axis=1).astype(
            np.uint8
        )
        labels = inputs.copy()
        labels[:, -1] = 0  # PAD label: ignored
        ids = np.arange(identifier, identifier + len(sizes))
        groups.append(("train", PuzzleGroup(inputs, labels, ids, np.array(sizes))))
        row, identifier = row + count, identifier + len(sizes)
    names = ["<blank>"] + [f"p{i}" for i in range(1, identifier)]
    dataset, metadata = build_puzzle_dataset(
        groups, task="arc", vocab_size=101, seq_len=SEQ_LEN, identifier_names=names
    )
    return dataset["train"], metadata["train"]


def _row_numbers(batch) -> np.ndarray:
    tokens = batch["input_ids"].numpy()
    return (tokens[:, 0] - 1) * 100 + tokens[:, 1] - 1


# 40 groups of 1-3 puzzles with 1-4 examples each (equal within a group, as augmentations are)
RNG = np.random.default_rng(0)
GROUPS = [[int(s)] * int(n) for s, n in zip(RNG.integers(1, 5, 40), RNG.integers(1, 4, 40), strict=True)]


@pytest.fixture(scope="module")
def data():
    return _dataset(GROUPS)


def _iteration(sampler) -> list[dict]:
    return list(sampler)


def test_batches_follow_the_release_semantics(data):
    dataset, metadata = data
    rows = dataset.with_format("numpy")[:]
    sampler = TrainBatchSampler(dataset, metadata, global_batch_size=8, seed=3)
    for iteration in range(3):
        assert sampler.iteration == iteration
        expected_len = len(sampler)
        batches = _iteration(sampler)
        assert len(batches) == expected_len > 0
        drawn = np.concatenate([_row_numbers(b) for b in batches])
        groups, puzzles = rows["group_index"][drawn], rows["puzzle_index"][drawn]
        # every group at most once per (one-epoch) iteration, as one contiguous block, with one puzzle only
        blocks = groups[np.flatnonzero(np.diff(groups, prepend=-1))]
        assert len(blocks) == len(set(blocks.tolist()))
        for g in set(blocks.tolist()):
            assert len(set(puzzles[groups == g].tolist())) == 1
        # no example twice; a puzzle's examples are its own
        assert len(set(drawn.tolist())) == len(drawn)
        # groups missing from the iteration are only those after the last full batch: few examples
        missing = len(GROUPS) - len(blocks)
        assert missing <= 8
    assert sampler.iteration == 3


def test_puzzle_cut_at_batch_end_is_not_continued():
    dataset, metadata = _dataset([[5]] * 6)  # 6 groups of one 5-example puzzle
    batches = _iteration(TrainBatchSampler(dataset, metadata, global_batch_size=4, seed=0))
    # each batch takes 4 of a puzzle's 5 examples and the next batch starts with the next group
    assert len(batches) == 6
    groups = [set((_row_numbers(b) // 5).tolist()) for b in batches]
    assert all(len(g) == 1 for g in groups) and len(set.union(*groups)) == 6
    # the 4 examples taken are a random subset, not always the first 4
    assert len({frozenset((_row_numbers(b) % 5).tolist()) for b in batches}) > 1


def test_all_groups_once_when_nothing_is_dropped():
    dataset, metadata = _dataset([[1, 1, 1]] * 12)
    sampler = TrainBatchSampler(dataset, metadata, global_batch_size=4, seed=1)
    drawn = np.concatenate([_row_numbers(b) for b in sampler])
    assert sorted((drawn // 3).tolist()) == list(range(12))
    assert len(set((drawn % 3).tolist())) > 1  # puzzles drawn at random within groups


def test_ranks_are_disjoint_and_form_the_global_batch(data):
    dataset, metadata = data
    whole = [_row_numbers(b) for b in TrainBatchSampler(dataset, metadata, 8, seed=5)]
    for world_size in (2, 4):
        per_rank = [
            [_row_numbers(b) for b in TrainBatchSampler(dataset, metadata, 8, r, world_size, seed=5)]
            for r in range(world_size)
        ]
        for step, expected in enumerate(whole):
            parts = [rank_batches[step] for rank_batches in per_rank]
            assert all(len(p) == 8 // world_size for p in parts)
            np.testing.assert_array_equal(np.concatenate(parts), expected)


def test_seeds_make_runs_deterministic(data):
    dataset, metadata = data
    first = [_row_numbers(b) for b in TrainBatchSampler(dataset, metadata, 8, seed=7)]
    again = [_row_numbers(b) for b in TrainBatchSampler(dataset, metadata, 8, seed=7)]
    other = [_row_numbers(b) for b in TrainBatchSampler(dataset, metadata, 8, seed=8)]
    assert all((a == b).all() for a, b in zip(first, again, strict=True))
    assert any(len(a) != len(b) or (a != b).any() for a, b in zip(first, other, strict=False))


@pytest.mark.parametrize("stop_after", [1, 3, "iteration_end"])
def test_resume_gives_the_same_continuation(data, stop_after):
    dataset, metadata = data
    reference = TrainBatchSampler(dataset, metadata, 8, seed=11)
    stream = [_row_numbers(b) for _ in range(3) for b in reference]
    interrupted = TrainBatchSampler(dataset, metadata, 8, seed=11)
    consumed = []
    count = len(interrupted) if stop_after == "iteration_end" else stop_after
    for batch in interrupted:
        consumed.append(_row_numbers(batch))
        if len(consumed) == count:
            break
    state = interrupted.state_dict()
    resumed = TrainBatchSampler(dataset, metadata, 8, seed=11)
    resumed.load_state_dict(state)
    continuation = consumed
    while len(continuation) < len(stream):
        continuation += [_row_numbers(b) for b in resumed]  # the rest of the current iteration
    for a, b in zip(stream, continuation, strict=False):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="seed"):
        TrainBatchSampler(dataset, metadata, 8, seed=12).load_state_dict(state)
    with pytest.raises(ValueError, match="epochs_per_iter"):
        TrainBatchSampler(dataset, metadata, 8, seed=11, epochs_per_iter=2).load_state_dict(state)


def test_batch_tensors_and_label_mapping(data):
    dataset, metadata = data
    sampler = TrainBatchSampler(dataset, metadata, 8, rank=1, world_size=2)
    batch = next(iter(sampler))
    assert batch["input_ids"].dtype == torch.int32 and batch["input_ids"].shape == (4, SEQ_LEN)
    assert batch["labels"].dtype == torch.int64 and (batch["labels"][:, -1] == -100).all()
    assert (batch["labels"][:, :2] == batch["input_ids"][:, :2]).all()
    rows = dataset.with_format("numpy")[:]
    assert batch["puzzle_identifiers"].dtype == torch.int32
    assert (batch["puzzle_identifiers"].numpy() == rows["puzzle_identifiers"][_row_numbers(batch)]).all()
    assert sampler.state_dict()["batches_done"] == 1


def test_bad_batch_sizes_are_errors(data):
    dataset, metadata = data
    with pytest.raises(ValueError, match="multiple of world_size 3"):
        TrainBatchSampler(dataset, metadata, 8, world_size=3)
    with pytest.raises(ValueError, match="epochs_per_iter=1 epochs of this split do not fill one global batch"):
        next(iter(TrainBatchSampler(dataset, metadata, 10_000)))


def test_batches_span_epochs_and_only_the_iteration_drops_a_batch():
    """An epoch of 6 examples with a global batch of 4 trains: 5 epochs per iteration give 30 examples, 7 full
    batches, every group visited 5 times (the last 2 examples are the only ones dropped)."""
    dataset, metadata = _dataset([[1]] * 6)
    with pytest.raises(ValueError, match="do not fill one global batch"):
        next(iter(TrainBatchSampler(dataset, metadata, 8, epochs_per_iter=1)))
    sampler = TrainBatchSampler(dataset, metadata, 4, seed=0, epochs_per_iter=5)
    assert len(sampler) == 7
    drawn = np.concatenate([_row_numbers(b) for b in sampler])
    assert len(drawn) == 28 and np.bincount(drawn, minlength=6).min() >= 4
    assert sampler.iteration == 1


def test_multi_example_draws_do_not_touch_the_global_rng(data):
    dataset, metadata = data
    np.random.seed(0)
    first = [_row_numbers(b) for b in TrainBatchSampler(dataset, metadata, 8, seed=4)]
    np.random.seed(1)
    again = [_row_numbers(b) for b in TrainBatchSampler(dataset, metadata, 8, seed=4)]
    assert all((a == b).all() for a, b in zip(first, again, strict=True))


def test_shuffled_split_is_rejected(data):
    dataset, metadata = data
    with pytest.raises(ValueError, match="ordered by puzzle_index"):
        TrainBatchSampler(dataset.shuffle(seed=0), metadata, 8)


def test_many_arrow_chunks_read_the_same_rows(monkeypatch, data):
    monkeypatch.setattr("hrm_hf.data.builder.FLUSH_BYTES", 1)  # one Arrow record batch per group
    chunked, chunked_metadata = _dataset(GROUPS)
    assert len(chunked.with_format("arrow")[:].to_batches()) == len(GROUPS)
    whole = [b["input_ids"] for b in TrainBatchSampler(*data, 8, seed=2)]
    pieces = [b["input_ids"] for b in TrainBatchSampler(chunked, chunked_metadata, 8, seed=2)]
    assert all(torch.equal(a, b) for a, b in zip(whole, pieces, strict=True))


def test_bench_sampler_prints_batches_per_iteration_and_visit_counts(capsys):
    from hrm_hf.scripts.bench_sampler import main

    main(["--preset", "sudoku-extreme-1k", "--groups", "10", "--puzzles-per-group", "3", "--global-batch-size", "4"])
    out = capsys.readouterr().out
    # 2000 epochs of 10 one-example groups per iteration: 5000 full batches, every group visited 2000 times each.
    assert "batches per iteration: [5000, 5000," in out and "steps trained: 50000" in out
    assert "per-group examples drawn: mean 20000.00, std 0.000" in out
