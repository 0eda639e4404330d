"""Live evidence for the checks: the Prometheus series they will judge, written into the journal.

Checks never perform I/O (a checker over a history, after Jepsen). A check type that judges
metrics declares its range queries (``@check(..., series=...)``, each a ``SeriesQuery``); the
runner calls ``collect_series`` at the end of load, while the system and its Prometheus still
run, and writes the records it returns into the journal:

    metric_series   query, window (label), start, end, step, url, and series or error
    collect_error   check, error (the query could not even be asked; the check says unknown)

The check later finds its ``metric_series`` by query, window label and step, so a report can be
re-rendered, and every verdict re-judged, from the journal alone.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..checks.evaluate import each_spec
from ..checks.registry import SeriesQuery, check_types

if TYPE_CHECKING:
    from ..checks.windows import Windows
    from ..experiment import ExperimentSpec
    from ..journal import History, Record

__all__ = ["collect_series", "reads_metrics"]

SCRAPE_GRACE_S = 0.25
"""Beyond one scrape interval after a window's end, before its last point can be queried."""
MAX_SCRAPE_WAIT_S = 3.0


def reads_metrics(exp: ExperimentSpec) -> bool:
    """Whether some check or condition judges metrics (then load waits for Prometheus's first scrape)."""
    return any(check_types.get(s.type).series is not None for s in (*exp.checks, *exp.steady_state.conditions))


def collect_series(exp: ExperimentSpec, history: History) -> list[Record]:
    """Records for every series the experiment's checks judge, over the history so far. Never raises."""
    records: list[Record] = []
    for _group, spec, windows in each_spec(exp, history):
        declared = check_types.get(spec.type).series
        if declared is None:
            continue
        try:
            found = [rec for q in declared(spec.parsed_params) for rec in _query(history, q, windows)]
        except Exception as exc:  # the check finds no evidence and says unknown, quoting this
            found = [{"kind": "collect_error", "check": spec.name or spec.type, "error": f"{type(exc).__name__}: {exc}"}]
        records.extend({"t": time.time(), **r} for r in found)
    return records


def _query(history: History, q: SeriesQuery, windows: Windows) -> list[Record]:
    """Ask the running Prometheus for one query over its window; one ``metric_series`` record."""
    from . import query  # the HTTP client (prometheus-api-client), only when there is something to ask

    w = windows.resolve(q.window)
    started = history.first("prometheus_started")
    if not w.known or started is None:
        return []  # the check says why: no window, or no Prometheus
    assert w.start is not None and w.end is not None
    # The scrape after the window's end may not have happened yet: wait for it (bounded).
    time.sleep(max(0.0, min(w.end + float(started.get("scrape_interval", 1.0)) + SCRAPE_GRACE_S - time.time(),
                            MAX_SCRAPE_WAIT_S)))
    record: Record = {"kind": "metric_series", "query": q.query, "window": w.label, "start": w.start, "end": w.end,
                      "step": q.step, "url": started["url"]}
    try:
        record["series"] = query.query_range(started["url"], q.query, w.start, w.end, q.step)
    except query.QueryError as exc:
        record["error"] = str(exc)
    return [record]
