"""Event-sourcing invariants, checked after the run from the journal: the command handler's
``event_acked`` target events, the request records, and the end-of-run audits (the whole
event log from the command handler; the projection and its checkpoint from the projector).

    es_acked_events_durable        no acknowledged event is lost: every acked event is in the log
    es_no_duplicate_events         one command, at most one event; versions run 1..n per stream
    es_replay_matches_projection   folding the log gives exactly the live projection

Reasoning about indeterminate commands (Jepsen's ``info``): a command that timed out may or
may not have appended its event. It is not required in the log, but if it is there it must
be there once, so a client's retry of it (same idempotency key) must not add a second event.
The handler prints ``event_acked`` before it answers, so every answer the client received
has its ack in the journal; an ack whose answer was lost on the way still promised the event.
"""
from __future__ import annotations

from typing import Any

from pydantic import Field

from harness.checks import Outcome, check
from harness.checks.selection import RequestFilter
from harness.data import OK
from harness.journal import History
from harness.model import Spec


class LogParams(Spec):
    store: str = Field("commands", description="the service whose audit holds the event log")
    ack_event: str = Field("event_acked", description="target event type the store prints per acknowledged event")
    max_examples: int = Field(10, ge=1, description="offending records quoted in the evidence")


class DuplicateParams(LogParams):
    min_idempotent_replays: int = Field(0, ge=0, description="fewer retried commands answered from the log than "
                                        "this, and no duplicate -> unknown: the faults never exercised idempotency")


class AckedParams(LogParams):
    commands: RequestFilter = Field(default_factory=lambda: RequestFilter(name_regex="^POST "),
                                    description="requests that are commands; a 200 answer acknowledges an event")


class ReplayParams(LogParams):
    projection: str = Field("projector", description="the service whose audit holds the projection")


def _audit(history: History, service: str, key: str) -> tuple[Any, Outcome | None]:
    state = history.audits().get(service)
    if not isinstance(state, dict):
        return None, Outcome("unknown", f"no audit of '{service}' in the journal (the run did not complete, or the "
                                        f"service has no audit: path)", {"audited": sorted(history.audits())})
    if "audit_error" in state:
        return None, Outcome("unknown", f"the audit of '{service}' failed: {state['audit_error']}", {})
    if key not in state:
        return None, Outcome("unknown", f"the audit of '{service}' has no '{key}'", {"keys": sorted(state)})
    return state, None


def _log(history: History, p: LogParams) -> tuple[list[dict[str, Any]], Outcome | None]:
    state, unknown = _audit(history, p.store, "events")
    if unknown:
        return [], unknown
    if not state["events"]:
        return [], Outcome("unknown", f"the event log of '{p.store}' is empty: no command reached it", {})
    return sorted(state["events"], key=lambda e: e["seq"]), None


def _brief(e: dict[str, Any]) -> dict[str, Any]:
    return {k: e.get(k) for k in ("event_id", "stream_id", "version", "seq", "command_id")}


@check("es_acked_events_durable", AckedParams)
def es_acked_events_durable(history: History, p: AckedParams, windows: Any) -> Outcome:
    """Every event the store acknowledged is in the log, at the stream, version and position it acked."""
    log, unknown = _log(history, p)
    if unknown:
        return unknown
    acks = [e for e in history.events if e.get("type") == p.ack_event and e.get("service") == p.store]
    reqs = p.commands.select(history.requests)
    answered = int(((reqs.outcome == OK) & (reqs.status == 200)).sum())
    evidence: dict[str, Any] = {
        "log_events": len(log), "acks": len(acks), "acks_replayed": sum(1 for a in acks if a.get("replayed")),
        "commands": {"answered_200": answered, "indeterminate": reqs.indeterminate, "failed": reqs.failed}}
    if not acks:
        return Outcome("unknown", f"no '{p.ack_event}' events from '{p.store}': nothing was acknowledged, or the "
                                  f"target does not report its acks", evidence)
    if answered > len(acks):
        return Outcome("unknown", f"{answered} commands were answered 200 but only {len(acks)} acks were reported: "
                                  f"the target does not report every ack, so a lost one cannot be told", evidence)
    by_id = {e["event_id"]: e for e in log}
    lost = []
    for ack in acks:
        found = by_id.get(ack.get("event_id"))
        if found is None or any(found.get(k) != ack.get(k) for k in ("seq", "version")) \
                or found.get("stream_id") != ack.get("stream"):
            lost.append({"acked": {**_brief(ack), "stream_id": ack.get("stream")},
                         "in_log": _brief(found) if found else None})
    evidence["lost"] = len(lost)
    evidence["examples"] = lost[:p.max_examples]
    if lost:
        first = lost[0]["acked"]
        return Outcome("failed", f"invariant 'no acknowledged event is lost' violated: {len(lost)} of {len(acks)} acked "
                                 f"events are missing from the log or moved, e.g. event {first['event_id']} "
                                 f"({first['stream_id']} v{first['version']}, seq {first['seq']}, {first['command_id']})",
                       evidence)
    return Outcome("passed", f"all {len(acks)} acknowledged events are in the log ({len(log)} events); "
                             f"{evidence['commands']['indeterminate']} indeterminate commands may or may not be", evidence)


