"""The promql check on hand-built journals with ``metric_series`` records: pass, fail, unknown."""
from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from harness.checks.promql import PromqlParams, promql
from harness.checks.windows import Windows
from harness.journal import History

T0 = 1_000_000.0
URL = "http://127.0.0.1:9"
QUERY = "sum(rate(calls_total[5s]))"


def points(values: list[float], start: float = 10.0) -> list[list[float]]:
    """One point per second from ``start`` (offset from load start)."""
    return [[T0 + start + i, v] for i, v in enumerate(values)]


def history(series: list[dict[str, Any]] | None = None, *, prometheus: bool = True, error: str | None = None,
            fault: tuple[float, float | None] | None = (10.0, 20.0), window: str = "during f",
            extra: list[dict[str, Any]] = ()) -> History:
    recs: list[dict[str, Any]] = [
        {"kind": "run_started", "t": T0 - 1, "steady_state": {"warmup": 1.0, "settle": 2.0}},
        {"kind": "load_started", "t": T0},
    ]
    if prometheus:
        recs.append({"kind": "prometheus_started", "t": T0 - 0.5, "url": URL, "scrape_interval": 1.0})
    if fault is not None:
        recs.append({"kind": "fault_applied", "t": T0 + fault[0], "fault": "f", "type": "latency", "target": "a->b"})
        if fault[1] is not None:
            recs.append({"kind": "fault_removed", "t": T0 + fault[1], "fault": "f"})
    recs.append({"kind": "load_stopped", "t": T0 + 30})
    if series is not None or error is not None:
        rec: dict[str, Any] = {"kind": "metric_series", "t": T0 + 31, "query": QUERY, "window": window,
                               "start": T0 + 10, "end": T0 + 20, "step": 1.0, "url": URL}
        if error is not None:
            rec["error"] = error
        else:
            rec["series"] = series
        recs.append(rec)
    recs.extend(extra)
    return History(recs)


def one(values: list[float], labels: dict[str, str] | None = None, start: float = 10.0) -> dict[str, Any]:
    return {"labels": labels or {}, "values": points(values, start)}


def params(**kw: Any) -> PromqlParams:
    return PromqlParams(query=QUERY, window={"during": "f"}, **kw)


def test_passes_when_every_value_stays_under_max_and_quotes_the_series() -> None:
    h = history([one([0.4, 0.5, 0.6, 0.4, 0.5])])
    out = promql(h, params(max=3), Windows(h))
    assert out.verdict == "passed", out.summary
    assert out.summary == f"max of {QUERY} = 0.6 in 'during f' (at most 3)"
    [s] = out.evidence["series"]
    assert s["value"] == 0.6 and s["within_bound"] is True
    assert s["points"][0] == [10.0, 0.4]  # seconds from load start, ready for a sparkline


def test_fails_when_one_value_goes_over_max() -> None:
    h = history([one([0.4, 16.0, 16.0, 0.5])])
    out = promql(h, params(max=3), Windows(h))
    assert out.verdict == "failed"
    assert "= 16 in 'during f' (at most 3)" in out.summary


def test_min_bound_judges_the_lowest_value() -> None:
    h = history([one([1, 1, 0, 1])])
    out = promql(h, params(min=1), Windows(h))
    assert out.verdict == "failed" and out.summary.startswith("min of") and "= 0 " in out.summary


@pytest.mark.parametrize(("aggregate", "bound", "verdict", "value"), [
    ("delta", {"min": 1}, "passed", 4.0),      # a counter went 2 -> 6
    ("delta", {"min": 5}, "failed", 4.0),
    ("avg", {"max": 4}, "passed", 4.0),
    ("last", {"max": 5}, "failed", 6.0),
    ("first", {"max": 2}, "passed", 2.0),
    ("min", {"min": 2}, "passed", 2.0),
])
def test_aggregates_reduce_the_series_to_one_number(aggregate: str, bound: dict[str, float], verdict: str,
                                                    value: float) -> None:
    h = history([one([2, 3, 4, 5, 6])])
    out = promql(h, params(aggregate=aggregate, **bound), Windows(h))
    assert out.verdict == verdict, out.summary
    assert out.evidence["series"][0]["value"] == value and out.evidence["series"][0]["of"] == aggregate


def test_points_outside_the_window_are_trimmed() -> None:
    # Prometheus answers whole seconds around the window; a spike a second before it must not count.
    h = history([one([99, 1, 1, 1, 1, 99], start=9.0)])
    h.records[-1]["end"] = T0 + 13.5
    out = promql(h, params(max=3), Windows(h))
    assert out.verdict == "passed", out.summary
    assert [p[0] for p in out.evidence["series"][0]["points"]] == [10.0, 11.0, 12.0, 13.0]


