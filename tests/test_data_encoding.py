"""Encodings (Sudoku, Maze, ARC) and augmentations with their inverses."""

import numpy as np
import pytest

from hrm_hf.data import arc, maze, sudoku
from hrm_hf.data.maze_generator import generate_mazes
from hrm_hf.data.puzzle_csv import PuzzleRow
from hrm_hf.data.sudoku_generator import generate_puzzles
from hrm_hf.tokenization_hrm import (
    MAZE,
    NUM_DIHEDRAL,
    PUZZLE_TYPES,
    ArcAugmentation,
    SudokuShuffle,
    arc_canvas,
    decode_arc,
    dihedral_transform,
    inverse_dihedral_transform,
    sudoku_vocab_size,
)


ARC_TASK = arc.ArcTask(
    "demo",
    "evaluation",
    train=[
        (np.array([[1, 2, 0]], np.uint8), np.array([[0], [5]], np.uint8)),
        (np.array([[3]], np.uint8), np.array([[4, 4]], np.uint8)),
    ],
    test=[(np.array([[7, 0], [0, 8]], np.uint8), np.array([[9]], np.uint8))],
)


def _text(tokens: np.ndarray, size: int) -> str:
    return "".join("." if t == 1 else str(t - 1) for t in tokens)


def test_sudoku_tokens_are_digit_plus_one():
    row = PuzzleRow("s", "1.3." + "." * 12, "1234341221434321", 0)
    inputs, labels = sudoku.encode_rows([row])
    assert inputs[0, :4].tolist() == [2, 1, 4, 1] and labels[0, :4].tolist() == [2, 3, 4, 5]
    assert sudoku_vocab_size(9) == 11 and sudoku_vocab_size(4) == 6


def test_maze_tokens_follow_the_charset():
    row = PuzzleRow("m", "# SG", "# SG", 0)
    assert maze.encode_rows([row])[0].tolist() == [[1, 2, 3, 4]]
    assert maze.encode_rows([PuzzleRow("m", "o", "o", 0)])[1].tolist() == [[5]]


@pytest.mark.parametrize("size", [4, 9])
def test_sudoku_augmentation_keeps_a_valid_solution_of_its_clues(size):
    rows = generate_puzzles(3, seed=0, size=size, progress=False)
    rng = np.random.default_rng(0)
    for inputs, labels in zip(*sudoku.encode_rows(rows), strict=True):
        shuffles = SudokuShuffle.random(rng, 20, size)
        aug_inputs, aug_labels = shuffles.apply(inputs), shuffles.apply(labels)
        assert len({a.tobytes() for a in aug_labels}) > 1
        for q, a in zip(aug_inputs, aug_labels, strict=True):
            assert sudoku.validate_row(_text(q, size), _text(a, size), size) is None
            assert (q == 1).sum() == (inputs == 1).sum()  # as many blanks as the source puzzle


