"""Event-sourcing invariants judged from what clients were told, held against the event log.

The log (the command handler's audit: every event, in global order) is the authority. The
clients' recorded answers (``load.record_bodies``) are what the system really said: the event
a command was acknowledged with, the balance and version a projection read returned. Nothing
here reads the handler's own ``event_acked`` reports or the projector's checkpoint.

    es_client_acks_durable          every command answered 200 names an event that is in the log,
                                    at the stream, version and position it was answered with
    es_projection_reads_consistent  every projected balance read equals the stream folded up to the
                                    version it is as of: never a balance the log never had
    es_balances_never_negative      folding each stream in version order never goes below zero: no
                                    withdrawal was decided on a balance that was already spent
"""
from __future__ import annotations

import json
from typing import Any, Iterator

from pydantic import Field

from harness.checks import Outcome, check
from harness.checks.selection import RequestFilter
from harness.journal import History, Record
from harness.model import Spec


class ClientParams(Spec):
    store: str = Field("commands", description="the service whose audit holds the event log")
    commands: RequestFilter = Field(default_factory=lambda: RequestFilter(name_regex="^POST "))
    reads: RequestFilter = Field(default_factory=lambda: RequestFilter(name="GET /accounts/[id]"))
    max_examples: int = Field(10, ge=1)


def _log(history: History, store: str) -> tuple[list[dict[str, Any]], Outcome | None]:
    state = history.audits().get(store)
    if not isinstance(state, dict):
        return [], Outcome("unknown", f"no audit of '{store}' in the journal (the run did not complete)", {})
    if "audit_error" in state:
        return [], Outcome("unknown", f"the audit of '{store}' failed: {state['audit_error']}", {})
    events = sorted(state.get("events", []), key=lambda e: e["seq"])
    if not events:
        return [], Outcome("unknown", f"the event log of '{store}' is empty: no command reached it", {})
    return events, None


def answers(history: History, flt: RequestFilter) -> Iterator[tuple[Record, dict[str, Any]]]:
    """Requests answered 200 with their recorded JSON body (cut or unparsable bodies skipped)."""
    selected = flt.select(history.requests)
    for r in selected.take(selected.status == 200):
        if not r.get("body") or r.get("body_truncated"):
            continue
        try:
            body = json.loads(r["body"])
        except ValueError:
            continue
        if isinstance(body, dict):
            yield r, body


def _delta(e: dict[str, Any]) -> int:
    return int(e["amount"]) if e["type"] == "deposited" else -int(e["amount"])


def _streams(log: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for e in log:
        out.setdefault(e["stream_id"], []).append(e)
    for events in out.values():
        events.sort(key=lambda e: e["version"])
    return out


@check("es_client_acks_durable", ClientParams)
def client_acks_durable(history: History, p: ClientParams, windows: Any) -> Outcome:
    """Every command answered 200 names an event that is in the log exactly where the answer said."""
    log, unknown = _log(history, p.store)
    if unknown:
        return unknown
    by_id = {e["event_id"]: e for e in log}
    origin = windows.origin or 0.0
    acked, lost = 0, []
    for r, b in answers(history, p.commands):
        if "event_id" not in b:
            continue
        acked += 1
        found = by_id.get(b["event_id"])
        if found is None or any(found.get(k) != b.get(k) for k in ("stream_id", "version", "seq")):
            lost.append({"at_s": round(r["t"] - origin, 3), "answered": {k: b.get(k) for k in ("event_id", "stream_id", "version",
                                                                                                 "seq", "command_id")},
                         "in_log": {k: found.get(k) for k in ("stream_id", "version", "seq")} if found else None})
    evidence: dict[str, Any] = {"answered_200": acked, "log_events": len(log), "lost": len(lost),
                                "examples": lost[:p.max_examples]}
    if not acked:
        return Outcome("unknown", "no command answer was recorded (load.record_bodies off, or none succeeded)", evidence)
    if lost:
        first = lost[0]["answered"]
        return Outcome("failed", f"invariant 'no acknowledged event is lost' violated: {len(lost)} of {acked} commands answered "
                                 f"200 name an event the log does not hold there, e.g. {first['event_id']} "
                                 f"({first['stream_id']} v{first['version']}, seq {first['seq']}, {first['command_id']})",
                       evidence)
    return Outcome("passed", f"all {acked} commands answered 200 name events the log holds where they said", evidence)


@check("es_projection_reads_consistent", ClientParams)
def projection_reads_consistent(history: History, p: ClientParams, windows: Any) -> Outcome:
    """Every projected read equals its stream folded up to the version it reports."""
    log, unknown = _log(history, p.store)
    if unknown:
        return unknown
    streams = _streams(log)
    origin = windows.origin or 0.0
    judged, wrong = 0, []
    for r, b in answers(history, p.reads):
        if not {"stream_id", "balance_cents", "version"} <= set(b):
            continue
        judged += 1
        events = streams.get(b["stream_id"], [])
        version = int(b["version"])
        expected = sum(_delta(e) for e in events if e["version"] <= version)
        if version > len(events) or int(b["balance_cents"]) != expected:
            wrong.append({"at_s": round(r["t"] - origin, 3), "stream_id": b["stream_id"], "version": version,
                          "read_balance": b["balance_cents"], "log_balance_at_that_version": expected,
                          "log_versions": len(events)})
    evidence: dict[str, Any] = {"reads_judged": judged, "inconsistent": len(wrong), "examples": wrong[:p.max_examples]}
    if not judged:
        return Outcome("unknown", "no projection read was recorded (load.record_bodies off, or none succeeded)", evidence)
    if wrong:
        w = wrong[0]
        return Outcome("failed", f"invariant 'a projection read equals the log up to its version' violated by {len(wrong)} of "
                                 f"{judged} reads, e.g. at t+{w['at_s']}s {w['stream_id']} v{w['version']} read "
                                 f"{w['read_balance']}, the log folds to {w['log_balance_at_that_version']}", evidence)
    return Outcome("passed", f"all {judged} projection reads equal the log folded up to their version", evidence)


@check("es_balances_never_negative", ClientParams)
def balances_never_negative(history: History, p: ClientParams, windows: Any) -> Outcome:
    """Folding each stream in version order never goes below zero."""
    log, unknown = _log(history, p.store)
    if unknown:
        return unknown
    negative, withdrawals = [], 0
    for stream, events in _streams(log).items():
        balance = 0
        for e in events:
            withdrawals += e["type"] == "withdrawn"
            balance += _delta(e)
            if balance < 0:
                negative.append({"stream_id": stream, "version": e["version"], "seq": e["seq"], "event_id": e["event_id"],
                                 "command_id": e["command_id"], "balance_after": balance})
                break
    evidence: dict[str, Any] = {"streams": len(_streams(log)), "withdrawals": withdrawals, "overdrawn_streams": len(negative),
                                "examples": negative[:p.max_examples]}
    if not withdrawals:
        return Outcome("unknown", "no withdrawal was ever appended: overdrawing was never possible", evidence)
    if negative:
        n = negative[0]
        return Outcome("failed", f"invariant 'a balance never goes negative' violated in {len(negative)} streams, e.g. "
                                 f"{n['stream_id']} reaches {n['balance_after']} at v{n['version']} (seq {n['seq']}, "
                                 f"{n['command_id']})", evidence)
    return Outcome("passed", f"{withdrawals} withdrawals in {evidence['streams']} streams; no balance ever went negative",
                   evidence)
