"""The ``amplification`` maths over a synthetic journal: traffic per request, absolute and vs the baseline."""
from __future__ import annotations

from typing import Any

import pytest

from harness.checks.amplification import AmplificationParams, amplification
from harness.checks.windows import Windows
from harness.journal import History

T0 = 1000.0


def history(rate_before: float, rate_during: float, requests_per_s: int = 10, samples: bool = True,
            field: str = "conns") -> History:
    """Load 0-30 s, fault 'f' 10-20 s; the edge carries rate_* (connections or bytes) per request."""
    recs: list[dict[str, Any]] = [{"kind": "run_started", "t": T0, "steady_state": {"warmup": 1, "settle": 2}},
                                  {"kind": "load_started", "t": T0},
                                  {"kind": "fault_applied", "t": T0 + 10, "fault": "f", "type": "reset_peer", "target": "a->b"},
                                  {"kind": "fault_removed", "t": T0 + 20, "fault": "f"},
                                  {"kind": "load_stopped", "t": T0 + 30}]
    total = 0.0
    for s in range(31):
        t = T0 + s
        if samples:
            recs.append({"kind": "edge_counters", "t": t + 0.5, "edges": {"a->b": {field: total}}})
        for i in range(requests_per_s):
            recs.append({"kind": "request", "t": t + 0.5 + i / 100, "name": "GET /x", "ms": 5.0, "outcome": "ok"})
        total += requests_per_s * (rate_during if 10 <= s < 20 else rate_before)
    return History(recs)


def judge(h: History, **params: Any) -> Any:
    p = AmplificationParams.model_validate({"edge": "a->b", "window": {"during": "f"}, **params})
    return amplification(h, p, Windows(h))


def test_retries_within_their_limit_pass() -> None:
    out = judge(history(1, 3.8), max_ratio=4)
    assert out.verdict == "passed"
    # Counters are sampled every half second or so: a window's edges are interpolated, so they blur a little.
    assert out.evidence["ratio"] == pytest.approx(3.8, rel=0.05)
    assert out.summary == ("a->b carried 3.66 new connections per request in 'during f' vs 1.00 in 'before': "
                           "x3.66 (max x4)")


def test_a_retry_storm_fails_the_bound() -> None:
    out = judge(history(1, 25), max_ratio=4)
    assert out.verdict == "failed" and out.evidence["ratio"] == pytest.approx(25, rel=0.05)


def test_an_absolute_bound_needs_no_baseline() -> None:
    out = judge(history(0, 2.5), max_per_request=2)
    assert out.verdict == "failed" and out.summary.endswith("(max 2)") and out.evidence["per_request"] > 2


def test_a_minimum_catches_retries_that_never_happen() -> None:
    out = judge(history(1, 1), min_ratio=2)
    assert out.verdict == "failed" and "(min x2)" in out.summary


def test_a_ratio_over_a_baseline_without_traffic_is_unknown() -> None:
    out = judge(history(0, 1), max_ratio=4)
    assert out.verdict == "unknown" and "the baseline had none, so no ratio (use max_per_request)" in out.summary


def test_bytes_can_be_measured_instead_of_connections() -> None:
    out = judge(history(100, 380, field="up_in"), measure="bytes", max_ratio=4)
    assert out.verdict == "passed" and "366 B per request" in out.summary


def test_without_counters_the_check_says_so() -> None:
    out = judge(history(1, 1, samples=False), max_ratio=4)
    assert out.verdict == "unknown" and out.summary == "no connections counters were recorded for edge 'a->b'"


def test_too_few_requests_is_unknown() -> None:
    out = judge(history(1, 1, requests_per_s=1), max_ratio=4, min_requests=20)
    assert out.verdict == "unknown" and "only 10 requests in 'during f' (need 20)" in out.summary


def test_the_evidence_carries_the_rate_for_a_sparkline() -> None:
    out = judge(history(1, 4), max_ratio=5)
    rates = {int(t): v for t, v in out.evidence["per_second"]}
    assert rates[5] == 10 and rates[15] == 40