@check("es_no_duplicate_events", DuplicateParams)
def es_no_duplicate_events(history: History, p: DuplicateParams, windows: Any) -> Outcome:
    """One command makes at most one event; event ids are unique; each stream's versions run 1..n."""
    log, unknown = _log(history, p)
    if unknown:
        return unknown
    by_command: dict[tuple[str, str], list[dict[str, Any]]] = {}
    by_id: dict[str, int] = {}
    versions: dict[str, list[int]] = {}
    for e in log:
        by_command.setdefault((e["stream_id"], e["command_id"]), []).append(e)
        by_id[e["event_id"]] = by_id.get(e["event_id"], 0) + 1
        versions.setdefault(e["stream_id"], []).append(e["version"])
    duplicates = [{"stream_id": s, "command_id": c, "events": [_brief(e) for e in es]}
                  for (s, c), es in by_command.items() if len(es) > 1]
    same_id = sorted(i for i, n in by_id.items() if n > 1)
    broken = {s: v for s, v in versions.items() if sorted(v) != list(range(1, len(v) + 1))}
    acks = [e for e in history.events if e.get("type") == p.ack_event and e.get("service") == p.store]
    evidence: dict[str, Any] = {"log_events": len(log), "commands": len(by_command), "streams": len(versions),
                                "idempotent_replays_acked": sum(1 for a in acks if a.get("replayed")),
                                "duplicated_commands": len(duplicates), "examples": duplicates[:p.max_examples],
                                "duplicate_event_ids": same_id[:p.max_examples],
                                "streams_with_broken_versions": {s: sorted(v)[:20] for s, v in list(broken.items())[:5]}}
    if duplicates or same_id or broken:
        parts = []
        if duplicates:
            d = duplicates[0]
            where = ", ".join(f"v{e['version']} seq {e['seq']} ({e['event_id']})" for e in d["events"])
            parts.append(f"{len(duplicates)} commands appended more than once, e.g. {d['command_id']} in {d['stream_id']}: {where}")
        if same_id:
            parts.append(f"{len(same_id)} event ids appear twice, e.g. {same_id[0]}")
        if broken:
            parts.append(f"{len(broken)} streams whose versions are not 1..n, e.g. {next(iter(broken))}")
        return Outcome("failed", "invariant 'no event is duplicated' violated: " + "; ".join(parts), evidence)
    if evidence["idempotent_replays_acked"] < p.min_idempotent_replays:
        return Outcome("unknown", f"no duplicates, but only {evidence['idempotent_replays_acked']} retried commands were "
                                  f"answered from the log (need {p.min_idempotent_replays}): no append's outcome was "
                                  f"made unknown, so idempotency was never put to the test", evidence)
    return Outcome("passed", f"{len(log)} events from {len(by_command)} commands, each once; versions contiguous in "
                             f"all {len(versions)} streams ({evidence['idempotent_replays_acked']} retried commands "
                             f"answered from the log)", evidence)


@check("es_replay_matches_projection", ReplayParams)
def es_replay_matches_projection(history: History, p: ReplayParams, windows: Any) -> Outcome:
    """Folding the log up to the projection's checkpoint gives the projection, and the checkpoint is the log's end."""
    log, unknown = _log(history, p)
    if unknown:
        return unknown
    proj, unknown = _audit(history, p.projection, "accounts")
    if unknown:
        return unknown
    checkpoint = int(proj.get("checkpoint") or 0)
    replayed: dict[str, dict[str, int]] = {}
    for e in log:
        if e["seq"] > checkpoint:
            break
        acc = replayed.setdefault(e["stream_id"], {"balance": 0, "version": 0, "events": 0})
        acc["balance"] += e["amount"] if e["type"] == "deposited" else -e["amount"]
        acc["version"], acc["events"] = e["version"], acc["events"] + 1
    live = {a["stream_id"]: {k: a[k] for k in ("balance", "version", "events")} for a in proj["accounts"]}
    differ = [{"stream_id": s, "replayed": replayed.get(s), "projected": live.get(s)}
              for s in sorted(set(replayed) | set(live)) if replayed.get(s) != live.get(s)]
    head = log[-1]["seq"]
    evidence: dict[str, Any] = {"log_events": len(log), "log_head_seq": head, "projection_checkpoint": checkpoint,
                                "streams": len(replayed), "differing_streams": len(differ), "examples": differ[:p.max_examples]}
    problems = []
    if differ:
        d = differ[0]
        problems.append(f"{len(differ)} of {len(set(replayed) | set(live))} accounts differ, e.g. {d['stream_id']}: "
                        f"replay {d['replayed']} vs projection {d['projected']}")
    if checkpoint != head:
        problems.append(f"the projection's checkpoint is seq {checkpoint} but the log ends at seq {head}"
                        + (f" ({head - checkpoint} events never projected)" if checkpoint < head else ""))
    if problems:
        return Outcome("failed", "invariant 'replaying the log gives the live projection' violated: " + "; ".join(problems),
                       evidence)
    return Outcome("passed", f"replaying {len(log)} events gives the projection of all {len(replayed)} accounts "
                             f"(checkpoint = log head = seq {head})", evidence)
