"""`hrm show`: dataset rows decoded, as text or a picture, titled with their augmentation group."""

import pytest
from PIL import Image

from hrm_hf.data.render import GAP, TITLE
from hrm_hf.data.storage import load_puzzle_dataset
from hrm_hf.scripts import show
from hrm_hf.scripts.build_dataset import main as build_dataset
from hrm_hf.tokenization_hrm import SUDOKU, decode_sudoku, format_sudoku
from tests.helpers import build_arc_fixture


@pytest.fixture(scope="module")
def sudoku_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("show") / "sudoku"
    build_dataset(["sudoku", "--generate", "3", "--test-generate", "2", "--size", "4", "--num-aug", "2",
                   "--output-dir", str(folder)])  # fmt: skip
    return folder


def test_rows_are_printed_decoded_with_their_group(sudoku_folder, capsys):
    show.main([str(sudoku_folder), "--split", "train", "--rows", "2:4"])
    out = capsys.readouterr().out
    train, _ = load_puzzle_dataset(sudoku_folder, split="train")
    # Three rows per group (the puzzle and 2 augmentations): rows 2 and 3 lie in groups 0 and 1.
    assert "row 2, group 0, puzzle 2\n" in out and "row 3, group 1, puzzle 3\n" in out and "row 1," not in out
    puzzle = format_sudoku(decode_sudoku(train[2]["input_ids"])).split("\n")
    solution = format_sudoku(decode_sudoku(train[2]["labels"])).split("\n")
    assert f"{puzzle[0]}    {solution[0].rstrip()}" in out


def test_rows_are_drawn_as_puzzle_and_solution_panels(sudoku_folder, tmp_path, capsys):
    show.main([str(sudoku_folder), "--split", "train", "--rows", "0:9", "--png", str(tmp_path / "rows.png")])
    assert f"Wrote {tmp_path / 'rows.png'}" in capsys.readouterr().out
    with Image.open(tmp_path / "rows.png") as image:
        width, height = image.size
    grid = 4 * SUDOKU.cell_pixels
    assert height == 3 * (grid + TITLE + GAP) + GAP  # 9 rows, 4 to a picture row: 3 picture rows
    assert width > 8 * grid + 9 * GAP  # 4 rows of puzzle and solution side by side, titles wider than the grids


def test_arc_rows_name_their_puzzle(tmp_path, capsys):
    build_arc_fixture(tmp_path / "arc")
    show.main([str(tmp_path / "arc"), "--split", "test", "--rows", "0"])
    _, metadata = load_puzzle_dataset(tmp_path / "arc", split="test")
    out = capsys.readouterr().out
    title = out.split("\n")[0]
    assert title.startswith("row 0, group 0, puzzle 0: ") and title.split(": ")[1] in metadata.identifier_names
    assert all(set(line) <= set("0123456789 ") for line in out.split("\n")[1:] if line)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--rows", "3:1"], "--rows must have 0 <= A < B, got '3:1'"),
        (["--rows", "x"], "--rows must be A:B or A with whole numbers, got 'x'"),
    ],
)
def test_bad_rows_are_named(sudoku_folder, flags, message, capsys):
    with pytest.raises(SystemExit):
        show.parse_args([str(sudoku_folder), *flags])
    assert message in capsys.readouterr().err


def test_rows_beyond_the_split_and_unknown_splits_are_one_line(sudoku_folder):
    with pytest.raises(SystemExit, match="--rows 5:8 starts beyond split 'test', which has 2 rows"):
        show.main([str(sudoku_folder), "--rows", "5:8"])
    with pytest.raises(ValueError, match=r"Split 'dev' is not in .*, which has \['test', 'train'\]"):
        show.main([str(sudoku_folder), "--split", "dev"])


def test_hrm_show_is_a_sub_command(sudoku_folder, capsys):
    from hrm_hf.scripts.cli import main, usage

    assert "  show " in usage()
    main(["show", str(sudoku_folder), "--rows", "1"])
    assert capsys.readouterr().out.startswith("row 1, group 1, puzzle 1\n")


def test_a_hub_dataset_is_shown_by_its_repo_id(sudoku_folder, local_hub, tmp_path, capsys):
    from hrm_hf.data import push_puzzle_dataset

    push_puzzle_dataset(sudoku_folder, "tester/sudoku-show")
    show.main(["tester/sudoku-show", "--split", "train", "--rows", "3", "--png", str(tmp_path / "hub.png")])
    assert f"Wrote {tmp_path / 'hub.png'}" in capsys.readouterr().out
    show.main(["tester/sudoku-show", "--split", "train", "--rows", "3"])
    from_hub = capsys.readouterr().out
    show.main([str(sudoku_folder), "--split", "train", "--rows", "3"])
    assert from_hub == capsys.readouterr().out and from_hub.startswith("row 3, group 1, puzzle 3\n")
