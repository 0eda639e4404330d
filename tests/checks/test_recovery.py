"""The ``recovery`` check over synthetic journals: back to the baseline within the bound, or not."""
from __future__ import annotations

from typing import Any, Callable

from harness.checks.recovery import RecoveryParams, recovery
from harness.checks.windows import Windows
from harness.journal import History

T0 = 1000.0


def history(after_fault: Callable[[float], tuple[str, float]], load_s: int = 40) -> History:
    """Load 0-load_s, fault 'f' 10-20 s; 10 requests/s; after_fault(seconds since end) -> (outcome, ms)."""
    recs: list[dict[str, Any]] = [{"kind": "run_started", "t": T0, "steady_state": {"warmup": 1, "settle": 2}},
                                  {"kind": "load_started", "t": T0},
                                  {"kind": "fault_applied", "t": T0 + 10, "fault": "f", "type": "down", "target": "a->b"},
                                  {"kind": "fault_removed", "t": T0 + 20, "fault": "f"},
                                  {"kind": "load_stopped", "t": T0 + load_s}]
    for i in range(load_s * 10):
        t = i / 10
        if t < 10:
            outcome, ms = "ok", 20.0
        elif t < 20:
            outcome, ms = "fail", 3.0
        else:
            outcome, ms = after_fault(t - 20)
        recs.append({"kind": "request", "t": T0 + t, "name": "GET /x", "ms": ms, "outcome": outcome})
    return History(recs)


def judge(h: History, **params: Any) -> Any:
    return recovery(h, RecoveryParams.model_validate({"fault": "f", "within": "5s", **params}), Windows(h))


def test_recovering_within_the_bound_passes_and_says_when() -> None:
    out = judge(history(lambda s: ("ok", 20.0) if s >= 3 else ("fail", 2.0)))
    assert out.verdict == "passed" and out.summary == "back to baseline 3.0s after f ended (bound 5s)"


def test_recovering_too_late_fails() -> None:
    out = judge(history(lambda s: ("ok", 20.0) if s >= 8 else ("fail", 2.0)))
    assert out.verdict == "failed" and out.evidence["recovered_s"] == 8.0


def test_slow_answers_are_not_recovered_even_when_they_succeed() -> None:
    out = judge(history(lambda s: ("ok", 20.0) if s >= 4 else ("ok", 900.0)))
    assert out.verdict == "passed" and out.evidence["recovered_s"] == 4.0


def test_a_single_good_second_is_not_recovery() -> None:
    out = judge(history(lambda s: ("ok", 20.0) if 1 <= s < 2 or s >= 6 else ("fail", 2.0)))
    assert out.evidence["recovered_s"] == 6.0 and out.verdict == "failed"


def test_never_recovering_fails() -> None:
    out = judge(history(lambda s: ("fail", 2.0)))
    assert out.verdict == "failed" and out.summary == "not back to baseline in the 20.0s after f ended (bound 5s)"


def test_a_run_that_ends_too_soon_after_the_fault_is_unknown() -> None:
    out = judge(history(lambda s: ("fail", 2.0), load_s=24))
    assert out.verdict == "unknown" and "too soon" in out.summary