def test_every_series_must_hold_and_the_worst_is_named() -> None:
    h = history([one([1, 1, 1], {"outcome": "ok"}), one([1, 9, 1], {"outcome": "timeout"}),
                 one([2, 2, 2], {"outcome": "error"})])
    out = promql(h, params(max=3), Windows(h))
    assert out.verdict == "failed"
    assert out.summary.startswith("1 of 3 series out of bounds; max of")
    assert '{outcome="timeout"} = 9' in out.summary
    # out-of-bounds series first in the evidence, so a cap on rows never hides them
    assert [(s["series"], s["within_bound"]) for s in out.evidence["series"]] == [
        ('{outcome="timeout"}', False), ('{outcome="ok"}', True), ('{outcome="error"}', True)]


def test_unknown_without_prometheus_quotes_the_runtime_reason() -> None:
    reason = "no prometheus binary in $HARNESS_PROMETHEUS, PATH or /usr/bin/prometheus; install Debian's prometheus package"
    h = history(None, prometheus=False, extra=[{"kind": "prometheus_unavailable", "t": T0, "reason": reason}])
    out = promql(h, params(max=3), Windows(h))
    assert out.verdict == "unknown"
    assert out.summary == f"no Prometheus was running: {reason}"


def test_unknown_without_any_prometheus_record() -> None:
    h = history(None, prometheus=False)
    out = promql(h, params(max=3), Windows(h))
    assert out.verdict == "unknown" and out.summary.startswith("no Prometheus was running")


def test_unknown_when_the_fault_never_took_effect() -> None:
    h = history([one([0, 0, 0])], fault=None)
    out = promql(h, params(max=3), Windows(h))
    assert out.verdict == "unknown" and "did not happen in this run" in out.summary


def test_unknown_when_the_query_returned_no_series() -> None:
    h = history([])
    out = promql(h, params(min=1), Windows(h))
    assert out.verdict == "unknown"
    assert "has no data in 'during f'" in out.summary and "or vector(0)" in out.summary


def test_unknown_when_too_few_points_to_judge() -> None:
    h = history([one([5, 5])])
    out = promql(h, params(max=3), Windows(h))
    assert out.verdict == "unknown" and "only 2 point(s) (need 3)" in out.summary


def test_unknown_when_prometheus_refused_the_query() -> None:
    h = history(error="Prometheus refused the query: 1:5: parse error: unexpected <by>")
    out = promql(h, params(max=3), Windows(h))
    assert out.verdict == "unknown" and "parse error: unexpected <by>" in out.summary


def test_unknown_when_nothing_was_collected_names_the_collect_error() -> None:
    h = history(None, extra=[{"kind": "collect_error", "t": T0 + 31, "check": "x", "error": "RuntimeError: boom"}])
    out = promql(h, params(max=3), Windows(h))
    assert out.verdict == "unknown"
    assert "no series were collected" in out.summary and "RuntimeError: boom" in out.summary


def test_a_record_for_another_window_is_not_used() -> None:
    h = history([one([1, 1, 1])], window="after f")
    out = promql(h, params(max=3), Windows(h))
    assert out.verdict == "unknown" and "no series were collected" in out.summary


def test_params_need_a_bound_and_a_sane_one() -> None:
    with pytest.raises(ValidationError, match="give a bound: 'max', 'min' or both"):
        PromqlParams(query=QUERY)
    with pytest.raises(ValidationError, match=r"min \(5\) is above max \(1\)"):
        PromqlParams(query=QUERY, min=5, max=1)
    with pytest.raises(ValidationError, match="unknown field 'maximum'"):
        PromqlParams.model_validate({"query": QUERY, "maximum": 1})


def write_experiment(tmp_path: Any, check: str) -> Any:
    path = tmp_path / "exp.yaml"
    path.write_text("name: e\nsystem: circuit-breaker\nload: {duration: 20s}\n"
                    "faults:\n  - {name: slow, type: latency, edge: orders->payments, attributes: {latency: 1s},"
                    " start: 5s}\n"
                    f"checks:\n  - {check}\n")
    return path


@pytest.mark.parametrize(("check", "message"), [
    ("{type: promql, query: up}", "exp.yaml:7: checks[0]: give a bound: 'max', 'min' or both"),
    ("{type: promql, query: up, max: 1, window: {during: nope}}",
     "exp.yaml:7: checks[0].window: no fault named 'nope' in this experiment; faults: slow"),
    ("{type: promql, query: up, max: 1, aggregate: median}",
     "exp.yaml:7: checks[0].aggregate: Input should be 'max', 'min', 'avg', 'first', 'last' or 'delta' (got 'median')"),
    ("{type: promql, query: '', max: 1}", "exp.yaml:7: checks[0].query: String should have at least 1 character"),
])
def test_a_bad_promql_check_is_named_by_file_line_and_field(tmp_path: Any, check: str, message: str) -> None:
    from harness.errors import InputError
    from harness.experiment import load_experiment

    with pytest.raises(InputError) as err:
        load_experiment(write_experiment(tmp_path, check))
    assert message in str(err.value), str(err.value)
