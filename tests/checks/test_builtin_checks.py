"""The built-in checks on hand-built journals: each passes, fails and comes out unknown."""
from __future__ import annotations

from typing import Any

from harness.checks.builtin import EventWithinParams, ErrorRateParams, LatencyParams, error_rate, event_within, latency
from harness.checks.evaluate import run_one
from harness.checks.registry import merge_verdicts
from harness.checks.windows import Windows
from harness.experiment import CheckSpec
from harness.journal import History

T0 = 1_000_000.0


def history(requests: list[tuple[float, float, str]], events: list[tuple[float, dict[str, Any]]] = (),
            fault: tuple[float, float | None] | None = (10.0, 20.0), end: float = 30.0) -> History:
    """requests: (offset s, ms, outcome); events: (offset, fields); fault: (applied, removed) offsets."""
    recs: list[dict[str, Any]] = [
        {"kind": "run_started", "t": T0 - 1, "steady_state": {"warmup": 1.0, "settle": 2.0}},
        {"kind": "load_started", "t": T0},
    ]
    for off, ms, outcome in requests:
        recs.append({"kind": "request", "t": T0 + off, "name": "GET /x", "method": "GET", "ms": ms, "outcome": outcome})
    for off, fields in events:
        recs.append({"kind": "event", "t": T0 + off, "service": "svc", **fields})
    if fault is not None:
        recs.append({"kind": "fault_applied", "t": T0 + fault[0], "fault": "f", "type": "latency", "target": "a->b"})
        if fault[1] is not None:
            recs.append({"kind": "fault_removed", "t": T0 + fault[1], "fault": "f"})
    recs.append({"kind": "load_stopped", "t": T0 + end})
    return History(recs)


def steady(ms: float = 10.0, outcome: str = "ok", start: float = 0.0, end: float = 30.0, step: float = 0.1):
    n = int((end - start) / step)
    return [(start + i * step, ms, outcome) for i in range(n)]


def test_error_rate_passes_below_the_bound_and_quotes_the_numbers() -> None:
    h = history(steady())
    out = error_rate(h, ErrorRateParams(max=0.01), Windows(h))
    assert out.verdict == "passed"
    assert out.evidence["error_rate"] == 0 and out.evidence["requests"] > 250


def test_error_rate_fails_when_the_fault_window_has_errors() -> None:
    reqs = steady(end=10) + steady(outcome="fail", start=10, end=20) + steady(start=20)
    h = history(reqs)
    out = error_rate(h, ErrorRateParams(max=0.05, window={"during": "f"}), Windows(h))
    assert out.verdict == "failed"
    assert out.evidence["error_rate"] == 1.0 and out.evidence["examples"]


def test_error_rate_is_unknown_without_traffic_in_the_window() -> None:
    h = history(steady(end=5))
    out = error_rate(h, ErrorRateParams(max=0.05, window={"during": "f"}), Windows(h))
    assert out.verdict == "unknown" and "only 0 requests" in out.summary


def test_error_rate_is_unknown_when_the_fault_never_took_effect() -> None:
    h = history(steady(), fault=None)
    out = error_rate(h, ErrorRateParams(max=0.05, window={"during": "f"}), Windows(h))
    assert out.verdict == "unknown" and "never applied" in out.summary


def test_timeouts_count_as_errors_unless_told_otherwise() -> None:
    reqs = steady(end=10) + steady(ms=2000, outcome="info", start=10, end=20) + steady(start=20)
    h = history(reqs)
    window = {"during": "f"}
    assert error_rate(h, ErrorRateParams(max=0.1, window=window), Windows(h)).verdict == "failed"
    lenient = ErrorRateParams(max=0.1, window=window, count_indeterminate=False)
    assert error_rate(h, lenient, Windows(h)).verdict == "passed"


def test_latency_fails_with_the_slowest_requests_as_evidence() -> None:
    reqs = steady(end=10) + steady(ms=500, start=10, end=20) + steady(start=20)
    h = history(reqs)
    out = latency(h, LatencyParams(max=0.1, window={"during": "f", "skip": 1.0}), Windows(h))
    assert out.verdict == "failed" and out.evidence["value_ms"] == 500
    assert out.evidence["slowest"][0]["ms"] == 500


def test_latency_evidence_keeps_the_bound_apart_from_the_slowest_request() -> None:
    # The statistics' "max_ms" (the slowest request) once overwrote the bound of the same name,
    # so the evidence showed no bound at all.
    h = history(steady(ms=40))
    out = latency(h, LatencyParams(max=0.1, percentile=95), Windows(h))
    assert out.evidence["max_allowed_ms"] == 100 and out.evidence["max_ms"] == 40


def test_too_few_requests_fail_a_latency_bound_they_already_break_and_are_unknown_otherwise() -> None:
    # Users held by a hanging dependency send few requests: 4 in the window, 3 of them 3 s.
    slow = [(10.5, 3000.0, "ok"), (13.6, 3000.0, "ok"), (16.7, 3000.0, "ok"), (19.8, 20.0, "ok")]
    h = history(steady(end=10) + slow + steady(start=20))
    out = latency(h, LatencyParams(max=1.0, percentile=100, window={"during": "f"}), Windows(h))
    # p100: one request over the bound is proof, however many more there had been.
    assert out.verdict == "failed" and "only 4 requests" in out.summary and out.evidence["value_ms"] == 3000
    # p95 of 10 (6 instant ones added) is still 3 s: failed; p50 of 10 would be instant: unknown.
    assert latency(h, LatencyParams(max=1.0, percentile=95, window={"during": "f"}), Windows(h)).verdict == "failed"
    assert latency(h, LatencyParams(max=1.0, percentile=50, window={"during": "f"}), Windows(h)).verdict == "unknown"
    # Within the bound, too few requests prove nothing either way.
    fast = history(steady(end=10) + [(12.0, 20.0, "ok")] + steady(start=20))
    assert latency(fast, LatencyParams(max=1.0, percentile=100, window={"during": "f"}), Windows(fast)).verdict == "unknown"


