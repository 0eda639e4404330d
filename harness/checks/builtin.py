"""Checks any system can use: error rate, latency, and 'an event happened within a bound'."""
from __future__ import annotations

from typing import Any

from pydantic import Field

from ..data.table import OK, RequestTable
from ..durations import Duration
from ..journal import History
from ..model import Spec
from .registry import Outcome, Verdict, check
from .selection import RequestFilter, event_matches, select_requests
from .windows import AnchorSpec, Windows, WindowSpec


class ErrorRateParams(Spec):
    window: WindowSpec | None = None
    requests: RequestFilter | None = None
    max: float = Field(ge=0.0, le=1.0, description="highest acceptable share of failed requests")
    min_requests: int = Field(10, ge=1, description="fewer requests than this in the window -> unknown")
    count_indeterminate: bool = Field(True, description="count requests whose outcome is unknown (timeouts) as errors")


@check("error_rate", ErrorRateParams)
def error_rate(history: History, p: ErrorRateParams, windows: Windows) -> Outcome:
    """The share of failed requests in a window stays at or below ``max``."""
    w = windows.resolve(p.window)
    evidence: dict[str, Any] = {**w.describe(windows.origin), "filter": (p.requests.describe() if p.requests else "all requests"),
                                "max": p.max}
    if not w.known:
        return Outcome("unknown", f"window '{w.label}' did not happen in this run", evidence)
    reqs = select_requests(history.requests, w, p.requests)
    evidence.update(reqs.stats())
    if len(reqs) < p.min_requests:
        return Outcome("unknown", f"only {len(reqs)} requests in window '{w.label}' (need {p.min_requests})", evidence)
    rate = reqs.errors_count(p.count_indeterminate) / len(reqs)
    evidence["error_rate"] = round(rate, 4)
    evidence["examples"] = _error_examples(reqs, windows.origin)
    verdict: Verdict = "passed" if rate <= p.max else "failed"
    return Outcome(verdict, f"error rate {rate:.2%} over {len(reqs)} requests in '{w.label}' (max {p.max:.2%})", evidence)


def _error_examples(reqs: RequestTable, origin: float | None, limit: int = 5) -> list[dict[str, Any]]:
    first = reqs.take(reqs.outcome != OK).head(limit)
    return [{"at_s": round(r["t"] - (origin or 0.0), 3), "name": r["name"], "error": r["error"], "status": r["status"],
             "ms": r["ms"]} for r in first]


class LatencyParams(Spec):
    window: WindowSpec | None = None
    requests: RequestFilter | None = None
    percentile: float = Field(95.0, gt=0.0, le=100.0)
    max: Duration = Field(description="highest acceptable latency at that percentile")
    min_requests: int = Field(10, ge=1)
    successful_only: bool = Field(False, description="measure only requests that succeeded")


@check("latency", LatencyParams)
def latency(history: History, p: LatencyParams, windows: Windows) -> Outcome:
    """The chosen latency percentile in a window stays at or below ``max``."""
    w = windows.resolve(p.window)
    evidence: dict[str, Any] = {**w.describe(windows.origin), "filter": (p.requests.describe() if p.requests else "all requests"),
                                "percentile": p.percentile, "max_ms": round(p.max * 1000, 3)}
    if not w.known:
        return Outcome("unknown", f"window '{w.label}' did not happen in this run", evidence)
    reqs = select_requests(history.requests, w, p.requests)
    if p.successful_only:
        reqs = reqs.with_outcome("ok")
    evidence.update(reqs.stats())
    if len(reqs) < p.min_requests:
        return Outcome("unknown", f"only {len(reqs)} requests in window '{w.label}' (need {p.min_requests})", evidence)
    value = reqs.percentile(p.percentile)
    evidence["value_ms"] = round(value, 2)
    evidence["slowest"] = [{"at_s": round(r["t"] - (windows.origin or 0.0), 3), "name": r["name"],
                            "ms": round(float(r["ms"]), 2), "outcome": r["outcome"]} for r in reqs.slowest(5)]
    verdict: Verdict = "passed" if value <= p.max * 1000 else "failed"
    return Outcome(verdict, f"p{p.percentile:g} latency {value:.1f} ms over {len(reqs)} requests in '{w.label}' "
                            f"(max {p.max * 1000:.0f} ms)", evidence)


class EventWithinParams(Spec):
    event: dict[str, Any] = Field(description="fields the target event must have, e.g. {type: breaker_state, state: open}")
    service: str | None = None
    after: AnchorSpec = Field(description="the moment the bound counts from: a fault's actual start or end")
    within: Duration


@check("event_within", EventWithinParams)
def event_within(history: History, p: EventWithinParams, windows: Windows) -> Outcome:
    """A matching target event happens within ``within`` after the anchor (a fault's start or end)."""
    anchor = windows.anchor(p.after)
    evidence: dict[str, Any] = {"event": p.event, "anchor": f"{p.after.fault} {p.after.edge}", "within_s": p.within}
    if anchor is None:
        return Outcome("unknown", f"fault '{p.after.fault}' never {'started' if p.after.edge == 'start' else 'ended'}", evidence)
    origin = windows.origin or anchor
    evidence["anchor_at_s"] = round(anchor - origin, 3)
    matching = [e for e in history.events if event_matches(e, p.event) and (p.service is None or e.get("service") == p.service)]
    after = [e for e in matching if e["t"] >= anchor]
    in_time = [e for e in after if e["t"] <= anchor + p.within]
    evidence["matching_events_total"] = len(matching)
    nearby = [e for e in history.events if anchor - 1 <= e["t"] <= anchor + p.within + 5]
    evidence["events_near_anchor"] = [{"at_s": round(e["t"] - origin, 3), "service": e.get("service"),
                                       **{k: v for k, v in e.items() if k not in ("kind", "t", "service")}}
                                      for e in nearby[:20]]
    if in_time:
        delay = in_time[0]["t"] - anchor
        evidence["delay_s"] = round(delay, 3)
        return Outcome("passed", f"{_fmt(p.event)} {delay:.2f}s after {p.after.fault} {p.after.edge} "
                                 f"(bound {p.within:g}s)", evidence)
    if after:
        delay = after[0]["t"] - anchor
        evidence["delay_s"] = round(delay, 3)
        return Outcome("failed", f"{_fmt(p.event)} only {delay:.2f}s after {p.after.fault} {p.after.edge} "
                                 f"(bound {p.within:g}s)", evidence)
    return Outcome("failed", f"no {_fmt(p.event)} event after {p.after.fault} {p.after.edge} "
                             f"(bound {p.within:g}s); {len(history.events)} target events in the whole run", evidence)


def _fmt(match: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in match.items()) + "}"
