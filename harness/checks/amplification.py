"""``amplification``: the load a mechanism puts on an edge, per request, against its own baseline.

Retry storms and double tries show up as more traffic reaching the faulted dependency for
each request that entered the system. Toxiproxy counts every byte an edge carries (sampled
into the journal as ``edge_counters``, see :mod:`harness.traffic.sampler`); this check
divides the bytes the caller sent into the edge in a window by the requests that entered the
system in the same window, and compares that with the same figure in the baseline:

    ratio = (bytes on EDGE / requests) in window  /  (bytes on EDGE / requests) in baseline

With requests of a steady mix, bytes per request stand in for calls per request, so the ratio
reads as "calls per request, relative to normal": a sidecar making at most 4 tries stays at or
below 4; one retrying until its budget runs out does not. ``min_ratio`` asks for the opposite
(retries must happen). Bytes count attempts even when a toxic drops or resets them; a
connection refused by a proxy that is down carries none.
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

FIELDS = {"up": "up_in", "down": "down_in"}


class AmplificationParams(Spec):
    edge: str = Field(description="the edge whose traffic is measured, e.g. sidecar->inventory")
    window: WindowSpec = Field(description="the window judged, e.g. {during: FAULT, skip: 1s}")
    baseline: WindowSpec = Field("before", description="the window the ratio is taken against")
    requests: RequestFilter | None = Field(None, description="the entry requests counted; default all")
    direction: Literal["up", "down"] = Field("up", description="up: bytes the caller sent (its attempts); "
                                             "down: bytes the dependency answered")
    max_ratio: float | None = Field(None, gt=0, description="highest window/baseline ratio")
    min_ratio: float | None = Field(None, gt=0, description="lowest window/baseline ratio")
    min_requests: int = Field(10, ge=1, description="fewer requests in a window -> unknown")

    @model_validator(mode="after")
    def _has_a_bound(self) -> "AmplificationParams":
        if self.max_ratio is None and self.min_ratio is None:
            raise ValueError("give a bound: 'max_ratio', 'min_ratio' or both")
        if self.max_ratio is not None and self.min_ratio is not None and self.min_ratio > self.max_ratio:
            raise ValueError(f"min_ratio ({self.min_ratio:g}) is above max_ratio ({self.max_ratio:g})")
        return self


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
        out["bytes"] = None
        return out
    out["bytes"] = round(end - start, 1)
    out["bytes_per_request"] = round((end - start) / len(reqs), 2) if reqs else None
    return out


def _rate_points(samples: list[tuple[float, float]], start: float, end: float, origin: float) -> list[list[float]]:
    """Bytes per second between consecutive samples, for the report's sparkline."""
    pts = []
    for (t0, v0), (t1, v1) in zip(samples, samples[1:]):
        if t1 > start and t0 < end and t1 > t0:
            pts.append([round(t1 - origin, 3), round((v1 - v0) / (t1 - t0), 1)])
    return pts


@check("amplification", AmplificationParams, refs=_refs)
def amplification(history: History, p: AmplificationParams, windows: Windows) -> Outcome:
    """Traffic on the edge per entering request, in the window, within bounds of its baseline."""
    w, base = windows.resolve(p.window), windows.resolve(p.baseline)
    evidence: dict[str, Any] = {"edge": p.edge, "direction": p.direction, **w.describe(windows.origin),
                                "baseline": base.label,
                                "filter": p.requests.describe() if p.requests else "all requests"}
    for win in (w, base):
        if not win.known:
            return Outcome("unknown", f"window '{win.label}' did not happen in this run", evidence)
    samples = edge_series(list(history.of_kind("edge_counters")), p.edge, FIELDS[p.direction])
    if not samples:
        errors = [r.get("error") for r in history.of_kind("edge_counters_error")]
        return Outcome("unknown", f"no traffic counters were recorded for edge '{p.edge}'"
                       + (f" ({'; '.join(map(str, errors))})" if errors else ""), evidence)
    b, d = measure(history, samples, base, p.requests), measure(history, samples, w, p.requests)
    evidence.update(baseline_measure=b, window_measure=d)
    assert base.start is not None and w.end is not None
    evidence["bytes_per_s"] = _rate_points(samples, min(base.start, w.start or base.start), max(w.end, base.end or w.end),
                                           windows.origin or samples[0][0])
    for m in (b, d):
        if m["requests"] < p.min_requests:
            return Outcome("unknown", f"only {m['requests']} requests in '{m['window']}' (need {p.min_requests})", evidence)
        if m["bytes"] is None:
            return Outcome("unknown", f"the traffic counters do not cover '{m['window']}' (sampled "
                                      f"{samples[0][0] - (windows.origin or 0):.1f}s to "
                                      f"{samples[-1][0] - (windows.origin or 0):.1f}s)", evidence)
    if not b["bytes_per_request"]:
        return Outcome("unknown", f"edge '{p.edge}' carried no traffic in '{base.label}': nothing to compare with "
                                  "(do these requests use it?)", evidence)
    ratio = d["bytes_per_request"] / b["bytes_per_request"]
    evidence["ratio"] = round(ratio, 3)
    bound = " and ".join(([f"min x{p.min_ratio:g}"] if p.min_ratio is not None else [])
                         + ([f"max x{p.max_ratio:g}"] if p.max_ratio is not None else []))
    summary = (f"{p.edge} carried {d['bytes_per_request']:,.0f} B per request in '{w.label}' vs "
               f"{b['bytes_per_request']:,.0f} B in '{base.label}': x{ratio:.2f} ({bound})")
    ok = (p.max_ratio is None or ratio <= p.max_ratio) and (p.min_ratio is None or ratio >= p.min_ratio)
    return Outcome("passed" if ok else "failed", summary, evidence)