def test_too_few_requests_fail_an_error_bound_they_already_break() -> None:
    few = [(11.0, 10.0, "fail"), (12.0, 10.0, "fail"), (13.0, 10.0, "ok")]
    h = history(steady(end=10) + few + steady(start=20))
    out = error_rate(h, ErrorRateParams(max=0.1, window={"during": "f"}), Windows(h))
    assert out.verdict == "failed" and out.evidence["error_rate"] == 0.2  # 2 errors over the 10 needed
    assert error_rate(h, ErrorRateParams(max=0.25, window={"during": "f"}), Windows(h)).verdict == "unknown"


def test_latency_passes_before_the_fault() -> None:
    reqs = steady(end=10) + steady(ms=500, start=10, end=20) + steady(start=20)
    h = history(reqs)
    assert latency(h, LatencyParams(max=0.1), Windows(h, default="before")).verdict == "passed"
    assert latency(h, LatencyParams(max=0.1), Windows(h, default="after")).verdict == "passed"


def test_the_after_window_starts_after_the_settle_time() -> None:
    h = history(steady())
    w = Windows(h, default="after").resolve(None)
    assert w.start == T0 + 22.0 and w.end == T0 + 30.0


def test_a_fault_ends_when_its_removal_is_done_so_a_slow_removal_delays_the_after_window() -> None:
    # Removing a slicer waits for what it holds to drip out (Toxiproxy #558): it acts till then.
    recs = [r for r in history(steady()).records if r["kind"] != "fault_removed"]
    recs.insert(-1, {"kind": "fault_removed", "t": T0 + 20.0, "fault": "f", "took_ms": 5000.0})
    h = History(recs)
    assert h.faults()["f"].removed == T0 + 25.0
    w = Windows(h, default="after").resolve(None)
    assert w.start == T0 + 27.0 and w.end == T0 + 30.0


def test_event_within_passes_when_the_event_follows_the_fault_in_time() -> None:
    h = history(steady(), events=[(11.5, {"type": "breaker_state", "state": "open"})])
    p = EventWithinParams(event={"type": "breaker_state", "state": "open"}, after={"fault": "f"}, within=5)
    out = event_within(h, p, Windows(h))
    assert out.verdict == "passed" and out.evidence["delay_s"] == 1.5


def test_event_within_fails_when_the_event_comes_too_late() -> None:
    h = history(steady(), events=[(18.0, {"type": "breaker_state", "state": "open"})])
    p = EventWithinParams(event={"type": "breaker_state", "state": "open"}, after={"fault": "f"}, within=5)
    out = event_within(h, p, Windows(h))
    assert out.verdict == "failed" and "only 8.00s after" in out.summary


def test_event_within_fails_when_the_event_never_comes() -> None:
    h = history(steady(), events=[(11.0, {"type": "breaker_state", "state": "half_open"})])
    p = EventWithinParams(event={"type": "breaker_state", "state": "closed"}, after={"fault": "f", "edge": "end"}, within=5)
    out = event_within(h, p, Windows(h))
    assert out.verdict == "failed" and "no {type=breaker_state, state=closed} event" in out.summary


def test_event_within_ignores_events_before_the_anchor() -> None:
    h = history(steady(), events=[(5.0, {"type": "breaker_state", "state": "open"})])
    p = EventWithinParams(event={"type": "breaker_state", "state": "open"}, after={"fault": "f"}, within=5)
    assert event_within(h, p, Windows(h)).verdict == "failed"


def test_event_within_is_unknown_when_the_fault_never_ended() -> None:
    h = history(steady(), fault=(10.0, None))
    p = EventWithinParams(event={"type": "x"}, after={"fault": "f", "edge": "end"}, within=5)
    out = event_within(h, p, Windows(h))
    assert out.verdict == "unknown" and "never ended" in out.summary


def test_a_crashing_check_is_unknown_not_passed() -> None:
    h = history(steady())
    spec = CheckSpec(type="latency", name="boom")
    spec.parsed_params = None  # the check will crash on attribute access
    result = run_one(spec, h, Windows(h), group="checks")
    assert result.verdict == "unknown" and "crashed" in result.summary


def test_the_merged_verdict_is_the_most_serious() -> None:
    assert merge_verdicts(["passed", "unknown"]) == "unknown"
    assert merge_verdicts(["passed", "failed", "unknown"]) == "failed"
    assert merge_verdicts(["passed"]) == "passed"
    assert merge_verdicts([]) == "unknown"


def test_a_request_caught_by_the_first_fault_does_not_count_against_the_before_window() -> None:
    # started 0.05 s before the fault, took 2 s because of it
    reqs = steady(end=9.9) + [(9.95, 2000.0, "info")] + steady(start=10.0)
    h = history(reqs)
    assert error_rate(h, ErrorRateParams(max=0.0), Windows(h, default="before")).verdict == "passed"
    assert latency(h, LatencyParams(max=0.1, percentile=100), Windows(h, default="before")).verdict == "passed"
