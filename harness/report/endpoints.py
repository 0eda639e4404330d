"""Per endpoint and per window (before / during each fault / after): p50/p95/p99 and error rate,
each with a bootstrap 95% confidence interval (:mod:`harness.data.stats`).

One derivation serves the run report (a table), ``result.json`` (``endpoints``) and
``harness compare`` (which also needs the bootstrap replicates, kept on each ``Estimate``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..checks.windows import FaultWindowSpec, Windows, WindowSpec
from ..data.stats import Estimate, percentile_estimate, rate_estimate, rng_for
from ..data.table import RequestTable
from ..journal import History

PERCENTILES = (50, 95, 99)


@dataclass
class EndpointWindow:
    endpoint: str
    method: str
    window: str
    from_s: float | None
    to_s: float | None
    requests: int
    error_rate: Estimate | None = None
    latency: dict[int, Estimate] = field(default_factory=dict)
    """Percentile -> estimate, in ms (all requests, failed ones too: a slow failure is slow)."""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.endpoint, self.method, self.window)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"endpoint": self.endpoint, "method": self.method, "window": self.window,
                               "from_s": self.from_s, "to_s": self.to_s, "requests": self.requests,
                               "error_rate": self.error_rate.to_dict(4) if self.error_rate else None}
        for q in PERCENTILES:
            est = self.latency.get(q)
            out[f"p{q}_ms"] = est.to_dict(2) if est else None
        return out


def window_specs(history: History) -> list[WindowSpec]:
    """before, during each fault that took effect (in order), after."""
    faults = [f.name for f in history.faults().values() if f.applied is not None]
    return ["before", *[FaultWindowSpec(during=f) for f in faults], "after"]


def summarize(name: str, method: str, label: str, span: tuple[float | None, float | None], reqs: RequestTable,
              seed: int | None) -> EndpointWindow:
    row = EndpointWindow(name, method, label, span[0], span[1], len(reqs))
    if not len(reqs):
        return row
    rng = rng_for(seed, name, method, label)
    row.error_rate = rate_estimate(reqs.errors_count(), len(reqs), rng)
    ms = reqs.sorted_ms()
    ms = ms[~np.isnan(ms)]  # a request without a duration has no latency to rank
    if len(ms):
        row.latency = {q: percentile_estimate(ms, q, rng) for q in PERCENTILES}
    return row


def endpoint_windows(history: History) -> list[EndpointWindow]:
    """Every endpoint in every window that happened, in window order then endpoint order."""
    windows = Windows(history)
    seed = history.run.get("seed")
    rows: list[EndpointWindow] = []
    for spec in window_specs(history):
        w = windows.resolve(spec)
        if not w.known:
            continue
        described = w.describe(windows.origin)
        span = (described["from_s"], described["to_s"])
        for name, method, reqs in w.select(history.requests).by_endpoint():
            rows.append(summarize(name, method, w.label, span, reqs, seed))  # type: ignore[arg-type]
    return rows
