"""latency and error_rate: ``min`` bounds, any percentile, and increases over the baseline window."""
from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from harness.checks.builtin import ErrorRateParams, LatencyParams, error_rate, latency
from harness.checks.shift import Shift
from harness.checks.windows import Windows
from harness.experiment import load_experiment

from test_builtin_checks import history, steady

DURING = {"during": "f"}


def slowed(before_ms: float = 10.0, during_ms: float = 60.0) -> list[tuple[float, float, str]]:
    return steady(ms=before_ms, end=10) + steady(ms=during_ms, start=10, end=20) + steady(ms=before_ms, start=20)


def test_latency_min_passes_when_the_fault_bit() -> None:
    h = history(slowed())
    out = latency(h, LatencyParams(window=DURING, min=0.05), Windows(h))
    assert out.verdict == "passed" and "min 50 ms" in out.summary


def test_latency_min_fails_when_the_fault_never_bit() -> None:
    h = history(slowed(during_ms=10))
    out = latency(h, LatencyParams(window=DURING, min=0.05), Windows(h))
    assert out.verdict == "failed" and "p95 latency 10.0 ms" in out.summary


def test_latency_max_increase_in_ms_is_measured_against_before() -> None:
    h = history(slowed(during_ms=60))
    ok = latency(h, LatencyParams(window=DURING, max_increase="60ms"), Windows(h))
    bad = latency(h, LatencyParams(window=DURING, max_increase="40ms"), Windows(h))
    assert ok.verdict == "passed" and bad.verdict == "failed"
    assert bad.evidence["baseline_value_ms"] == 10.0 and "+50.0 ms vs baseline (max +40 ms)" in bad.summary


def test_latency_increase_in_percent_of_the_baseline() -> None:
    h = history(slowed(during_ms=30))  # +200%
    assert latency(h, LatencyParams(window=DURING, min_increase="150%"), Windows(h)).verdict == "passed"
    out = latency(h, LatencyParams(window=DURING, max_increase="100%"), Windows(h))
    assert out.verdict == "failed" and "+200.0% vs baseline (max +100%)" in out.summary


def test_latency_any_percentile() -> None:
    reqs = steady(ms=10)
    reqs[50] = (reqs[50][0], 900.0, "ok")  # one slow request: only the top percentile sees it
    h = history(reqs, fault=None)
    assert latency(h, LatencyParams(percentile=99, max=0.02), Windows(h)).verdict == "passed"
    assert latency(h, LatencyParams(percentile=100, max=0.02), Windows(h)).verdict == "failed"


def test_latency_increase_is_unknown_without_a_baseline() -> None:
    h = history(steady(ms=10, start=10, end=20))  # nothing before the fault
    out = latency(h, LatencyParams(window=DURING, max_increase="10ms"), Windows(h))
    assert out.verdict == "unknown" and "baseline window 'before'" in out.summary


def test_error_rate_min_proves_the_fault_bit() -> None:
    reqs = steady(end=10) + steady(outcome="fail", start=10, end=15) + steady(start=15)
    h = history(reqs)
    assert error_rate(h, ErrorRateParams(window=DURING, min=0.3), Windows(h)).verdict == "passed"
    h_sound = history(steady())
    out = error_rate(h_sound, ErrorRateParams(window=DURING, min=0.3), Windows(h_sound))
    assert out.verdict == "failed" and "min 30.00%" in out.summary


def test_error_rate_increase_is_in_points_of_the_share() -> None:
    reqs = steady(end=10) + steady(outcome="fail", start=10, end=11) + steady(start=11)  # 10% during
    h = history(reqs)
    assert error_rate(h, ErrorRateParams(window=DURING, max_increase="12%"), Windows(h)).verdict == "passed"
    out = error_rate(h, ErrorRateParams(window=DURING, max_increase=0.05), Windows(h))
    assert out.verdict == "failed" and "+10.0 points vs baseline (max +5 points)" in out.summary


def test_a_check_needs_at_least_one_bound() -> None:
    with pytest.raises(ValidationError, match="at least one bound"):
        LatencyParams(window=DURING)
    with pytest.raises(ValidationError, match="percentage of the baseline"):
        LatencyParams(max_increase="fast")
    with pytest.raises(ValidationError, match="percentage points"):
        ErrorRateParams(max_increase=3)


