"""``promql``: a PromQL expression, evaluated over a window of the run, held to a bound.

Two steps, so the check stays a pure function of the journal:

- **collect** (``harness.metrics.collect``, while the system still runs, before the runtime
  stops Prometheus): the check declares its query (``series=``); the range query over the
  window, at ``step`` resolution, lands in the journal as a ``metric_series`` record (query,
  window, start, end, the series; or the error Prometheus gave);
- **check** (over the finished journal): trims each series to the exact window, reduces it
  with ``aggregate`` and compares with ``max``/``min``. Every series the query returns must
  hold (alerting-rule semantics): combine series in PromQL (``sum(...)``) to judge a total.

Without Prometheus (not installed, turned off, failed to start) the check is ``unknown``
and quotes the reason the runtime recorded; it never passes on no data.
"""
from __future__ import annotations

from typing import Any, Callable, Literal

from pydantic import Field, model_validator

from ..durations import Duration
from ..journal import History
from ..model import Spec
from .registry import Outcome, SeriesQuery, check
from .windows import Windows, WindowSpec

AGGREGATES: dict[str, Callable[[list[float]], float]] = {
    "max": max,
    "min": min,
    "avg": lambda vs: sum(vs) / len(vs),
    "first": lambda vs: vs[0],
    "last": lambda vs: vs[-1],
    "delta": lambda vs: vs[-1] - vs[0],  # a counter's increase over the window (no resets)
}
MAX_SERIES_IN_EVIDENCE = 20
NO_PROMETHEUS = "no Prometheus was running"


class PromqlParams(Spec):
    query: str = Field(min_length=1, description="a PromQL expression; `... or vector(0)` makes an absent series count as 0")
    window: WindowSpec | None = None
    aggregate: Literal["max", "min", "avg", "first", "last", "delta"] | None = Field(
        None, description="reduce each series to one number; default: every value must be within the bounds")
    max: float | None = Field(None, description="highest acceptable value")
    min: float | None = Field(None, description="lowest acceptable value")
    step: Duration = Field(1.0, gt=0, description="query resolution")
    min_points: int = Field(3, ge=1, description="fewer points than this in the window -> unknown")

    @model_validator(mode="after")
    def _has_a_bound(self) -> "PromqlParams":
        if self.max is None and self.min is None:
            raise ValueError("give a bound: 'max', 'min' or both")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is above max ({self.max:g})")
        return self


def series_of(p: PromqlParams) -> list[SeriesQuery]:
    """The one range query the check judges."""
    return [SeriesQuery(query=p.query, window=p.window, step=p.step)]


def _bound_text(p: PromqlParams) -> str:
    parts = ([f"at least {p.min:g}"] if p.min is not None else []) + ([f"at most {p.max:g}"] if p.max is not None else [])
    return " and ".join(parts)


def _labels(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _judge(values: list[float], p: PromqlParams) -> tuple[float, bool, str]:
    """(the number quoted, within bounds?, what it is) for one series' values."""
    if p.aggregate is not None:
        v = AGGREGATES[p.aggregate](values)
        ok = (p.max is None or v <= p.max) and (p.min is None or v >= p.min)
        return v, ok, p.aggregate
    lo, hi = min(values), max(values)
    if p.max is not None and hi > p.max:
        return hi, False, "max"
    if p.min is not None and lo < p.min:
        return lo, False, "min"
    if p.max is not None and (p.min is None or p.max - hi <= lo - p.min):
        return hi, True, "max"
    return lo, True, "min"


@check("promql", PromqlParams, series=series_of)
def promql(history: History, p: PromqlParams, windows: Windows) -> Outcome:
    """Each series of a PromQL expression over the window stays within ``min``/``max``."""
    w = windows.resolve(p.window)
    origin = windows.origin or 0.0
    evidence: dict[str, Any] = {**w.describe(windows.origin), "query": p.query,
                                "aggregate": p.aggregate or "every value", "bound": _bound_text(p)}
    if not w.known:
        return Outcome("unknown", f"window '{w.label}' did not happen in this run", evidence)
    started = history.first("prometheus_started")
    if started is None:
        why = history.first("prometheus_unavailable")
        reason = (why.get("reason", "") if why
                  else "the journal records neither prometheus_started nor prometheus_unavailable")
        return Outcome("unknown", f"{NO_PROMETHEUS}: {reason}", evidence)
    records = [r for r in history.of_kind("metric_series") if r.get("query") == p.query and r.get("window") == w.label
               and r.get("step") == p.step]
    if not records:
        errors = [r.get("error") for r in history.of_kind("collect_error")]
        return Outcome("unknown", "no series were collected for this query before Prometheus stopped"
                       + (f" (collect errors: {'; '.join(map(str, errors))})" if errors else ""), evidence)
    rec = records[-1]
    if rec.get("error"):
        return Outcome("unknown", f"cannot judge: {rec['error']}", evidence)
    # Trim to the window actually resolved at collect time: the query range was widened to whole seconds.
    series = [(s["labels"], [v for t, v in s["values"] if rec["start"] <= t <= rec["end"]],
               [[round(t - origin, 3), v] for t, v in s["values"] if rec["start"] <= t <= rec["end"]])
              for s in rec.get("series", [])]
    series = [s for s in series if s[1]]
    most = max((len(s[1]) for s in series), default=0)
    evidence["series_total"] = len(series)
    if most < p.min_points:
        what = "no data" if not series else f"only {most} point(s) (need {p.min_points})"
        return Outcome("unknown", f"{p.query} has {what} in '{w.label}': a metric not scraped, or a label that never "
                                  "appeared (`... or vector(0)` counts absence as 0)", evidence)
    judged = [(labels, *_judge(values, p), points) for labels, values, points in series]
    shown = sorted(judged, key=lambda j: j[2])[:MAX_SERIES_IN_EVIDENCE]  # out-of-bounds first (a stable sort)
    evidence["series"] = [{"series": _labels(labels), "of": what, "value": round(v, 6), "within_bound": ok,
                           "points": points} for labels, v, ok, what, points in shown]
    bad = [j for j in judged if not j[2]]
    # Quote the series furthest past its bound, or (all within) the one closest to it.
    labels, v, _ok, what, _points = max(bad or judged, key=lambda j: _excess(j[1], p))
    where = f" {_labels(labels)}" if len(judged) > 1 else ""
    summary = f"{what} of {p.query}{where} = {v:.4g} in '{w.label}' ({_bound_text(p)})"
    if bad:
        count = f"{len(bad)} of {len(judged)} series out of bounds; " if len(judged) > 1 else ""
        return Outcome("failed", count + summary, evidence)
    return Outcome("passed", summary + (f"; all {len(judged)} series within" if len(judged) > 1 else ""), evidence)


def _excess(v: float, p: PromqlParams) -> float:
    """How far past the nearest bound ``v`` is (negative: inside by that much)."""
    return max(v - p.max if p.max is not None else -float("inf"), p.min - v if p.min is not None else -float("inf"))
