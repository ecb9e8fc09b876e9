"""Keeps issue 11's evidence true: the bad-input audit (`python -m tests.audit_inputs`) runs at least 100 cases and
finds no crash, no silent-wrong case and no valid input refused."""

from collections import Counter

from tests.audit_inputs import audit


def test_audit_of_bad_inputs_finds_no_crash_and_nothing_silently_wrong(tmp_path):
    outcomes = audit(tmp_path, show=False)
    verdicts = Counter(outcome.verdict for outcome in outcomes)
    failures = [
        f"{o.verdict}: {o.case.group}: {o.case.name}: {o.message[-500:]}"
        for o in outcomes
        if o.verdict in ("crash", "silent-wrong", "wrong-refusal")
    ]
    assert len(outcomes) >= 100
    assert not failures, "\n".join(failures)
    assert verdicts["clear"] > 0 and sum(o.case.group == "security" for o in outcomes) >= 7
