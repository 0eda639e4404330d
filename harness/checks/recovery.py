"""``recovery``: after a fault ends, the requests return to their own baseline within a bound.

From the fault's actual removal, the system has recovered at the first ``bucket`` boundary
from which the requests of the next ``sustain`` seconds, taken together, have an error rate of
at most ``baseline + error_rate_slack`` and a latency percentile of at most
``baseline * latency_ratio_max + latency_slack``. That moment must come within ``within``.
Judging ``sustain`` seconds together (not each second alone) keeps one slow request among a
handful from reading as "not recovered": a percentile of ten requests is nearly their maximum.
Compared with the system's own ``baseline`` window (``before``), so it needs no absolute
numbers: "back to normal", for whatever normal was.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Iterable

from pydantic import Field

from ..durations import Duration
from ..data.table import RequestTable
from ..journal import History
from ..model import Spec
from .registry import Outcome, check
from .selection import RequestFilter, select_requests
from .windows import AnchorSpec, Window, Windows, WindowSpec, window_references

if TYPE_CHECKING:
    from ..experiment import ExperimentSpec


class RecoveryParams(Spec):
    fault: str = Field(description="the fault whose end starts the clock")
    within: Duration = Field(description="longest acceptable time from the fault's end to recovery")
    baseline: WindowSpec = Field("before", description="what 'normal' is")
    requests: RequestFilter | None = None
    bucket: Duration = Field(1.0, gt=0)
    sustain: Duration = Field(2.0, gt=0, description="how long it must be back to normal, judged together")
    percentile: float = Field(95.0, gt=0, le=100)
    error_rate_slack: float = Field(0.02, ge=0, le=1, description="error rate allowed above the baseline's")
    latency_ratio_max: float = Field(2.0, ge=1)
    latency_slack: Duration = Field(0.05, description="absolute allowance on top of the ratio")
    count_indeterminate: bool = Field(True, description="count timed-out requests as errors")
    min_requests: int = Field(10, ge=1, description="fewer baseline requests -> unknown")


def _refs(p: RecoveryParams, exp: "ExperimentSpec") -> Iterable[tuple[str, str]]:
    yield from window_references(AnchorSpec(fault=p.fault), exp, "fault")
    yield from window_references(p.baseline, exp, "baseline")


def baseline_of(reqs: RequestTable, p: RecoveryParams) -> dict[str, Any]:
    return {"requests": len(reqs), "error_rate": round(reqs.error_rate(p.count_indeterminate) or 0.0, 4),
            f"p{p.percentile:g}_ms": round(reqs.percentile(p.percentile), 2)}


def recovered_at(history: History, p: RecoveryParams, base: dict[str, Any], start: float,
                 end: float) -> tuple[float | None, list[dict[str, Any]]]:
    """(seconds from ``start`` to recovery or None, the series of judged spans) over [start, end)."""
    reqs = select_requests(history.requests, Window("recovery", start, end), p.requests)
    err_max = base["error_rate"] + p.error_rate_slack
    lat_max = base[f"p{p.percentile:g}_ms"] * p.latency_ratio_max + p.latency_slack * 1000
    series: list[dict[str, Any]] = []
    steps = max(0, math.floor((end - start - p.sustain) / p.bucket + 1e-9)) + 1
    for i in range(steps):
        lo = start + i * p.bucket
        span = reqs.between(lo, lo + p.sustain)
        row: dict[str, Any] = {"at_s": round(i * p.bucket, 3), "requests": len(span)}
        ok = False
        if span:
            row["error_rate"] = round(span.error_rate(p.count_indeterminate) or 0.0, 4)
            row[f"p{p.percentile:g}_ms"] = round(span.percentile(p.percentile), 2)
            ok = row["error_rate"] <= err_max and row[f"p{p.percentile:g}_ms"] <= lat_max
        row["normal"] = ok
        series.append(row)
        if ok:
            return i * p.bucket, series
    return None, series


@check("recovery", RecoveryParams, refs=_refs)
def recovery(history: History, p: RecoveryParams, windows: Windows) -> Outcome:
    """After the fault ends, requests are back to their baseline error rate and latency within ``within``."""
    removed = windows.anchor(AnchorSpec(fault=p.fault, edge="end"))
    base_w = windows.resolve(p.baseline)
    evidence: dict[str, Any] = {"fault": p.fault, "within_s": p.within, "baseline": base_w.label}
    if removed is None:
        return Outcome("unknown", f"fault '{p.fault}' never ended in this run", evidence)
    end = history.load_end
    if not base_w.known or end is None:
        return Outcome("unknown", f"window '{base_w.label}' did not happen in this run", evidence)
    base_reqs = select_requests(history.requests, base_w, p.requests)
    if len(base_reqs) < p.min_requests:
        return Outcome("unknown", f"only {len(base_reqs)} requests in '{base_w.label}' (need {p.min_requests})",
                       evidence)
    base = baseline_of(base_reqs, p)
    evidence["baseline_stats"] = base
    evidence["normal_is"] = {"error_rate_max": round(base["error_rate"] + p.error_rate_slack, 4),
                             "latency_max_ms": round(base[f"p{p.percentile:g}_ms"] * p.latency_ratio_max
                                                     + p.latency_slack * 1000, 2)}
    at, series = recovered_at(history, p, base, removed, end)
    evidence["after_fault"] = series[:60]
    observed = end - removed
    if at is not None:
        evidence["recovered_s"] = round(at, 3)
        return Outcome("passed" if at <= p.within else "failed",
                       f"back to baseline {at:.1f}s after {p.fault} ended (bound {p.within:g}s)", evidence)
    if observed < p.within + p.sustain:
        return Outcome("unknown", f"load ended {observed:.1f}s after {p.fault} ended: too soon to see "
                                  f"{p.sustain:g}s of recovery within {p.within:g}s", evidence)
    return Outcome("failed", f"not back to baseline in the {observed:.1f}s after {p.fault} ended "
                             f"(bound {p.within:g}s)", evidence)
