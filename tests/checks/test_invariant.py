"""The ``invariant`` check over recorded audits: passes, fails with the offending rows, or says unknown."""
from __future__ import annotations

from typing import Any

from harness.checks.invariant import InvariantParams, invariant
from harness.checks.windows import Windows
from harness.journal import History

DECLARED = {"no-orphan-charge": {"expect": "count(charges[status == 'charged' and saga_id not in completed.id]) == 0",
                                 "audits": ["charges", "completed"], "description": ""},
            "no-negative-balance": {"expect": "count(accounts[balance < 0]) == 0", "audits": ["accounts"]}}


def history(reads: dict[str, Any], settled: bool = True, declared: dict[str, Any] | None = None) -> History:
    records: list[dict[str, Any]] = [{"kind": "invariants_declared", "t": 1.0, "invariants": declared or DECLARED},
                                     {"kind": "quiescence", "t": 2.0, "settled": settled, "waited_s": 2.5, "polls": 6,
                                      "quiet_s": 2.0, "timeout_s": 30.0, "still_changing": [] if settled else ["charges"]}]
    for name, value in reads.items():
        rec = {"kind": "invariant_audit", "t": 2.0, "audit": name, "source": "sql", "service": "db"}
        rec.update({"error": value.args[0]} if isinstance(value, Exception) else {"value": value})
        records.append(rec)
    return History(records)


SOUND = {"charges": [{"saga_id": "a", "status": "charged"}, {"saga_id": "b", "status": "refunded"}],
         "completed": [{"id": "a"}], "accounts": [{"balance": 5}]}


def judge(h: History, **params: Any) -> Any:
    return invariant(h, InvariantParams(**params), Windows(h))


def test_every_invariant_holding_after_quiescence_passes() -> None:
    out = judge(history(SOUND))
    assert out.verdict == "passed"
    assert out.summary == "2 invariant(s) hold after quiescence (quiet after 2.5s): no-orphan-charge, no-negative-balance"


def test_a_violation_fails_and_shows_the_offending_rows() -> None:
    reads = {**SOUND, "charges": [{"saga_id": "a", "status": "charged"}, {"saga_id": "b", "status": "charged"}]}
    out = judge(history(reads))
    assert out.verdict == "failed"
    assert out.summary.startswith("1 of 2 invariant(s) do not hold: 'no-orphan-charge' violated: ")
    broken = out.evidence["invariants"][0]
    rows = next(t for t in broken["trace"] if t["expression"].startswith("charges["))
    assert rows["value"] == [{"saga_id": "b", "status": "charged"}] and rows["count"] == 1


def test_only_the_named_invariants_are_judged() -> None:
    reads = {**SOUND, "charges": [{"saga_id": "b", "status": "charged"}]}
    out = judge(history(reads), invariants=["no-negative-balance"])
    assert out.verdict == "passed" and [r["name"] for r in out.evidence["invariants"]] == ["no-negative-balance"]


def test_a_system_that_never_went_quiet_fails_even_if_the_invariants_hold() -> None:
    out = judge(history(SOUND, settled=False))
    assert out.verdict == "failed"
    assert "never went quiet within 30.0s after load and faults stopped (still changing: charges)" in out.summary


def test_never_settling_can_be_allowed() -> None:
    assert judge(history(SOUND, settled=False), require_settled=False).verdict == "passed"


def test_an_audit_that_could_not_be_read_makes_its_invariants_unknown() -> None:
    out = judge(history({**SOUND, "accounts": RuntimeError("OperationalError: connection refused")}))
    assert out.verdict == "unknown"
    assert "'no-negative-balance' unknown: audit 'accounts' failed: OperationalError: connection refused" in out.summary


def test_an_expression_that_cannot_be_evaluated_is_unknown_not_passed() -> None:
    declared = {"bad": {"expect": "count(charges[amount > 0]) == 0", "audits": ["charges"]}}
    out = judge(history(SOUND, declared=declared))
    assert out.verdict == "unknown"
    assert out.summary == ("1 of 1 invariant(s) could not be judged: 'bad' unknown: cannot evaluate: unknown name "
                           "'amount'; known here: charges, it, saga_id, status")


def test_a_run_that_recorded_no_audits_is_unknown() -> None:
    out = judge(History([{"kind": "collect_error", "t": 1.0, "check": "invariant", "error": "boom"}]))
    assert out.verdict == "unknown" and "collecting failed: boom" in out.summary
