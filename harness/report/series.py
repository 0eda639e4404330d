"""The run as per-second series on one time axis: seconds since load start.

Every report (JSON timeline, HTML charts) is drawn from this one derivation so they cannot
disagree. Pure functions of a finished history; nothing here reads files or the clock.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from ..checks.selection import as_table
from ..data.table import RequestTable
from ..journal import History, Record

_EVENT_KEYS = ("kind", "t", "service", "type")


@dataclass
class Bucket:
    """One second of load, ``[second, second + 1)`` from load start, by request start time."""

    second: int
    requests: int = 0
    failures: int = 0
    indeterminate: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    max_ms: float | None = None

    @property
    def failure_pct(self) -> float | None:
        return 100.0 * self.failures / self.requests if self.requests else None

    @property
    def indeterminate_pct(self) -> float | None:
        return 100.0 * self.indeterminate / self.requests if self.requests else None


@dataclass
class FaultSpan:
    name: str
    type: str
    target: str
    applied_s: float | None
    removed_s: float | None  # None: never removed while the journal was written
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class EventRow:
    t_s: float | None
    service: str
    type: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class Timeline:
    origin: float | None  # epoch seconds of load start; None when load never started
    duration_s: float
    buckets: list[Bucket]
    faults: list[FaultSpan]
    events: list[EventRow]

    def to_dict(self) -> dict[str, Any]:
        return {"origin": self.origin, "duration_s": self.duration_s,
                "seconds": [asdict(b) for b in self.buckets]}


def bucket_requests(requests: RequestTable | Iterable[Record], start: float, end: float) -> list[Bucket]:
    """Requests per second between ``start`` and ``end`` (epoch seconds).

    Requests outside the load window are left out: they belong to setup probes, not the load.
    A request started exactly at ``end`` joins the last second rather than a one-request bucket.
    """
    s = as_table(requests).per_second(start, end)
    return [Bucket(i, int(s["requests"][i]), int(s["failures"][i]), int(s["indeterminate"][i]),
                   s["p50_ms"][i], s["p95_ms"][i], s["max_ms"][i]) for i in range(len(s["requests"]))]


def _rel(t: float | None, origin: float | None) -> float | None:
    return round(t - origin, 3) if t is not None and origin is not None else None


def fault_spans(history: History, origin: float | None) -> list[FaultSpan]:
    """Each fault's actual window (as journaled, not as planned), in order of application."""
    spans = []
    for fw in history.faults().values():
        spans.append(FaultSpan(fw.name, fw.type, fw.target, _rel(fw.applied, origin), _rel(fw.removed, origin),
                               dict(fw.record.get("attributes") or {})))
    return spans


def event_rows(history: History, origin: float | None) -> list[EventRow]:
    """Target events with their own fields apart, so a table can show whatever a target sends."""
    return [EventRow(_rel(e.get("t"), origin), str(e.get("service", "")), str(e.get("type", "")),
                     {k: v for k, v in e.items() if k not in _EVENT_KEYS})
            for e in history.events]


def build_timeline(history: History) -> Timeline:
    start, end = history.load_start, history.load_end
    if start is None or end is None:
        # No load phase (e.g. aborted during setup): no axis to place anything on, so relative
        # times stay None rather than being measured from some other, misleading origin.
        return Timeline(start, 0.0, [], fault_spans(history, start), event_rows(history, start))
    return Timeline(start, round(end - start, 3), bucket_requests(history.requests, start, end),
                    fault_spans(history, start), event_rows(history, start))
