"""Checks any system can use: error rate, latency, and 'an event happened within a bound'."""
from __future__ import annotations

from typing import Any

from typing import Self

from pydantic import Field, model_validator

import numpy as np

from ..data.table import OK, RequestTable, nearest_rank
from ..durations import Duration
from ..journal import History
from ..model import Spec
from .registry import Outcome, Verdict, check
from .shift import LatencyShift, ShareShift, judge
from .selection import RequestFilter, event_matches, select_requests
from .windows import AnchorSpec, Windows, WindowSpec


class _Bounded(Spec):
    """What ``error_rate`` and ``latency`` share: a window, a request filter, and bounds (at least one)."""

    window: WindowSpec | None = None
    requests: RequestFilter | None = None
    baseline: WindowSpec = Field("before", description="the window increases are measured against")
    min_requests: int = Field(10, ge=1, description="fewer requests than this in the window (or the baseline) -> unknown")

    @model_validator(mode="after")
    def _some_bound(self) -> Self:
        bounds = ("max", "min", "max_increase", "min_increase")
        if all(getattr(self, b) is None for b in bounds):
            raise ValueError(f"give at least one bound: {', '.join(bounds)}")
        return self


class ErrorRateParams(_Bounded):
    max: float | None = Field(None, ge=0.0, le=1.0, description="highest acceptable share of failed requests")
    min: float | None = Field(None, ge=0.0, le=1.0, description="lowest share of failed requests (the fault bit)")
    max_increase: ShareShift | None = Field(None, description="most the share may rise over the baseline's: 0.05 or '5%' (points)")
    min_increase: ShareShift | None = Field(None, description="least it must rise over the baseline's (points)")
    count_indeterminate: bool = Field(True, description="count requests whose outcome is unknown (timeouts) as errors")


@check("error_rate", ErrorRateParams)
def error_rate(history: History, p: ErrorRateParams, windows: Windows) -> Outcome:
    """The share of failed requests in a window is within ``min``/``max``, and its rise over the
    baseline window within ``min_increase``/``max_increase``."""
    w = windows.resolve(p.window)
    evidence: dict[str, Any] = {**w.describe(windows.origin), "filter": (p.requests.describe() if p.requests else "all requests"),
                                **_bounds(p, "share")}
    if not w.known:
        return Outcome("unknown", f"window '{w.label}' did not happen in this run", evidence)
    reqs = select_requests(history.requests, w, p.requests)
    evidence.update(reqs.stats())
    if len(reqs) < p.min_requests:
        # Too few to pass, but maybe enough to fail: errors over the needed count is the lowest
        # rate the window can have had, were every missing request a success.
        floor = reqs.errors_count(p.count_indeterminate) / p.min_requests
        if p.max is not None and floor > p.max:
            evidence.update(error_rate=round(floor, 4), proven_with=p.min_requests,
                            examples=_error_examples(reqs, windows.origin))
            return Outcome("failed", f"{reqs.errors_count(p.count_indeterminate)} of only {len(reqs)} requests in "
                           f"'{w.label}' failed: even had {p.min_requests - len(reqs)} more (to the {p.min_requests} "
                           f"needed) all succeeded, the error rate would be {floor:.2%} (max {p.max:.2%})", evidence)
        return Outcome("unknown", f"only {len(reqs)} requests in window '{w.label}' (need {p.min_requests})", evidence)
    rate = reqs.errors_count(p.count_indeterminate) / len(reqs)
    evidence["error_rate"] = round(rate, 4)
    evidence["examples"] = _error_examples(reqs, windows.origin)
    summary = f"error rate {rate:.2%} over {len(reqs)} requests in '{w.label}'"
    ok, said = _absolute(rate * 100, p.min, p.max, scale=100, unit="%")
    if p.max_increase is not None or p.min_increase is not None:
        base = _baseline(history, p, windows, evidence)
        if isinstance(base, Outcome):
            return base
        base_rate = base.errors_count(p.count_indeterminate) / len(base)
        evidence["baseline_error_rate"] = round(base_rate, 4)
        rel, rel_said = judge(rate * 100, base_rate * 100, max_increase=p.max_increase, min_increase=p.min_increase,
                              scale=100, unit="points")
        said += [f"baseline {base_rate:.2%} in '{evidence['baseline']}': " + "; ".join(rel_said)]
        ok = _combine(ok, rel)
    return Outcome(_verdict(ok), f"{summary} ({'; '.join(said)})", evidence)


def _error_examples(reqs: RequestTable, origin: float | None, limit: int = 5) -> list[dict[str, Any]]:
    first = reqs.take(reqs.outcome != OK).head(limit)
    return [{"at_s": round(r["t"] - (origin or 0.0), 3), "name": r["name"], "error": r["error"], "status": r["status"],
             "ms": r["ms"]} for r in first]


class LatencyParams(_Bounded):
    percentile: float = Field(95.0, gt=0.0, le=100.0, description="any percentile, 100 for the slowest request")
    max: Duration | None = Field(None, description="highest acceptable latency at that percentile")
    min: Duration | None = Field(None, description="lowest latency at that percentile (the fault bit)")
    max_increase: LatencyShift | None = Field(None, description="most it may rise over the baseline's: 50ms or '20%'")
    min_increase: LatencyShift | None = Field(None, description="least it must rise over the baseline's: 100ms or '100%'")
    successful_only: bool = Field(False, description="measure only requests that succeeded")


