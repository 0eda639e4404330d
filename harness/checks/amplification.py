"""``amplification``: the load a mechanism puts on an edge, per request that entered the system.

Retry storms and double tries show up as more traffic reaching the faulted dependency for
each request that entered the system. The runner samples every edge's traffic from
Toxiproxy into the journal (``edge_counters``, see :mod:`harness.traffic.sampler`); this check
divides the traffic an edge carried in a window by the requests that entered the system in
the same window, and bounds it, absolutely and/or against the same figure in the baseline:

    per_request = traffic on EDGE in window / requests in window
    ratio       = per_request in window / per_request in baseline

``measure: connections`` (the default) counts new connections: a try made on a fresh
connection (after a reset or a timeout, or by a caller without keep-alive) counts once, in
real time. ``measure: bytes`` counts the bytes the caller sent; stock Toxiproxy adds them when
a connection closes, so use it only for callers without keep-alive. With a steady request mix
either stands in for calls per request: a sidecar making at most 4 tries stays at or below 4;
one retrying until its budget runs out does not. ``min_*`` bounds ask for the opposite (retries
must happen).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Literal

from pydantic import Field, model_validator

from ..journal import History
from ..model import Spec
from ..traffic.sampler import counter_at, edge_series
from .registry import Outcome, check
from .selection import RequestFilter, select_requests
from .windows import Window, Windows, WindowSpec, window_references

if TYPE_CHECKING:
    from ..experiment import ExperimentSpec

FIELDS = {"connections": "conns", "bytes": "up_in", "bytes_down": "down_in"}
UNITS = {"connections": "new connections", "bytes": "B", "bytes_down": "B answered"}


class AmplificationParams(Spec):
    edge: str = Field(description="the edge whose traffic is measured, e.g. sidecar->inventory")
    window: WindowSpec = Field(description="the window judged, e.g. {during: FAULT, skip: 1s}")
    baseline: WindowSpec = Field("before", description="the window the ratio is taken against")
    requests: RequestFilter | None = Field(None, description="the entry requests counted; default all")
    measure: Literal["connections", "bytes", "bytes_down"] = Field(
        "connections", description="connections: new connections (real time); bytes: bytes the caller sent "
                                   "(counted when a connection closes); bytes_down: bytes answered")
    max_per_request: float | None = Field(None, ge=0, description="highest traffic per entering request in the window")
    min_per_request: float | None = Field(None, ge=0, description="lowest traffic per entering request in the window")
    max_ratio: float | None = Field(None, gt=0, description="highest window/baseline ratio of traffic per request")
    min_ratio: float | None = Field(None, gt=0, description="lowest window/baseline ratio of traffic per request")
    min_requests: int = Field(10, ge=1, description="fewer requests in a window -> unknown")

    @model_validator(mode="after")
    def _has_a_bound(self) -> "AmplificationParams":
        if all(b is None for b in (self.max_ratio, self.min_ratio, self.max_per_request, self.min_per_request)):
            raise ValueError("give a bound: max_per_request, min_per_request, max_ratio or min_ratio")
        for lo, hi in (("min_ratio", "max_ratio"), ("min_per_request", "max_per_request")):
            a, b = getattr(self, lo), getattr(self, hi)
            if a is not None and b is not None and a > b:
                raise ValueError(f"{lo} ({a:g}) is above {hi} ({b:g})")
        return self

    @property
    def relative(self) -> bool:
        return self.max_ratio is not None or self.min_ratio is not None


def _refs(p: AmplificationParams, exp: "ExperimentSpec") -> Iterable[tuple[str, str]]:
    if p.edge not in exp.target.edges:
        yield (f"system '{exp.target.name}' has no edge '{p.edge}'; edges: {', '.join(exp.target.edges)}", "edge")
    yield from window_references(p.baseline, exp, "baseline")


def measure(history: History, samples: list[tuple[float, float]], w: Window,
            flt: RequestFilter | None) -> dict[str, Any]:
    """Bytes on the edge and requests entering the system in one window."""
    assert w.start is not None and w.end is not None
    out: dict[str, Any] = {"window": w.label, "seconds": round(w.end - w.start, 3)}
    start, end = counter_at(samples, w.start), counter_at(samples, w.end)
    reqs = select_requests(history.requests, w, flt)
    out["requests"] = len(reqs)
    if start is None or end is None:
        out["traffic"] = None
        return out
    out["traffic"] = round(end - start, 1)
    out["per_request"] = round((end - start) / len(reqs), 4) if reqs else None
    return out


def _rate_points(samples: list[tuple[float, float]], start: float, end: float, origin: float) -> list[list[float]]:
    """Traffic per second between consecutive samples, for the report's sparkline."""
    pts = []
    for (t0, v0), (t1, v1) in zip(samples, samples[1:], strict=False):
        if t1 > start and t0 < end and t1 > t0:
            pts.append([round(t1 - origin, 3), round((v1 - v0) / (t1 - t0), 1)])
    return pts


