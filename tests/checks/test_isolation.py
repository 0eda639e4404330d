"""isolation on hand-built journals: one group holds while another degrades; breaches; unknowns."""
from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from harness.checks.isolation import IsolationParams, isolation
from harness.checks.windows import Windows
from harness.journal import History

T0 = 1_000_000.0
WEB, MOBILE = "GET /web/product", "GET /mobile/product"


def journal(requests: list[tuple[str, float, float, str]], fault: tuple[float, float] | None = (10.0, 20.0)) -> History:
    """requests: (name, offset s, ms, outcome)."""
    recs: list[dict[str, Any]] = [{"kind": "run_started", "t": T0 - 1, "steady_state": {"warmup": 1.0, "settle": 2.0}},
                                  {"kind": "load_started", "t": T0}]
    recs += [{"kind": "request", "t": T0 + off, "name": name, "method": "GET", "ms": ms, "outcome": outcome}
             for name, off, ms, outcome in requests]
    if fault is not None:
        recs.append({"kind": "fault_applied", "t": T0 + fault[0], "fault": "recs-slow", "type": "latency", "target": "m->r"})
        recs.append({"kind": "fault_removed", "t": T0 + fault[1], "fault": "recs-slow"})
    recs.append({"kind": "load_stopped", "t": T0 + 30})
    return History(recs)


def traffic(name: str, start: float, end: float, ms: float = 10.0, outcome: str = "ok") -> list[tuple[str, float, float, str]]:
    return [(name, start + i * 0.1, ms, outcome) for i in range(int(round((end - start) / 0.1)))]


def steady_web_slow_mobile(web_ms: float = 12.0, mobile_ms: float = 500.0, web_outcome: str = "ok"):
    return (traffic(WEB, 0, 10) + traffic(WEB, 10, 20, web_ms, web_outcome) + traffic(WEB, 20, 30)
            + traffic(MOBILE, 0, 10) + traffic(MOBILE, 10, 20, mobile_ms) + traffic(MOBILE, 20, 30))


PARAMS: dict[str, Any] = {
    "window": {"during": "recs-slow", "skip": 1},
    "unaffected": {"requests": {"name": WEB}, "latency_ratio_max": 2, "latency_slack": "20ms"},
    "affected": {"requests": {"name": MOBILE}, "latency_ratio_min": 3},
}


def run(h: History, **overrides: Any):
    p = IsolationParams.model_validate({**PARAMS, **overrides})
    return isolation(h, p, Windows(h))


def test_passes_when_web_holds_while_mobile_degrades() -> None:
    out = run(journal(steady_web_slow_mobile()))
    assert out.verdict == "passed", out.summary
    assert out.evidence["unaffected"]["during"]["p95_ms"] == 12.0
    assert out.evidence["unaffected"]["allowed_ms"] == 40.0  # 10 ms * 2 + 20 ms slack
    assert out.evidence["affected"]["latency_ratio"] == 50.0
    assert "degraded: p95 10.0 -> 500.0 ms (x50.0, min x3)" in out.summary


def test_fails_when_the_fault_reaches_the_unaffected_group() -> None:
    out = run(journal(steady_web_slow_mobile(web_ms=2000)))
    assert out.verdict == "failed"
    assert "p95 2000.0 ms vs 10.0 ms in 'before' (allowed 40.0 ms)" in out.summary
    assert out.evidence["affected"]["latency_ratio"] == 50.0  # both groups' numbers, even on failure


def test_fails_on_errors_in_the_unaffected_group() -> None:
    out = run(journal(steady_web_slow_mobile(web_outcome="fail")))
    assert out.verdict == "failed" and "error rate 100.00% (max 1.00%)" in out.summary


def test_timeouts_count_as_errors_unless_told_otherwise() -> None:
    h = journal(steady_web_slow_mobile(web_outcome="info"))
    assert run(h).verdict == "failed"
    assert run(h, count_indeterminate=False).verdict == "passed"


def test_an_absolute_latency_bound_applies_as_well() -> None:
    h = journal(steady_web_slow_mobile(web_ms=15))
    assert run(h).verdict == "passed"
    unaffected = {**PARAMS["unaffected"], "latency_max": "12ms"}
    assert run(h, unaffected=unaffected).verdict == "failed"


def test_unknown_when_the_affected_group_did_not_degrade() -> None:
    out = run(journal(steady_web_slow_mobile(mobile_ms=10)))
    assert out.verdict == "unknown"
    assert "did not degrade either (latency x1.0" in out.summary and "isolation is not shown" in out.summary


def test_errors_count_as_degradation_when_asked() -> None:
    reqs = traffic(WEB, 0, 30) + traffic(MOBILE, 0, 10) + traffic(MOBILE, 10, 20, outcome="fail") + traffic(MOBILE, 20, 30)
    affected = {"requests": {"name": MOBILE}, "error_rate_min": 0.5}
    out = run(journal(reqs), affected=affected)
    assert out.verdict == "passed" and "error rate 100.00% (min 50.00%)" in out.summary


def test_without_an_affected_group_holding_is_enough() -> None:
    p = {k: v for k, v in PARAMS.items() if k != "affected"}
    h = journal(steady_web_slow_mobile())
    out = isolation(h, IsolationParams.model_validate(p), Windows(h))
    assert out.verdict == "passed" and "affected" not in out.evidence


def test_unknown_without_traffic_in_the_fault_window() -> None:
    reqs = traffic(WEB, 0, 10) + traffic(MOBILE, 0, 10)
    out = run(journal(reqs))
    assert out.verdict == "unknown" and "too few 'name=GET /web/product' requests" in out.summary


def test_fails_when_the_unaffected_group_is_held_up_too_long_to_take_a_percentile() -> None:
    # Closed-loop users: web requests that wait 3 s each leave only a handful in the window.
    reqs = (traffic(WEB, 0, 10) + [(WEB, 11.0 + 3 * i, 3000.0, "ok") for i in range(3)] + traffic(WEB, 20, 30)
            + steady_web_slow_mobile()[300:])
    out = run(journal(reqs))
    assert out.verdict == "failed", out.summary
    assert "its rate fell from 10.0/s to 0.3/s (3 requests)" in out.summary


def test_a_small_dip_in_rate_is_still_too_few_to_judge() -> None:
    reqs = traffic(WEB, 0, 10) + [(WEB, 11.0 + i, 12.0, "ok") for i in range(8)] + traffic(MOBILE, 0, 30)
    out = run(journal(reqs), unaffected={"requests": {"name": WEB}, "latency_ratio_max": 20})
    assert out.verdict == "unknown" and "too few" in out.summary


def test_unknown_without_traffic_in_the_affected_group() -> None:
    out = run(journal(traffic(WEB, 0, 30)))
    assert out.verdict == "unknown" and "too few 'name=GET /mobile/product' requests" in out.summary


def test_unknown_when_the_fault_never_took_effect() -> None:
    out = run(journal(steady_web_slow_mobile(), fault=None))
    assert out.verdict == "unknown" and "did not happen in this run" in out.summary


def test_the_affected_group_needs_a_criterion() -> None:
    with pytest.raises(ValidationError, match="say how the affected group degrades"):
        IsolationParams.model_validate({**PARAMS, "affected": {"requests": {"name": MOBILE}}})
