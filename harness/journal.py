"""The run's history: ``journal.jsonl`` (one JSON object per line) and ``requests/``.

Everything that happened lands in the run folder with an epoch timestamp ``t``. Requests,
the bulk of a run, are stored once, as columns, by the load process itself, in
``requests/<writer>.hreq`` (format: :mod:`harness.data.chunks`; one file per load process, so
Locust workers can each write their own). Everything else (faults applied and removed, target
events, phases, service starts and stops, audits) is a line of ``journal.jsonl``. Checks and
reports read only the finished history (:func:`read_journal` reads both), so a report can
always be re-rendered from the run folder. Journals written before requests had their own
files (request lines in ``journal.jsonl``) are still read.

Record kinds (field ``kind``):
    run_started       experiment, system, seed, defect, runtime, config
    phase             phase (setup, load, teardown, ...)
    service_started   service, url, pid
    service_stopped   service, returncode
    proxy_created     edge, listen, upstream
    load_started / load_stopped
    request           (in ``requests/``; read as :class:`harness.data.RequestTable` columns)
                      t, name, method, ms, outcome (ok|fail|info), status, error, bytes
                      (``t`` is when the request started; ``info`` = outcome unknown, e.g. timed out)
                      with ``load.record_bodies`` > 0 also body (text, first N bytes) and body_truncated
    fault_applied     fault, type, target, attributes, stream, toxicity, took_ms (``t`` = when asked)
    fault_removed     fault
    fault_error       fault, action, error (action ``traffic``: an HTTP fault met traffic that is not HTTP)
    fault_traffic     fault, requests, faulted, passed, not_http_connections (what an HTTP fault saw), or error
    event             service, type, ...fields (a resilience event the target reported)
    audit             service, state (the service's own account of its state at the end)
    prometheus_started     url, pid, scrape_interval, config, targets (what PromQL checks query)
    prometheus_unavailable reason (no binary, turned off, failed to start: quoted by PromQL checks)
    prometheus_scraping    waited_s, targets, targets_scraped (every target scraped once before load)
    prometheus_stopped
    metric_series     query, window, start, end, step, url, series [{labels, values [[t, v]]}] or error
                      (collected from Prometheus before the runtime stops; read by ``promql`` checks)
    collect_error     check, error (a check type's collect step crashed)
    edge_counters     edges {edge: {up_in, up_out, down_in, down_out}} (Toxiproxy's cumulative bytes, every second)
    edge_counters_error  error (Toxiproxy's metrics could not be read)
    cell_started / cell_finished   cell, index, fault, matrix_fault, target, ... (``harness explore``: one
                      cell of the fault matrix; its load's own start and stop are segment_started /
                      segment_stopped, the explore's load_started / load_stopped span every cell)
    invariants_declared  invariants {name: {expect, description, audits}} (the manifest's text, judged later)
    quiescence        settled, waited_s, polls, quiet_s, timeout_s, still_changing (after load and faults stopped)
    invariant_audit   audit, source (sql|http), service, value | error (an audit's last read, once quiet)
    run_finished      status
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, TextIO

if TYPE_CHECKING:
    from .data.table import RequestTable

Record = dict[str, Any]
REQUESTS_DIR = "requests"
"""The folder of a run (beside ``journal.jsonl``) where load processes write their request files."""


class JournalWriter:
    """Appends records; flushes often so an interrupted run keeps what it recorded."""

    def __init__(self, path: Path):
        self.path = path
        # "w": a run folder reused with the same --out holds this run only, never a mix.
        self._file: TextIO = path.open("w", encoding="utf-8")
        self._last_flush = time.monotonic()
        self.count = 0
        self.records: list[Record] = []
        """Every record written, as it reads back from the file (requests live in ``requests/``,
        so these are few): the history so far, without reading the file again."""

    def write(self, kind: str, t: float | None = None, **fields: Any) -> Record:
        record = {"kind": kind, "t": time.time() if t is None else t, **fields}
        self.write_record(record)
        return record

    def write_record(self, record: Record) -> None:
        line = json.dumps(record, separators=(",", ":"), default=str)
        self._file.write(line + "\n")
        if record.get("kind") != "request":  # requests go to requests/; never kept here
            self.records.append(json.loads(line))
        self.count += 1
        now = time.monotonic()
        if now - self._last_flush > 0.5 or record.get("kind") != "request":
            self._file.flush()
            self._last_flush = now

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            self._file.close()


@dataclass
class FaultWindow:
    name: str
    type: str
    target: str
    applied: float | None
    removed: float | None
    record: Record = field(default_factory=dict)


class History:
    """A read-only view of a finished run with the accessors checks need.

    ``requests`` is a :class:`harness.data.RequestTable` (columns, sorted by start time): select
    windows and endpoints on it, and iterate it only for rare per-request needs. ``records``
    holds every other record in journal order, ``events`` the target events by time.
    """

    def __init__(self, records: Iterable[Record], requests: "RequestTable | None" = None):
        from .data.table import RequestTable

        self.records: list[Record] = []
        inline: list[Record] = []
        for r in records:
            (inline if r.get("kind") == "request" else self.records).append(r)
        # Request dicts (tests; journals from before requests/) join the table, never stay as dicts.
        self.requests: RequestTable = RequestTable.concat(
            [*([requests] if requests is not None else []), RequestTable.from_records(inline)])
        self.events: list[Record] = [r for r in self.records if r["kind"] == "event"]
        self.events.sort(key=lambda r: r["t"])

    def first(self, kind: str) -> Record | None:
        return next((r for r in self.records if r["kind"] == kind), None)

    def of_kind(self, kind: str) -> Iterator[Record]:
        return (r for r in self.records if r["kind"] == kind)

    @property
    def run(self) -> Record:
        return self.first("run_started") or {}

    @property
    def load_start(self) -> float | None:
        r = self.first("load_started")
        return r["t"] if r else None

    @property
    def load_end(self) -> float | None:
        r = self.first("load_stopped")
        if r:
            return float(r["t"])
        return float(self.requests.t[-1]) if len(self.requests) else None

    def faults(self) -> dict[str, FaultWindow]:
        out: dict[str, FaultWindow] = {}
        for r in self.records:
            if r["kind"] == "fault_applied":
                out[r["fault"]] = FaultWindow(r["fault"], r.get("type", ""), r.get("target", ""), r["t"], None, r)
            elif r["kind"] == "fault_removed" and r["fault"] in out:
                # The fault ends when its removal is done, not when it was asked for: removing
                # a slicer waits for the data it holds to drip out (seconds, Toxiproxy #558),
                # and the fault acts all that time. Windows after it start from there.
                out[r["fault"]].removed = r["t"] + float(r.get("took_ms") or 0) / 1000
        return out

    def audits(self) -> dict[str, Any]:
        return {r["service"]: r.get("state") for r in self.of_kind("audit")}


def read_journal(path: str | Path) -> History:
    """The history of a run: ``journal.jsonl`` at ``path`` and the ``requests/`` folder beside it.

    Each file is read once. A line or a request chunk cut by a crash is skipped; the rest counts.
    """
    from .data.table import read_requests

    records = []
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by a crash; the rest of the history still counts
    return History(records, read_requests(Path(path).parent / REQUESTS_DIR))
