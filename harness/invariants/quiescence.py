"""Wait until the system has gone quiet, then record what its audits read.

Called after load stopped and every fault was removed. The audits are read every
``interval``; the system is quiet once every audit has read the same (and without error)
for ``quiet`` seconds. Sagas still compensating, outboxes still draining and retries still
in flight all change what the audits read, so an invariant is judged on the settled state,
not on a snapshot of work in progress. A system that is still changing after ``timeout``
never settled: that is recorded (``settled: false``) and the invariant check reports it.

Records written (journal kinds):
    quiescence        settled, waited_s, polls, quiet_s, timeout_s, still_changing [audit names]
    invariant_audit   audit, source (sql|http), service, value | error     (the last read of each)
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..journal import Record
from .read import AuditError, AuditReader
from .spec import AuditSpec, QuiescenceSpec


@dataclass
class Snapshot:
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def fingerprint(self) -> dict[str, str]:
        return {name: _fingerprint(v) for name, v in self.values.items()} | {n: "error" for n in self.errors}


def _fingerprint(value: Any) -> str:
    # A query without ORDER BY may return the same rows in another order: that is no change.
    if isinstance(value, list):
        return json.dumps(sorted(json.dumps(v, sort_keys=True, default=str) for v in value))
    return json.dumps(value, sort_keys=True, default=str)


def read_all(reader: AuditReader, names: Iterable[str]) -> Snapshot:
    snap = Snapshot()
    for name in names:
        try:
            snap.values[name] = reader.read(name)
        except AuditError as exc:
            snap.errors[name] = str(exc)
    return snap


def settle(reader: AuditReader, names: list[str], spec: QuiescenceSpec, *,
           clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
           ) -> tuple[Snapshot, dict[str, Any]]:
    """Poll until quiet (or timeout); the last snapshot and the ``quiescence`` record's fields."""
    start = clock()
    polls = 0
    last: dict[str, str] | None = None
    quiet_since = start
    changed_at: dict[str, float] = {}
    while True:
        snap = read_all(reader, names)
        polls += 1
        now = clock()
        fp = snap.fingerprint()
        if last is None or fp != last:
            for name in names:
                if last is None or fp.get(name) != last.get(name):
                    changed_at[name] = now
            quiet_since = now
            last = fp
        if not snap.errors and now - quiet_since >= spec.quiet:
            return snap, _summary(True, now - start, polls, spec, [])
        if now - start >= spec.timeout:
            # What moved within the last quiet period (or failed to read) kept the system from settling.
            changing = sorted(n for n in names if n in snap.errors or now - changed_at.get(n, start) < spec.quiet)
            return snap, _summary(False, now - start, polls, spec, changing)
        sleep(spec.interval)


def _summary(settled: bool, waited: float, polls: int, spec: QuiescenceSpec, changing: list[str]) -> dict[str, Any]:
    return {"settled": settled, "waited_s": round(waited, 3), "polls": polls, "quiet_s": spec.quiet,
            "timeout_s": spec.timeout, "still_changing": changing}


def audit_after_quiescence(audits: dict[str, AuditSpec], names: list[str], spec: QuiescenceSpec,
                           service_url: Callable[[str], str]) -> list[Record]:
    """Settle, then one ``quiescence`` record and one ``invariant_audit`` record per audit."""
    reader = AuditReader(audits, service_url)
    try:
        snap, summary = settle(reader, names, spec)
    finally:
        reader.close()
    records: list[Record] = [{"kind": "quiescence", "t": time.time(), **summary}]
    for name in names:
        src = audits[name].source
        rec: Record = {"kind": "invariant_audit", "t": time.time(), "audit": name,
                       "source": "sql" if audits[name].sql is not None else "http", "service": src.service}
        if name in snap.errors:
            rec["error"] = snap.errors[name]
        else:
            rec["value"] = snap.values[name]
        records.append(rec)
    return records
