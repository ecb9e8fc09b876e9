"""Puzzle types are objects registered by name: no shipped module outside the registry branches on a type's name."""

import re
from pathlib import Path

import pytest

from hrm_hf.tokenization_hrm import PUZZLE_TYPES, PuzzleInputError, infer_puzzle_type, puzzle_type


REPO_ROOT = Path(__file__).resolve().parent.parent
# The installed package: the top-level modules and the sub-packages `pyproject.toml` names.
SHIPPED = [
    *REPO_ROOT.glob("*.py"),
    *(path for sub in ("data", "evaluation", "scripts", "training") for path in (REPO_ROOT / sub).glob("*.py")),
]
REGISTRY = REPO_ROOT / "tokenization_hrm.py"
NAMES = "|".join(PUZZLE_TYPES)
# `task == ...`, `task != ...`, `task in (...)`, or any comparison with a type's name in quotes.
TYPE_BRANCH = re.compile(
    rf"""\btask\s*(==|!=)|\btask\s+in\s*[(\[]|(==|!=)\s*["']({NAMES})["']|["']({NAMES})["']\s*(==|!=)"""
)


def type_branches(path: Path) -> list[str]:
    """`file:line: text` of each line of `path` that compares a puzzle-type name."""
    lines = path.read_text().splitlines()
    return [f"{path.name}:{n}: {line.strip()}" for n, line in enumerate(lines, 1) if TYPE_BRANCH.search(line)]


def test_the_scan_sees_the_package_and_catches_a_branch():
    assert REGISTRY in SHIPPED and REPO_ROOT / "scripts" / "solve.py" in SHIPPED
    assert all(
        TYPE_BRANCH.search(line) for line in ('if task == "arc":', "if self.task != 'maze'", 'if "sudoku" == t')
    )


def test_no_shipped_module_outside_the_registry_branches_on_a_puzzle_type():
    found = [hit for path in SHIPPED if path != REGISTRY for hit in type_branches(path)]
    assert found == [], "ask the puzzle type (tokenization_hrm.PUZZLE_TYPES) instead:\n" + "\n".join(found)


def test_types_are_found_by_name_and_by_shape():
    assert [puzzle_type(name).name for name in PUZZLE_TYPES] == ["sudoku", "maze", "arc"]
    assert infer_puzzle_type(81, 11) is PUZZLE_TYPES["sudoku"] and infer_puzzle_type(900, 12) is PUZZLE_TYPES["arc"]
    with pytest.raises(PuzzleInputError, match=r"task must be one of \('sudoku', 'maze', 'arc'\), got 'chess'"):
        puzzle_type("chess")
