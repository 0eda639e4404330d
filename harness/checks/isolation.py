"""Isolation: requests that do not depend on a faulted edge keep their steady state.

The ``unaffected`` group is compared with itself: its error rate and latency percentile in the
fault window against its own ``baseline`` window (``before`` by default). Latency may grow to
``baseline * latency_ratio_max + latency_slack``; the slack is there because a ratio on a
few-millisecond baseline is mostly noise.

The optional ``affected`` group is the control: the requests that do depend on the faulted
edge must visibly degrade (latency ratio or error rate). Without that, an unchanged
unaffected group proves nothing, because the fault may simply not have reached the system,
so the verdict is ``unknown`` rather than ``passed``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from pydantic import Field, model_validator

from ..durations import Duration
from ..journal import History
from ..model import Spec
from .registry import Outcome, check
from .selection import RequestFilter, select_requests
from .windows import Window, Windows, WindowSpec, window_references

if TYPE_CHECKING:
    from ..experiment import ExperimentSpec


class UnaffectedGroup(Spec):
    requests: RequestFilter
    error_rate_max: float = Field(0.01, ge=0.0, le=1.0, description="highest error rate in the fault window")
    percentile: float = Field(95.0, gt=0.0, le=100.0)
    latency_ratio_max: float = Field(2.0, ge=1.0, description="fault-window latency / baseline latency")
    latency_slack: Duration = Field(0.05, description="absolute allowance on top of the ratio")
    latency_max: Duration | None = Field(None, description="an absolute bound as well")


class AffectedGroup(Spec):
    requests: RequestFilter
    percentile: float = Field(95.0, gt=0.0, le=100.0)
    latency_ratio_min: float | None = Field(None, gt=1.0, description="degraded if latency grows at least this much")
    error_rate_min: float | None = Field(None, gt=0.0, le=1.0, description="degraded if errors reach this rate")

    @model_validator(mode="after")
    def _one_criterion(self) -> "AffectedGroup":
        if self.latency_ratio_min is None and self.error_rate_min is None:
            raise ValueError("say how the affected group degrades: latency_ratio_min, error_rate_min, or both")
        return self


class IsolationParams(Spec):
    window: WindowSpec = Field(description="the fault window, e.g. {during: FAULT, skip: 1s}")
    baseline: WindowSpec = Field("before", description="the window each group is compared with")
    unaffected: UnaffectedGroup
    affected: AffectedGroup | None = None
    min_requests: int = Field(10, ge=1, description="fewer requests than this in a group's window -> unknown")
    count_indeterminate: bool = Field(True, description="count timed-out requests as errors")


def _refs(p: IsolationParams, exp: "ExperimentSpec") -> Iterable[tuple[str, str]]:
    return window_references(p.baseline, exp, "baseline")


def _stats(history: History, w: Window, flt: RequestFilter, pct: float, p: IsolationParams) -> dict[str, Any]:
    reqs = select_requests(history.requests, w, flt)
    bad = reqs.errors_count(p.count_indeterminate)
    out: dict[str, Any] = {"window": w.label, "requests": len(reqs), "errors": bad,
                           "error_rate": round(bad / len(reqs), 4) if reqs else None, f"p{pct:g}_ms": None}
    if reqs:
        out[f"p{pct:g}_ms"] = round(reqs.percentile(pct), 2)
    return out


def _held_up(ub: dict[str, Any], ud: dict[str, Any], base: Window, w: Window, ratio_max: float,
             min_requests: int) -> dict[str, float] | None:
    """The group's request rate in the fault window, when it collapsed below baseline / ``ratio_max``.

    Load users wait for each answer (a closed loop), so requests that hang show up first as
    requests that are never sent: too few to take a percentile of is itself the degradation,
    not a reason to say "unknown", once the baseline had enough of them to compare.
    """
    if ub["requests"] < min_requests or ud["requests"] >= min_requests or ud["requests"] == 0:
        return None  # enough to compare percentiles; or no sign the group's users were there at all
    spans = [(win.end - win.start) if win.start is not None and win.end is not None else 0.0 for win in (base, w)]
    if min(spans) <= 0:
        return None
    rate_base, rate_during = ub["requests"] / spans[0], ud["requests"] / spans[1]
    if rate_during * ratio_max >= rate_base:
        return None
    return {"baseline": round(rate_base, 2), "during": round(rate_during, 2)}


@check("isolation", IsolationParams, refs=_refs)
def isolation(history: History, p: IsolationParams, windows: Windows) -> Outcome:
    """The unaffected group keeps its own steady state in the fault window; the affected group degrades."""
    w, base = windows.resolve(p.window), windows.resolve(p.baseline)
    u = p.unaffected
    ukey = f"p{u.percentile:g}_ms"
    evidence: dict[str, Any] = {**w.describe(windows.origin), "baseline": base.label}
    for win in (w, base):
        if not win.known:
            return Outcome("unknown", f"window '{win.label}' did not happen in this run", evidence)
    ub, ud = _stats(history, base, u.requests, u.percentile, p), _stats(history, w, u.requests, u.percentile, p)
    unaffected: dict[str, Any] = {"filter": u.requests.describe(), "baseline": ub, "during": ud}
    evidence["unaffected"] = unaffected
    held_up = _held_up(ub, ud, base, w, u.latency_ratio_max, p.min_requests)
    if held_up:
        unaffected["rate_per_s"] = held_up
        return Outcome("failed", f"'{u.requests.describe()}' lost its steady state in '{w.label}': its rate fell from "
                                 f"{held_up['baseline']:.1f}/s to {held_up['during']:.1f}/s ({ud['requests']} requests), "
                                 "so its users were held up (their requests waited)", evidence)
    if min(ub["requests"], ud["requests"]) < p.min_requests:
        return Outcome("unknown", f"too few '{u.requests.describe()}' requests to compare ({ub['requests']} in "
                                  f"'{base.label}', {ud['requests']} in '{w.label}'; need {p.min_requests})", evidence)
    allowed_ms = ub[ukey] * u.latency_ratio_max + u.latency_slack * 1000
    if u.latency_max is not None:
        allowed_ms = min(allowed_ms, u.latency_max * 1000)
    unaffected.update(allowed_ms=round(allowed_ms, 2), error_rate_max=u.error_rate_max)
    deviations = []
    if ud["error_rate"] > u.error_rate_max:
        deviations.append(f"error rate {ud['error_rate']:.2%} (max {u.error_rate_max:.2%})")
    if ud[ukey] > allowed_ms:
        deviations.append(f"p{u.percentile:g} {ud[ukey]:.1f} ms vs {ub[ukey]:.1f} ms in '{base.label}' "
                          f"(allowed {allowed_ms:.1f} ms)")
    affected = _affected(history, base, w, p)
    if affected is not None:
        evidence["affected"] = affected
    if deviations:
        return Outcome("failed", f"'{u.requests.describe()}' lost its steady state in '{w.label}': "
                                 + "; ".join(deviations), evidence)
    held = (f"'{u.requests.describe()}' kept its steady state in '{w.label}' (p{u.percentile:g} {ub[ukey]:.1f} -> "
            f"{ud[ukey]:.1f} ms, errors {ud['error_rate']:.2%})")
    if affected is None:
        return Outcome("passed", held, evidence)
    group, ab, ad = affected["filter"], affected["baseline"], affected["during"]
    if min(ab["requests"], ad["requests"]) < p.min_requests:
        return Outcome("unknown", f"{held}, but too few '{group}' requests to see the fault reach them "
                                  f"({ab['requests']} in '{base.label}', {ad['requests']} in '{w.label}')", evidence)
    if not affected["signs"]:
        return Outcome("unknown", f"{held}, but '{group}' did not degrade either (latency x{affected['latency_ratio']}, "
                                  f"errors {ad['error_rate']:.2%}): the fault did not visibly take effect, so isolation "
                                  "is not shown", evidence)
    return Outcome("passed", f"{held} while '{group}' degraded: " + "; ".join(affected["signs"]), evidence)


def _affected(history: History, base: Window, w: Window, p: IsolationParams) -> dict[str, Any] | None:
    """The control group's numbers, and the signs (if any) that the fault reached it."""
    a = p.affected
    if a is None:
        return None
    key = f"p{a.percentile:g}_ms"
    ab, ad = _stats(history, base, a.requests, a.percentile, p), _stats(history, w, a.requests, a.percentile, p)
    out: dict[str, Any] = {"filter": a.requests.describe(), "baseline": ab, "during": ad, "signs": []}
    if not (ab["requests"] and ad["requests"]):
        return out
    ratio = ad[key] / max(ab[key], 1e-3)  # a 0 ms baseline cannot happen over a network; never divide by it
    out["latency_ratio"] = round(ratio, 2)
    if a.latency_ratio_min is not None and ratio >= a.latency_ratio_min:
        out["signs"].append(f"p{a.percentile:g} {ab[key]:.1f} -> {ad[key]:.1f} ms "
                            f"(x{ratio:.1f}, min x{a.latency_ratio_min:g})")
    if a.error_rate_min is not None and ad["error_rate"] >= a.error_rate_min:
        out["signs"].append(f"error rate {ad['error_rate']:.2%} (min {a.error_rate_min:.2%})")
    return out
