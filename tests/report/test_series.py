from harness.journal import History
from harness.report.series import bucket_requests, build_timeline

T0 = 1_700_000_000.0


def req(t: float, outcome: str = "ok", ms: float = 10.0) -> dict:
    return {"kind": "request", "t": t, "ms": ms, "outcome": outcome}


def test_every_second_of_load_gets_a_bucket_with_its_requests_counted(history: History) -> None:
    tl = build_timeline(history)
    assert len(tl.buckets) == 30
    assert [b.requests for b in tl.buckets] == [10] * 30
    assert sum(b.requests for b in tl.buckets) == len(history.requests)


def test_failures_and_indeterminate_are_counted_apart_and_only_during_the_fault(history: History) -> None:
    tl = build_timeline(history)
    assert [b.failures for b in tl.buckets] == [0] * 10 + [4] * 10 + [0] * 10
    assert [b.indeterminate for b in tl.buckets] == [0] * 10 + [1] * 10 + [0] * 10
    assert tl.buckets[12].failure_pct == 40.0


def test_latency_percentiles_are_per_second_nearest_rank() -> None:
    buckets = bucket_requests([req(T0 + 0.1 * k, ms=float(k + 1)) for k in range(10)], T0, T0 + 1)
    assert (buckets[0].p50_ms, buckets[0].p95_ms, buckets[0].max_ms) == (5.0, 10.0, 10.0)


def test_a_second_without_requests_has_no_latency_rather_than_zero() -> None:
    buckets = bucket_requests([req(T0 + 0.5)], T0, T0 + 3)
    assert buckets[1].requests == 0 and buckets[1].p50_ms is None
    assert buckets[1].failure_pct is None


def test_requests_outside_the_load_window_are_left_out_and_the_end_joins_the_last_second() -> None:
    buckets = bucket_requests([req(T0 - 0.5), req(T0 + 2.0), req(T0 + 2.01)], T0, T0 + 2)
    assert [b.requests for b in buckets] == [0, 1]


def test_a_fractional_last_second_still_gets_a_bucket() -> None:
    assert len(bucket_requests([], T0, T0 + 2.2)) == 3


def test_fault_windows_and_events_are_relative_to_load_start(history: History) -> None:
    tl = build_timeline(history)
    (fault,) = tl.faults
    assert (fault.name, fault.type, fault.target) == ("payments-down", "down", "orders->payments")
    assert (fault.applied_s, fault.removed_s) == (10.0, 20.0)
    assert [(e.t_s, e.type) for e in tl.events][0] == (10.4, "breaker_opened")
    assert tl.events[0].fields == {"failures": 5}


def test_a_fault_never_removed_has_no_end() -> None:
    h = History([{"kind": "load_started", "t": T0}, {"kind": "load_stopped", "t": T0 + 5},
                 {"kind": "fault_applied", "t": T0 + 1, "fault": "f", "type": "latency", "target": "a->b"}])
    assert build_timeline(h).faults[0].removed_s is None


def test_a_run_without_load_has_an_empty_timeline() -> None:
    tl = build_timeline(History([{"kind": "run_started", "t": T0}]))
    assert tl.buckets == [] and tl.origin is None and tl.duration_s == 0.0
