"""Which endpoints a fault degraded, and by how much: per request name, fault window vs baseline.

An endpoint is *degraded* when, in the fault window, its error rate rose by at least
``ERROR_RISE`` (to at least that much), or its p95 latency at least doubled and grew by at
least ``LATENCY_RISE_MS``. Endpoints with fewer than ``MIN_REQUESTS`` requests in either
window are listed but not judged. The endpoints a fail-fast fault (``down``, ``kill``)
degrades are the ones that *need* that edge or service; a slow fault on the same target that
degrades any other endpoint has a blast radius beyond the dependency (shared pools, threads,
locks).
"""
from __future__ import annotations

from typing import Any

from ..checks.selection import select_requests
from ..checks.windows import Window
from ..data.table import RequestTable
from ..journal import History

ERROR_RISE = 0.05
LATENCY_RATIO = 2.0
LATENCY_RISE_MS = 50.0
MIN_REQUESTS = 5


def stats(reqs: RequestTable) -> dict[str, Any]:
    if not reqs:
        return {"requests": 0, "error_rate": None, "p95_ms": None}
    return {"requests": len(reqs), "error_rate": round(reqs.error_rate() or 0.0, 4),
            "p95_ms": round(reqs.percentile(95), 1)}


def endpoint_impact(history: History, before: Window, during: Window) -> list[dict[str, Any]]:
    """Per request name: its numbers in both windows, whether it degraded, and how."""
    b_all, d_all = select_requests(history.requests, before, None), select_requests(history.requests, during, None)
    names = sorted({n for n, _m, _t in b_all.by_endpoint()} | {n for n, _m, _t in d_all.by_endpoint()})
    out = []
    for name in names:
        b, d = stats(b_all.where(name=name)), stats(d_all.where(name=name))
        row: dict[str, Any] = {"endpoint": name, "before": b, "during": d, "degraded": None, "how": ""}
        if min(b["requests"], d["requests"]) >= MIN_REQUESTS:
            signs = []
            if d["error_rate"] - b["error_rate"] >= ERROR_RISE:
                signs.append(f"errors {b['error_rate']:.0%} -> {d['error_rate']:.0%}")
            if d["p95_ms"] >= b["p95_ms"] * LATENCY_RATIO and d["p95_ms"] - b["p95_ms"] >= LATENCY_RISE_MS:
                signs.append(f"p95 {b['p95_ms']:g} -> {d['p95_ms']:g} ms")
            row["degraded"] = bool(signs)
            row["how"] = "; ".join(signs)
        elif b["requests"] >= MIN_REQUESTS and d["requests"] == 0:
            row["degraded"], row["how"] = True, "no request started during the fault"
        out.append(row)
    return out


def degraded(impact: list[dict[str, Any]]) -> list[str]:
    return [row["endpoint"] for row in impact if row["degraded"]]


def baseline_drift(reference: dict[str, Any], current: dict[str, Any]) -> str | None:
    """Why a cell's baseline is not the reference's (the previous cell's harm lingering), or None."""
    if not reference["requests"] or not current["requests"]:
        return None
    why = []
    if current["error_rate"] > reference["error_rate"] + 0.02:
        why.append(f"error rate {current['error_rate']:.1%} (reference {reference['error_rate']:.1%})")
    if current["p95_ms"] > reference["p95_ms"] * LATENCY_RATIO + LATENCY_RISE_MS:
        why.append(f"p95 {current['p95_ms']:g} ms (reference {reference['p95_ms']:g} ms)")
    return "; ".join(why) or None
