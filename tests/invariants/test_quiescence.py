"""Quiescence: audits are read until they stop changing, on a fake clock (milliseconds, no system)."""
from __future__ import annotations

from typing import Any

from harness.invariants.quiescence import settle
from harness.invariants.read import AuditError
from harness.invariants.spec import QuiescenceSpec


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


class Reader:
    """Answers each audit from a function of the fake time."""

    def __init__(self, clock: Clock, answers: dict[str, Any]):
        self.clock, self.answers = clock, answers

    def read(self, name: str) -> Any:
        value = self.answers[name](self.clock.now)
        if isinstance(value, Exception):
            raise value
        return value


SPEC = QuiescenceSpec(quiet=2.0, timeout=10.0, interval=0.5)


def run(answers: dict[str, Any]) -> tuple[Any, dict[str, Any], Clock]:
    clock = Clock()
    snap, summary = settle(Reader(clock, answers), list(answers), SPEC, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    return snap, summary, clock


def test_a_system_already_quiet_settles_after_the_quiet_period() -> None:
    snap, summary, clock = run({"rows": lambda t: [{"id": 1}]})
    assert summary["settled"] and clock.now == 2.0 and snap.values["rows"] == [{"id": 1}]


def test_the_audits_are_judged_on_the_state_once_work_in_flight_has_finished() -> None:
    # Compensations still running for 3 s: the count grows, then stays.
    snap, summary, clock = run({"done": lambda t: min(int(t), 3)})
    assert summary["settled"] and snap.values["done"] == 3 and clock.now == 5.0


def test_rows_in_another_order_are_no_change() -> None:
    snap, summary, _ = run({"rows": lambda t: [{"id": 1}, {"id": 2}] if int(t * 2) % 2 else [{"id": 2}, {"id": 1}]})
    assert summary["settled"]


def test_a_system_that_never_settles_is_reported_with_what_kept_changing() -> None:
    snap, summary, clock = run({"ticking": lambda t: t, "still": lambda t: 1})
    assert not summary["settled"] and summary["still_changing"] == ["ticking"]
    assert clock.now == 10.0 and summary["timeout_s"] == 10.0


def test_an_audit_that_keeps_failing_is_never_quiet_and_is_named() -> None:
    snap, summary, _ = run({"db": lambda t: AuditError("connection refused"), "ok": lambda t: 1})
    assert not summary["settled"] and summary["still_changing"] == ["db"]
    assert snap.errors == {"db": "connection refused"}


def test_an_audit_that_recovers_counts_from_its_first_good_read() -> None:
    snap, summary, clock = run({"db": lambda t: AuditError("starting") if t < 1 else 7})
    assert summary["settled"] and snap.values["db"] == 7 and clock.now == 3.0