@check("latency", LatencyParams)
def latency(history: History, p: LatencyParams, windows: Windows) -> Outcome:
    """The chosen latency percentile in a window is within ``min``/``max``, and its rise over the
    baseline window within ``min_increase``/``max_increase``."""
    w = windows.resolve(p.window)
    evidence: dict[str, Any] = {**w.describe(windows.origin), "filter": (p.requests.describe() if p.requests else "all requests"),
                                "percentile": p.percentile, **_bounds(p, "ms")}
    if not w.known:
        return Outcome("unknown", f"window '{w.label}' did not happen in this run", evidence)
    reqs = select_requests(history.requests, w, p.requests)
    if p.successful_only:
        reqs = reqs.with_outcome("ok")
    evidence.update(reqs.stats())
    if len(reqs) < p.min_requests:
        # Too few to pass, but maybe enough to fail. Requests that hang are exactly what thins a
        # window out (each user waits instead of sending more), so "too few" must not hide a
        # violation already proven: had the missing ones all been instant, is it still over?
        if len(reqs) and p.max is not None:
            padded = np.concatenate([np.zeros(p.min_requests - len(reqs)), reqs.sorted_ms()])
            floor = nearest_rank(padded, p.percentile)
            if floor > p.max * 1000:
                evidence.update(value_ms=round(floor, 2), proven_with=p.min_requests,
                                slowest=_slowest(reqs, windows.origin))
                return Outcome("failed", f"p{p.percentile:g} latency at least {floor:.1f} ms: only {len(reqs)} requests "
                               f"in '{w.label}' (need {p.min_requests}), but even {p.min_requests - len(reqs)} more "
                               f"instant ones would leave it above {p.max * 1000:.0f} ms", evidence)
        return Outcome("unknown", f"only {len(reqs)} requests in window '{w.label}' (need {p.min_requests})", evidence)
    value = reqs.percentile(p.percentile)
    evidence["value_ms"] = round(value, 2)
    evidence["slowest"] = _slowest(reqs, windows.origin)
    summary = f"p{p.percentile:g} latency {value:.1f} ms over {len(reqs)} requests in '{w.label}'"
    ok, said = _absolute(value, p.min, p.max, scale=1000, unit="ms")
    if p.max_increase is not None or p.min_increase is not None:
        base = _baseline(history, p, windows, evidence)
        if isinstance(base, Outcome):
            return base
        if p.successful_only:
            base = base.with_outcome("ok")
        base_value = base.percentile(p.percentile)
        evidence["baseline_value_ms"] = round(base_value, 2)
        rel, rel_said = judge(value, base_value, max_increase=p.max_increase, min_increase=p.min_increase,
                              scale=1000, unit="ms")
        said += [f"baseline {base_value:.1f} ms in '{evidence['baseline']}': " + "; ".join(rel_said)]
        ok = _combine(ok, rel)
    return Outcome(_verdict(ok), f"{summary} ({'; '.join(said)})", evidence)


def _slowest(reqs: RequestTable, origin: float | None, limit: int = 5) -> list[dict[str, Any]]:
    return [{"at_s": round(r["t"] - (origin or 0.0), 3), "name": r["name"], "ms": round(float(r["ms"]), 2),
             "outcome": r["outcome"]} for r in reqs.slowest(limit)]


def _bounds(p: ErrorRateParams | LatencyParams, unit: str) -> dict[str, Any]:
    """The bounds a check was given, for its evidence (latency ones in ms)."""
    out: dict[str, Any] = {}
    for name in ("max", "min"):
        value = getattr(p, name)
        if value is not None:
            # "max_allowed_ms", not "max_ms": the latency statistics put the slowest request's
            # time under "max_ms", which would overwrite the bound in the same evidence.
            out[f"{name}_allowed_ms" if unit == "ms" else name] = round(value * 1000, 3) if unit == "ms" else value
    for name in ("max_increase", "min_increase"):
        shift = getattr(p, name)
        if shift is not None:
            out[name] = shift.render("ms" if unit == "ms" else "share")
    return out


def _absolute(value: float, low: float | None, high: float | None, *, scale: float,
              unit: str) -> tuple[bool | None, list[str]]:
    """``value`` (in ``unit``) against ``min``/``max`` (in seconds or a share: times ``scale``)."""
    ok, said = True, []
    for bound, word in ((high, "max"), (low, "min")):
        if bound is None:
            continue
        ok = ok and (value <= bound * scale if word == "max" else value >= bound * scale)
        said.append(f"{word} {bound:.2%}" if unit == "%" else f"{word} {bound * scale:.0f} {unit}")
    return ok, said


def _baseline(history: History, p: ErrorRateParams | LatencyParams, windows: Windows,
              evidence: dict[str, Any]) -> RequestTable | Outcome:
    """The same requests in the baseline window, or the ``unknown`` outcome saying why there are none."""
    bw = windows.resolve(p.baseline)
    evidence["baseline"] = bw.label
    if not bw.known:
        return Outcome("unknown", f"baseline window '{bw.label}' did not happen in this run", evidence)
    base = select_requests(history.requests, bw, p.requests)
    evidence["baseline_requests"] = len(base)
    if len(base) < p.min_requests:
        return Outcome("unknown", f"only {len(base)} requests in the baseline window '{bw.label}' "
                                  f"(need {p.min_requests})", evidence)
    return base


def _combine(a: bool | None, b: bool | None) -> bool | None:
    return False if a is False or b is False else None if a is None or b is None else True


def _verdict(ok: bool | None) -> Verdict:
    return "unknown" if ok is None else "passed" if ok else "failed"


class EventWithinParams(Spec):
    event: dict[str, Any] = Field(description="fields the target event must have, e.g. {type: breaker_state, state: open}")
    service: str | None = Field(None, description="only events this service reported")
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