def test_sudoku_augmentation_draws_every_kind_of_shuffle():
    shuffles = SudokuShuffle.random(np.random.default_rng(1), 200)
    source, token_map = shuffles.source, shuffles.token_map
    assert (token_map[:, :2] == [0, 1]).all()
    assert {tuple(sorted(m)) for m in token_map[:, 2:]} == {tuple(range(2, 11))}
    transposed = (source.reshape(-1, 9, 9)[:, 0, 1] // 9) != (source.reshape(-1, 9, 9)[:, 0, 0] // 9)
    assert 0 < transposed.sum() < 200  # row 0 read along a column (transpose) for some maps only
    assert len({tuple(s) for s in source}) == 200


def test_dihedral_transforms_and_inverses():
    grid = np.arange(6).reshape(2, 3)
    results = {
        dihedral_transform(grid, t).tobytes() + bytes(dihedral_transform(grid, t).shape) for t in range(NUM_DIHEDRAL)
    }
    assert len(results) == NUM_DIHEDRAL
    for t in range(NUM_DIHEDRAL):
        assert (inverse_dihedral_transform(dihedral_transform(grid, t), t) == grid).all()
    assert (dihedral_transform(grid, 1) == np.rot90(grid)).all() and (dihedral_transform(grid, 6) == grid.T).all()
    with pytest.raises(ValueError, match="0..7"):
        dihedral_transform(grid, 8)


def test_arc_encoding_of_a_known_grid():
    tokens = arc_canvas(np.array([[1, 2, 3], [4, 5, 0]], np.uint8), row=1, column=2).reshape(30, 30)
    expected = np.zeros((30, 30), np.uint8)
    expected[1, 2:5] = [3, 4, 5]
    expected[2, 2:5] = [6, 7, 2]
    expected[3, 2:5] = 1  # EOS row under the grid
    expected[1:3, 5] = 1  # EOS column right of it; the corner (3, 5) stays PAD
    assert (tokens == expected).all()
    full = arc_canvas(np.full((30, 30), 9, np.uint8))
    assert (full == 11).all()  # no room for EOS
    edge = arc_canvas(np.zeros((2, 30), np.uint8)).reshape(30, 30)
    assert (edge[2] == 1).all() and (edge[:2] == 2).all() and (edge[3:] == 0).all()


def test_arc_decoding_crops_the_largest_colour_rectangle():
    grid = np.array([[1, 2, 3], [4, 5, 0]], np.uint8)
    assert (decode_arc(arc_canvas(grid)) == grid).all()
    tokens = arc_canvas(np.ones((4, 4), np.uint8)).reshape(30, 30)
    tokens[2, 2] = 1  # an EOS inside: the best rectangle is the 2x4 above it (area 8 > 4x2)
    assert decode_arc(tokens.reshape(-1)).shape == (2, 4)
    assert decode_arc(np.zeros(900, np.uint8)).shape == (0, 0)


def test_arc_augmentation_inverse_and_fixed_background():
    rng = np.random.default_rng(0)
    grid = rng.integers(0, 10, size=(3, 5)).astype(np.uint8)
    for _ in range(50):
        aug = ArcAugmentation.random(rng)
        moved = aug.apply(grid)
        assert (aug.invert(moved) == grid).all()
        assert (
            (inverse_dihedral_transform(moved, aug.transform_id) == 0) == (grid == 0)
        ).all()  # colour 0 never moves
        name = aug.name("007bbfb7")
        assert arc.parse_identifier(name) == ("007bbfb7", aug)
    assert arc.parse_identifier("Center2") == ("Center2", ArcAugmentation())


def test_arc_task_augmentations_are_distinct_and_recoverable():
    augs = arc.augmentations(ARC_TASK, 30, np.random.default_rng(0))
    assert augs[0] == ArcAugmentation() and len(augs) == 31
    grids = {
        tuple(a.apply(g).tobytes() + bytes(a.apply(g).shape) for pair in ARC_TASK.train for g in pair) for a in augs
    }
    assert len(grids) == 31
    encoded = arc.encode_task(ARC_TASK, is_test_task=True, num_aug=30, seed=0, index=0)
    inputs, labels, sizes = encoded.splits["test"]
    assert sizes == [1] * 31 and encoded.names[0] == "demo"
    for name, tokens in zip(encoded.names, labels, strict=True):
        _, aug = arc.parse_identifier(name)
        assert (aug.invert(decode_arc(tokens)) == ARC_TASK.test[0][1]).all()


def test_arc_splits_and_translation():
    test_task = arc.encode_task(ARC_TASK, is_test_task=True, num_aug=5, seed=0, index=0)
    assert set(test_task.splits) == {"train", "test"} and test_task.splits["train"][2] == [2] * 6
    train_task = arc.encode_task(ARC_TASK, is_test_task=False, num_aug=5, seed=0, index=0)
    assert set(train_task.splits) == {"train"} and train_task.splits["train"][2] == [3] * 6
    inputs = train_task.splits["train"][0].reshape(6, 3, 30, 30)
    at_origin = inputs[:, :, 0, 0] >= 2
    assert at_origin.any(axis=1).all()  # one example per puzzle keeps the top-left position
    assert not at_origin.all()  # the others move (with these seeds)
    assert (test_task.splits["test"][0].reshape(6, 30, 30)[:, 0, 0] >= 2).all()  # test pairs never move


def _lines(cells: str, side: int = 30) -> str:
    return "\n".join(cells[i : i + side] for i in range(0, len(cells), side))


_ARC_RNG = np.random.default_rng(0)
SOLVED = {  # (seq_len, puzzle, answer) in their human form, per puzzle type
    "sudoku": lambda: [
        (size * size, row.question, row.answer)
        for size in (9, 4)
        for row in generate_puzzles(2, seed=0, size=size, progress=False)
    ],
    "maze": lambda: [(900, _lines(row.question), _lines(row.answer)) for row in generate_mazes(2, progress=False)],
    "arc": lambda: [
        (900, _ARC_RNG.integers(0, 10, (3, 5)).tolist(), _ARC_RNG.integers(0, 10, (4, 2)).tolist()) for _ in range(2)
    ],
}


@pytest.mark.parametrize("name", sorted(PUZZLE_TYPES))
def test_every_augmentation_is_undone_by_its_inverse(name):
    """On puzzles and on answers; and an augmented answer still solves its augmented puzzle by the type's rules."""
    kind = PUZZLE_TYPES[name]
    rng = np.random.default_rng(0)
    for seq_len, puzzle, answer in SOLVED[name]():
        tokens = [kind.encode(text, seq_len) for text in (puzzle, answer)]
        assert kind.answer_problem(puzzle, kind.decode(tokens[1])) is None
        for augmentation in kind.random_augmentations(rng, 16, seq_len):
            moved = [kind.augment(t, augmentation) for t in tokens]
            assert all((kind.unaugment(m, augmentation) == t).all() for m, t in zip(moved, tokens, strict=True))
            assert kind.answer_problem(kind.decode(moved[0]), kind.decode(moved[1])) is None


def test_maze_augmentations_are_the_8_dihedral_transforms():
    maze_tokens = MAZE.encode(SOLVED["maze"]()[0][1], 900)
    moved = {MAZE.augment(maze_tokens, t).tobytes() for t in range(NUM_DIHEDRAL)}
    assert len(moved) == NUM_DIHEDRAL
    assert set(MAZE.random_augmentations(np.random.default_rng(0), 64, 900)) == set(range(NUM_DIHEDRAL))