@check("amplification", AmplificationParams, refs=_refs)
def amplification(history: History, p: AmplificationParams, windows: Windows) -> Outcome:
    """Traffic on the edge per entering request, in the window, within bounds (absolute or vs the baseline)."""
    w, base = windows.resolve(p.window), windows.resolve(p.baseline)
    unit = UNITS[p.measure]
    evidence: dict[str, Any] = {"edge": p.edge, "measure": p.measure, **w.describe(windows.origin),
                                "baseline": base.label,
                                "filter": p.requests.describe() if p.requests else "all requests"}
    for win in (w, base) if p.relative else (w,):
        if not win.known:
            return Outcome("unknown", f"window '{win.label}' did not happen in this run", evidence)
    samples = edge_series(list(history.of_kind("edge_counters")), p.edge, FIELDS[p.measure])
    if not samples:
        errors = [r.get("error") for r in history.of_kind("edge_counters_error")]
        return Outcome("unknown", f"no {p.measure} counters were recorded for edge '{p.edge}'"
                       + (f" ({'; '.join(map(str, errors))})" if errors else ""), evidence)
    judged = [("window", w)] + ([("baseline", base)] if base.known else [])
    measures = {name: measure(history, samples, win, p.requests) for name, win in judged}
    evidence.update({f"{name}_measure": m for name, m in measures.items()})
    assert w.start is not None and w.end is not None
    lo = min(w.start, base.start) if base.start is not None else w.start
    evidence["per_second"] = _rate_points(samples, lo, w.end, windows.origin or samples[0][0])
    for name, m in measures.items():
        if name == "baseline" and not p.relative:
            continue
        if m["requests"] < p.min_requests:
            return Outcome("unknown", f"only {m['requests']} requests in '{m['window']}' (need {p.min_requests})",
                           evidence)
        if m["traffic"] is None:
            return Outcome("unknown", f"the traffic counters do not cover '{m['window']}' (sampled "
                                      f"{samples[0][0] - (windows.origin or 0):.1f}s to "
                                      f"{samples[-1][0] - (windows.origin or 0):.1f}s)", evidence)
    d = measures["window"]
    per = d["per_request"]
    problems, bounds = [], []
    if p.max_per_request is not None:
        bounds.append(f"max {p.max_per_request:g}")
        if per > p.max_per_request:
            problems.append("above max")
    if p.min_per_request is not None:
        bounds.append(f"min {p.min_per_request:g}")
        if per < p.min_per_request:
            problems.append("below min")
    summary = f"{p.edge} carried {_fmt(per)} {unit} per request in '{w.label}'"
    if p.relative:
        b = measures["baseline"]["per_request"]
        summary += f" vs {_fmt(b)} in '{base.label}'"
        if not b:
            return Outcome("unknown", summary + ": the baseline had none, so no ratio (use max_per_request)",
                           evidence)
        ratio = per / b
        evidence["ratio"] = round(ratio, 3)
        summary += f": x{ratio:.2f}"
        if p.max_ratio is not None:
            bounds.append(f"max x{p.max_ratio:g}")
            if ratio > p.max_ratio:
                problems.append("ratio above max")
        if p.min_ratio is not None:
            bounds.append(f"min x{p.min_ratio:g}")
            if ratio < p.min_ratio:
                problems.append("ratio below min")
    evidence["per_request"] = per
    return Outcome("failed" if problems else "passed", f"{summary} ({', '.join(bounds)})", evidence)


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:.2f}"
