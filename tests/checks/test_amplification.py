"""The ``amplification`` maths over a synthetic journal: bytes per request against the baseline."""
from __future__ import annotations

from typing import Any

import pytest

from harness.checks.amplification import AmplificationParams, amplification
from harness.checks.windows import Windows
from harness.journal import History

T0 = 1000.0


def history(rate_before: float, rate_during: float, requests_per_s: int = 10, samples: bool = True) -> History:
    """Load 0-30 s, fault 'f' 10-20 s; the edge carries rate_* bytes per request."""
    recs: list[dict[str, Any]] = [{"kind": "run_started", "t": T0, "steady_state": {"warmup": 1, "settle": 2}},
                                  {"kind": "load_started", "t": T0},
                                  {"kind": "fault_applied", "t": T0 + 10, "fault": "f", "type": "reset_peer", "target": "a->b"},
                                  {"kind": "fault_removed", "t": T0 + 20, "fault": "f"},
                                  {"kind": "load_stopped", "t": T0 + 30}]
    total = 0.0
    for s in range(31):
        t = T0 + s
        if samples:
            recs.append({"kind": "edge_counters", "t": t + 0.5, "edges": {"a->b": {"up_in": total}}})
        for i in range(requests_per_s):
            recs.append({"kind": "request", "t": t + 0.5 + i / 100, "name": "GET /x", "ms": 5.0, "outcome": "ok"})
        total += requests_per_s * (rate_during if 10 <= s < 20 else rate_before)
    return History(recs)


def judge(h: History, **params: Any) -> Any:
    p = AmplificationParams.model_validate({"edge": "a->b", "window": {"during": "f"}, **params})
    return amplification(h, p, Windows(h))


def test_retries_within_their_limit_pass() -> None:
    out = judge(history(100, 380), max_ratio=4)
    assert out.verdict == "passed"
    # Counters are sampled once a second: a window's edges are interpolated, so half a second blurs.
    assert out.evidence["ratio"] == pytest.approx(3.8, rel=0.05)
    assert out.summary.startswith("a->b carried 366 B per request in 'during f' vs 100 B in 'before': x3.66 (max x4)")


def test_a_retry_storm_fails_the_bound() -> None:
    out = judge(history(100, 2500), max_ratio=4)
    assert out.verdict == "failed" and out.evidence["ratio"] == pytest.approx(25, rel=0.05)


def test_a_minimum_catches_retries_that_never_happen() -> None:
    out = judge(history(100, 100), min_ratio=2)
    assert out.verdict == "failed" and "(min x2)" in out.summary


def test_an_edge_idle_in_the_baseline_cannot_be_compared() -> None:
    out = judge(history(0, 100), max_ratio=4)
    assert out.verdict == "unknown" and "carried no traffic in 'before'" in out.summary


def test_without_counters_the_check_says_so() -> None:
    out = judge(history(100, 100, samples=False), max_ratio=4)
    assert out.verdict == "unknown" and out.summary == "no traffic counters were recorded for edge 'a->b'"


def test_too_few_requests_is_unknown() -> None:
    out = judge(history(100, 100, requests_per_s=1), max_ratio=4, min_requests=20)
    assert out.verdict == "unknown" and "only 9 requests in 'before' (need 20)" in out.summary


def test_the_evidence_carries_the_byte_rate_for_a_sparkline() -> None:
    out = judge(history(100, 400), max_ratio=5)
    rates = {int(t): v for t, v in out.evidence["bytes_per_s"]}
    assert rates[5] == 1000 and rates[15] == 4000