def test_latency_a_band_min_and_max_together() -> None:
    h = history(slowed(during_ms=60))
    assert latency(h, LatencyParams(window=DURING, min=0.05, max=0.07), Windows(h)).verdict == "passed"
    assert latency(h, LatencyParams(window=DURING, min=0.07, max=0.09), Windows(h)).verdict == "failed"  # below min
    assert latency(h, LatencyParams(window=DURING, min=0.01, max=0.05), Windows(h)).verdict == "failed"  # above max


def test_latency_a_fractional_percentile() -> None:
    reqs = steady(ms=10, end=100)  # 1000 requests
    reqs[500] = (reqs[500][0], 900.0, "ok")  # one in a thousand: p99 misses it, p99.95 does not
    h = history(reqs, fault=None, end=100)
    assert latency(h, LatencyParams(percentile=99, max=0.02), Windows(h)).verdict == "passed"
    out = latency(h, LatencyParams(percentile=99.95, max=0.02), Windows(h))
    assert out.verdict == "failed" and out.evidence["percentile"] == 99.95


def test_the_baseline_may_be_another_window() -> None:
    # Slow from the start until the fault; normal after it: measured against 'after', the fault window is no worse.
    reqs = steady(ms=60, end=10) + steady(ms=12, start=10, end=20) + steady(ms=10, start=20)
    h = history(reqs)
    vs_before = latency(h, LatencyParams(window=DURING, max_increase="5ms"), Windows(h))
    vs_after = latency(h, LatencyParams(window=DURING, baseline="after", max_increase="5ms"), Windows(h))
    assert vs_before.verdict == "passed" and vs_before.evidence["baseline"] == "before"
    assert vs_after.verdict == "passed" and vs_after.evidence["baseline"] == "after"
    strict = latency(h, LatencyParams(window=DURING, baseline="after", max_increase="1ms"), Windows(h))
    assert strict.verdict == "failed" and "+2.0 ms vs baseline" in strict.summary


def test_a_percentage_of_a_zero_baseline_cannot_be_judged() -> None:
    reqs = steady(end=10) + steady(outcome="fail", start=10, end=11) + steady(start=11)
    h = history(reqs)
    rel = error_rate(h, ErrorRateParams(window=DURING, requests=None, max_increase=0.2), Windows(h))
    assert rel.verdict == "passed"  # points of the share are fine on a zero baseline
    h0 = history(steady(ms=0.0))
    out = latency(h0, LatencyParams(window=DURING, max_increase="50%"), Windows(h0))
    assert out.verdict == "unknown" and "cannot be judged on a baseline of 0" in out.summary


def test_an_increase_bound_may_come_from_a_manifest_parameter(tmp_path: Path) -> None:
    (tmp_path / "locustfile.py").write_text("from locust import HttpUser\n")
    (tmp_path / "system.yaml").write_text(
        "name: s\nlocustfile: locustfile.py\nentry: a\nparameters: {deadline: 300ms, retries: 2}\n"
        "services:\n  a: {command: ['{python}', '-c', 'pass']}\n")
    (tmp_path / "e.yaml").write_text(
        "name: e\nsystem: system.yaml\nload: {duration: 10s}\nchecks:\n"
        "  - {type: latency, max_increase: {param: deadline, margin: 50ms}}\n"
        "  - {type: latency, min_increase: 'deadline * retries'}\n"
        "  - {type: error_rate, max_increase: {param: retries, times: 0.05}}\n")
    exp = load_experiment(tmp_path / "e.yaml")
    bounds = [(c.parsed_params.max_increase, c.parsed_params.min_increase) for c in exp.checks]
    assert bounds[0][0] == Shift(pytest.approx(0.35), percent=False)
    assert bounds[1][1] == Shift(pytest.approx(0.6), percent=False)
    assert bounds[2][0] == Shift(pytest.approx(0.1), percent=False)
    assert "deadline = 300ms" in exp.checks[0].derived[0].describe()
