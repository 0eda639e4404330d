"""Failover and recovery time: from a fault's actual start (or end) to sustained normal success.

The time after the anchor is cut into buckets of ``bucket`` seconds, aligned on the anchor;
each request falls into the bucket where it started. A bucket is *normal* when it has at
least ``min_requests`` requests and at least ``success_min`` of them succeeded (and, with
``max_latency``, were no slower than that). The failover time is the start of the first run
of normal buckets lasting ``sustain`` seconds, so its resolution is one bucket.

The search stays inside the fault for ``edge: start`` (success that returns because the fault
ended is recovery, not failover) and runs from the fault's end to the end of load for
``edge: end``. An empty bucket amid traffic is not normal: users stuck on hung requests start
no new ones, which is exactly what a missing deadline looks like.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Literal

import numpy as np
from pydantic import Field, model_validator

from ..data.table import OK, RequestTable
from ..durations import Duration
from ..journal import History
from ..model import Spec
from .registry import Outcome, Verdict, check
from .selection import RequestFilter
from .windows import Windows, window_references

if TYPE_CHECKING:
    from ..experiment import ExperimentSpec

SERIES_CONTEXT = 3  # buckets shown before the anchor and after the sustained run
SERIES_LIMIT = 40


class FailoverTimeParams(Spec):
    fault: str = Field(description="the fault whose start (or end) the time counts from")
    edge: Literal["start", "end"] = Field("start", description="start: failover; end: recovery after the fault")
    requests: RequestFilter | None = None
    bucket: Duration = Field(1.0, gt=0, description="bucket width; the resolution of the measured time")
    sustain: Duration = Field(3.0, gt=0, description="how long success must hold to count as recovered")
    success_min: float = Field(0.99, ge=0.0, le=1.0, description="share of normal requests a bucket needs")
    max: Duration = Field(description="longest acceptable failover (or recovery) time")
    max_latency: Duration | None = Field(None, description="a request slower than this is not a normal success")
    min_requests: int = Field(1, ge=1, description="fewer requests than this in a bucket -> not normal")

    @model_validator(mode="after")
    def _sustain_covers_a_bucket(self) -> "FailoverTimeParams":
        if self.sustain < self.bucket:
            raise ValueError(f"sustain ({self.sustain:g}s) must be at least one bucket ({self.bucket:g}s)")
        return self


@dataclass
class Bucket:
    start: float
    total: int = 0
    normal: int = 0

    def is_normal(self, p: FailoverTimeParams) -> bool:
        return self.total >= p.min_requests and self.normal >= p.success_min * self.total

    def row(self, origin: float, anchor: float, p: FailoverTimeParams) -> dict[str, Any]:
        return {"from_s": round(self.start - origin, 3), "since_anchor_s": round(self.start - anchor, 3),
                "requests": self.total, "normal": self.normal,
                "success": round(self.normal / self.total, 4) if self.total else None,
                "verdict": "normal" if self.is_normal(p) else "degraded"}


def _refs(p: FailoverTimeParams, exp: "ExperimentSpec") -> Iterable[tuple[str, str]]:
    return window_references(p, exp, "fault")


@check("failover_time", FailoverTimeParams, refs=_refs)
def failover_time(history: History, p: FailoverTimeParams, windows: Windows) -> Outcome:
    """Time from a fault's start (or end) to the first sustained run of normal success is at most ``max``."""
    what = "failover" if p.edge == "start" else "recovery"
    fw = windows.faults.get(p.fault)
    evidence: dict[str, Any] = {"anchor": f"{p.fault} {p.edge}",
                                "filter": p.requests.describe() if p.requests else "all requests",
                                "bucket_s": p.bucket, "sustain_s": p.sustain, "success_min": p.success_min, "max_s": p.max}
    if p.max_latency is not None:
        evidence["max_latency_ms"] = round(p.max_latency * 1000, 3)
    load_end = history.load_end
    if fw is None or fw.applied is None:
        return Outcome("unknown", f"fault '{p.fault}' never took effect in this run", evidence)
    if p.edge == "end" and fw.removed is None:
        return Outcome("unknown", f"fault '{p.fault}' never ended, so there is no recovery to time", evidence)
    if load_end is None:
        return Outcome("unknown", "the run recorded no load", evidence)
    anchor, horizon_end = (fw.applied, fw.removed or load_end) if p.edge == "start" else (fw.removed, load_end)
    assert anchor is not None
    origin = windows.origin or anchor
    evidence.update(anchor_at_s=round(anchor - origin, 3), horizon_to_s=round(horizon_end - origin, 3))

    reqs = p.requests.select(history.requests) if p.requests is not None else history.requests
    n_buckets = int((horizon_end - anchor) // p.bucket)
    buckets = _bucketize(reqs, anchor - SERIES_CONTEXT * p.bucket, SERIES_CONTEXT + n_buckets, p)
    before, after = buckets[:SERIES_CONTEXT], buckets[SERIES_CONTEXT:]
    evidence["success_before_anchor"] = _success(before)
    in_horizon = sum(b.total for b in after)
    evidence["requests"] = in_horizon
    if in_horizon == 0:
        return Outcome("unknown", f"no matching requests in the {horizon_end - anchor:.1f}s after {p.fault} {p.edge}",
                       evidence)
    need = math.ceil(p.sustain / p.bucket - 1e-9)
    if n_buckets < need:
        return Outcome("unknown", f"only {horizon_end - anchor:.1f}s after {p.fault} {p.edge}; "
                                  f"cannot see {p.sustain:g}s of sustained success", evidence)

    found = _first_sustained(after, need, p)
    shown_to = SERIES_CONTEXT + (found + need + SERIES_CONTEXT if found is not None else n_buckets)
    evidence["series"] = [b.row(origin, anchor, p) for b in buckets[:shown_to]][:SERIES_LIMIT]
    degraded = [b for b in after[:found if found is not None else n_buckets] if not b.is_normal(p)]
    if degraded:
        evidence["degraded_from_s"] = round(degraded[0].start - origin, 3)
    if found is None:
        span = horizon_end - anchor
        where = (f"in the {span:.1f}s the fault lasted" if p.edge == "start"
                 else f"in the {span:.1f}s from the fault's end to the end of load")
        return Outcome("failed", f"{what} never came: no {p.sustain:g}s of >= {p.success_min:.0%} normal success {where} "
                                 f"({len(degraded)} of {n_buckets} buckets degraded)", evidence)
    seconds = found * p.bucket
    evidence[f"{what}_time_s"] = round(seconds, 3)
    verdict: Verdict = "passed" if seconds <= p.max else "failed"
    dip = ("success never dipped; " if p.edge == "start" else "normal from the first bucket; ") if found == 0 else ""
    return Outcome(verdict, f"{what} in {seconds:.1f}s after {p.fault} {p.edge} ({dip}sustained {p.sustain:g}s at "
                            f">= {p.success_min:.0%}, bucket {p.bucket:g}s; max {p.max:g}s)", evidence)


def _bucketize(reqs: RequestTable, start: float, count: int, p: FailoverTimeParams) -> list[Bucket]:
    """Requests per bucket by start time, and how many were normal (vectorised over the table)."""
    near = reqs.between(start, start + count * p.bucket)
    idx = ((near.t - start) // p.bucket).astype(np.int64)
    keep = (idx >= 0) & (idx < count)
    # A timed-out request (outcome 'info') is not a success: the user did not get an answer.
    normal = near.outcome == OK
    if p.max_latency is not None:
        normal &= near.ms <= p.max_latency * 1000
    total = np.bincount(idx[keep], minlength=count)
    good = np.bincount(idx[keep & normal], minlength=count)
    return [Bucket(start + i * p.bucket, int(total[i]), int(good[i])) for i in range(count)]


def _first_sustained(buckets: list[Bucket], need: int, p: FailoverTimeParams) -> int | None:
    run = 0
    for i, b in enumerate(buckets):
        run = run + 1 if b.is_normal(p) else 0
        if run == need:
            return i - need + 1
    return None


def _success(buckets: list[Bucket]) -> float | None:
    total = sum(b.total for b in buckets)
    return round(sum(b.normal for b in buckets) / total, 4) if total else None
