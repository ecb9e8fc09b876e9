"""Bad input is refused in one line and never crashes, runs a stranger's code or goes through silently: each case of
the bad-input audit (tests/audit_inputs.py) is a test of its own, named by its group and input."""

from collections import Counter

import pytest

from tests.audit_inputs import CASES, Workspace, offline, run_case


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory):
    """The audit's dataset and reference run, built on first use, with the Hub out of reach."""
    with offline():
        yield Workspace(tmp_path_factory.mktemp("audit"))


def test_the_audit_tries_every_command_and_the_security_cases():
    groups = Counter(case.group for case in CASES)
    assert len(CASES) >= 100 and groups["security"] >= 7
    assert {"train", "build-dataset", "convert", "evaluate", "solve", "library"} <= groups.keys()
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(case, workspace):
    outcome = run_case(case, workspace)
    assert outcome.passed, f"{outcome.verdict}: {outcome.message[-500:]}"
