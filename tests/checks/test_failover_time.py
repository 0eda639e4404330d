"""failover_time on hand-built journals: fast, slow and missing failover; recovery; unknowns."""
from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from harness.checks.failover import FailoverTimeParams, failover_time
from harness.checks.windows import Windows
from harness.journal import History

T0 = 1_000_000.0


def journal(requests: list[tuple[float, float, str]], fault: tuple[float, float | None] | None = (10.0, 20.0),
            end: float = 30.0) -> History:
    """requests: (offset s, ms, outcome); fault: (applied, removed) offsets, or None if never applied."""
    recs: list[dict[str, Any]] = [{"kind": "run_started", "t": T0 - 1, "steady_state": {"warmup": 1.0, "settle": 2.0}},
                                  {"kind": "load_started", "t": T0}]
    recs += [{"kind": "request", "t": T0 + off, "name": "GET /a/items", "method": "GET", "ms": ms, "outcome": outcome}
             for off, ms, outcome in requests]
    if fault is not None:
        recs.append({"kind": "fault_applied", "t": T0 + fault[0], "fault": "a1-down", "type": "down", "target": "gw->a1"})
        if fault[1] is not None:
            recs.append({"kind": "fault_removed", "t": T0 + fault[1], "fault": "a1-down"})
    recs.append({"kind": "load_stopped", "t": T0 + end})
    return History(recs)


def traffic(start: float, end: float, outcome: str = "ok", ms: float = 10.0, step: float = 0.1) -> list[tuple[float, float, str]]:
    return [(start + i * step, ms, outcome) for i in range(int(round((end - start) / step)))]


def run(h: History, **params: Any):
    p = FailoverTimeParams.model_validate({"fault": "a1-down", "max": 3, **params})
    return failover_time(h, p, Windows(h))


def test_success_that_never_dips_fails_over_in_zero_seconds() -> None:
    out = run(journal(traffic(0, 30)))
    assert out.verdict == "passed"
    assert out.evidence["failover_time_s"] == 0
    assert "success never dipped" in out.summary


def test_failover_time_is_the_start_of_the_first_sustained_normal_run() -> None:
    # Errors for 2.5 s after the fault starts, then success again.
    h = journal(traffic(0, 10) + traffic(10, 12.5, "fail") + traffic(12.5, 30))
    out = run(h)
    assert out.verdict == "passed"
    assert out.evidence["failover_time_s"] == 3.0  # the bucket 12..13 still holds failures
    assert out.evidence["degraded_from_s"] == 10.0
    series = out.evidence["series"]
    assert [row["verdict"] for row in series[:6]] == ["normal"] * 3 + ["degraded"] * 3
    assert series[3]["success"] == 0.0 and series[3]["since_anchor_s"] == 0.0


def test_a_failover_slower_than_max_fails_with_the_measured_time() -> None:
    h = journal(traffic(0, 10) + traffic(10, 15, "fail") + traffic(15, 30))
    out = run(h, max=2)
    assert out.verdict == "failed"
    assert out.evidence["failover_time_s"] == 5.0
    assert "failover in 5.0s" in out.summary and "max 2s" in out.summary


def test_a_failover_that_never_comes_says_so() -> None:
    # Every other request fails for the whole fault: a gateway that keeps using the dead replica.
    alternating = [(10 + i * 0.1, 10.0, "ok" if i % 2 else "fail") for i in range(100)]
    out = run(journal(traffic(0, 10) + alternating + traffic(20, 30)))
    assert out.verdict == "failed"
    assert "failover never came" in out.summary and "10.0s the fault lasted" in out.summary
    assert "failover_time_s" not in out.evidence
    assert all(row["success"] == 0.5 for row in out.evidence["series"][3:])


def test_success_after_the_fault_ends_is_not_failover() -> None:
    h = journal(traffic(0, 10) + traffic(10, 20, "fail") + traffic(20, 30))
    out = run(h)
    assert out.verdict == "failed" and "never came" in out.summary


def test_a_short_dip_inside_the_sustain_period_restarts_the_count() -> None:
    reqs = traffic(0, 10) + traffic(10, 11, "fail") + traffic(11, 13) + traffic(13, 14, "fail") + traffic(14, 30)
    out = run(journal(reqs), max=5)
    assert out.verdict == "passed" and out.evidence["failover_time_s"] == 4.0


def test_success_min_tolerates_a_few_failures_per_bucket() -> None:
    reqs = [(10 + i * 0.1, 10.0, "fail" if i % 20 == 0 else "ok") for i in range(100)]
    h = journal(traffic(0, 10) + reqs + traffic(20, 30))
    assert run(h, success_min=0.99).verdict == "failed"
    assert run(h, success_min=0.9).evidence["failover_time_s"] == 0


def test_slow_successes_are_not_normal_with_max_latency() -> None:
    h = journal(traffic(0, 10) + traffic(10, 20, ms=3000) + traffic(20, 30))
    assert run(h).verdict == "passed"
    out = run(h, max_latency="1s")
    assert out.verdict == "failed" and out.evidence["max_latency_ms"] == 1000


def test_timed_out_requests_are_not_successes() -> None:
    h = journal(traffic(0, 10) + traffic(10, 20, "info", ms=60000) + traffic(20, 30))
    assert run(h).verdict == "failed"


def test_an_empty_bucket_amid_traffic_is_not_normal() -> None:
    # Users stuck on hung requests start nothing new for 4 s.
    h = journal(traffic(0, 10) + traffic(14, 30))
    out = run(h, max=2)
    assert out.verdict == "failed" and out.evidence["failover_time_s"] == 4.0
    assert out.evidence["series"][3]["requests"] == 0 and out.evidence["series"][3]["success"] is None


def test_recovery_is_timed_from_the_end_of_the_fault() -> None:
    h = journal(traffic(0, 10) + traffic(10, 21.5, "fail") + traffic(21.5, 30))
    out = run(h, edge="end")
    assert out.verdict == "passed" and out.evidence["recovery_time_s"] == 2.0
    assert "recovery in 2.0s after a1-down end" in out.summary


def test_a_recovery_that_never_came_fails() -> None:
    h = journal(traffic(0, 10) + traffic(10, 30, "fail"))
    out = run(h, edge="end")
    assert out.verdict == "failed"
    assert "recovery never came" in out.summary and "from the fault's end to the end of load" in out.summary


def test_unknown_when_the_fault_never_took_effect() -> None:
    out = run(journal(traffic(0, 30), fault=None))
    assert out.verdict == "unknown" and "never took effect" in out.summary


def test_unknown_recovery_when_the_fault_never_ended() -> None:
    out = run(journal(traffic(0, 30), fault=(10.0, None)), edge="end")
    assert out.verdict == "unknown" and "never ended" in out.summary


def test_unknown_without_matching_traffic() -> None:
    h = journal(traffic(0, 30))
    out = run(h, requests={"name": "GET /b/items"})
    assert out.verdict == "unknown" and "no matching requests" in out.summary
    assert run(journal(traffic(0, 8)), max=2).verdict == "unknown"


def test_unknown_when_the_fault_is_shorter_than_sustain() -> None:
    out = run(journal(traffic(0, 30), fault=(10.0, 12.0)))
    assert out.verdict == "unknown" and "cannot see 3s of sustained success" in out.summary


def test_sustain_shorter_than_a_bucket_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"sustain \(0.5s\) must be at least one bucket \(1s\)"):
        FailoverTimeParams.model_validate({"fault": "f", "max": 3, "sustain": "500ms"})
