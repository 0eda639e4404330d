"""CQRS invariants judged from what clients were told, held against the command side's log.

The command side's outbox (its audit) is the authority on what was accepted, in what order
and when. The clients' recorded answers (``load.record_bodies``) are what the system really
served: a write's acknowledgement (event_id, position), a read's balance, number of updates
and the position it is as of. None of these checks reads the projector's or the query side's
own telemetry (events, counters of what they believe they did).

    cqrs_acked_writes_durable   every write answered 2xx naming an update is in the log (at the
                                position it was given, if it was given one)
    cqrs_reads_consistent       every read equals the log folded up to the position it is as of:
                                no update lost, doubled or applied out of order, at any moment
    cqrs_read_staleness         how old the oldest write a read did not show was (p99 in a window),
                                and how soon after a fault ends reads show everything written before
    cqrs_relay_load             deliveries that reached the query side per accepted update, and
                                nothing left unpublished once the system is quiet
"""
from __future__ import annotations

import json
from typing import Any, Iterator

from pydantic import Field

from harness.checks import Outcome, check
from harness.checks.selection import RequestFilter, percentile
from harness.checks.windows import AnchorSpec, Windows, WindowSpec
from harness.durations import Duration
from harness.journal import History, Record
from harness.model import Spec

EXAMPLES = 10


class LogParams(Spec):
    command_service: str = Field("command", description="service whose audit lists every accepted update")
    writes: RequestFilter = Field(default_factory=lambda: RequestFilter(name="POST /accounts/[id]/deposits"))
    reads: RequestFilter = Field(default_factory=lambda: RequestFilter(name="GET /accounts/[id]"))


class Log:
    """The command side's log: per position (event_id, account, amount, created_at)."""

    def __init__(self, history: History, service: str):
        audit = history.audits().get(service)
        self.problem: str | None = None
        if not isinstance(audit, dict):
            self.problem = f"no audit of service '{service}' in this run (audits are taken only when the run completes)"
            return
        if "audit_error" in audit:
            self.problem = f"the audit of '{service}' failed: {audit['audit_error']}"
            return
        rows = audit.get("events", [])
        if rows and len(rows[0]) < 5:
            self.problem = f"the audit of '{service}' does not say when each update was written (no created_at)"
            return
        self.by_position: dict[int, tuple[str, str, int, float]] = {
            int(p): (str(e), str(a), int(amt), float(at)) for p, e, a, amt, at in rows}
        self.unpublished = int(audit.get("unpublished", 0))
        self.head = max(self.by_position, default=0)

    def fold(self, account: str, upto: int) -> tuple[int, int]:
        """(balance, updates) of ``account`` after every update at positions 1..upto."""
        balance = updates = 0
        for p in range(1, min(upto, self.head) + 1):
            event = self.by_position.get(p)
            if event is not None and event[1] == account:
                balance += event[2]
                updates += 1
        return balance, updates

    def head_at(self, t: float) -> int:
        """The last position whose write had begun by ``t``."""
        return max((p for p, e in self.by_position.items() if e[3] <= t), default=0)


def answers(history: History, flt: RequestFilter, any_2xx: bool = False) -> Iterator[tuple[Record, dict[str, Any]]]:
    """Successful requests of ``flt`` with their recorded JSON answer (cut or unparsable ones skipped).

    ``any_2xx``: every answer with a 2xx status, whatever the client made of it: an answer that
    says "accepted" is a promise to the client even if this load generator counted it as failed.
    """
    selected = flt.select(history.requests)
    rows = selected.take((selected.status >= 200) & (selected.status < 300)) if any_2xx else selected.with_outcome("ok")
    for r in rows:
        if not r.get("body") or r.get("body_truncated"):
            continue
        try:
            body = json.loads(r["body"])
        except ValueError:
            continue
        if isinstance(body, dict):
            yield r, body


@check("cqrs_acked_writes_durable", LogParams)
def acked_writes_durable(history: History, p: LogParams, windows: Windows) -> Outcome:
    """Every write answered 2xx naming an update is in the log, where it was told if it was given a position."""
    log = Log(history, p.command_service)
    if log.problem:
        return Outcome("unknown", log.problem, {})
    acked = [(r, b) for r, b in answers(history, p.writes, any_2xx=True) if "event_id" in b]
    evidence: dict[str, Any] = {"acknowledged": len(acked), "log_head": log.head,
                                "acknowledged_without_position": sum("position" not in b for _, b in acked)}
    if not acked:
        return Outcome("unknown", "no write answer was recorded (load.record_bodies off, or no write succeeded)", evidence)
    origin = windows.origin or 0.0
    logged = {e[0]: p for p, e in log.by_position.items()}
    missing = []
    for r, b in acked:
        at = logged.get(b["event_id"])
        if at is None or ("position" in b and int(b["position"]) != at):
            missing.append({"at_s": round(r["t"] - origin, 3), "status": r.get("status"), "event_id": b["event_id"],
                            "position": b.get("position"), "in_log_at": at})
    evidence.update(missing=len(missing), examples=missing[:EXAMPLES])
    if missing:
        m = missing[0]
        return Outcome("failed", f"invariant 'every acknowledged write is durable' violated: {len(missing)} of {len(acked)} "
                                 f"writes answered 2xx are not in the command side's log where they were told, e.g. "
                                 f"event {m['event_id']} (HTTP {m['status']}, position {m['position']}, t+{m['at_s']}s)",
                       evidence)
    return Outcome("passed", f"all {len(acked)} acknowledged writes are in the log at the position they were given",
                   evidence)


@check("cqrs_reads_consistent", LogParams)
def reads_consistent(history: History, p: LogParams, windows: Windows) -> Outcome:
    """Every read shows exactly the log up to the position it is as of: nothing lost, doubled, or out of order."""
    log = Log(history, p.command_service)
    if log.problem:
        return Outcome("unknown", log.problem, {})
    origin = windows.origin or 0.0
    judged, wrong = 0, []
    for r, b in answers(history, p.reads):
        if not {"account", "balance", "updates", "as_of_position"} <= set(b):
            continue
        judged += 1
        as_of = int(b["as_of_position"])
        expected = log.fold(str(b["account"]), as_of)
        if as_of > log.head or (int(b["balance"]), int(b["updates"])) != expected:
            wrong.append({"at_s": round(r["t"] - origin, 3), "account": b["account"], "as_of_position": as_of,
                          "read": {"balance": b["balance"], "updates": b["updates"]},
                          "log_up_to_that_position": {"balance": expected[0], "updates": expected[1]},
                          "beyond_log_head": as_of > log.head})
    evidence: dict[str, Any] = {"reads_judged": judged, "log_head": log.head, "inconsistent": len(wrong),
                                "examples": wrong[:EXAMPLES]}
    if not judged:
        return Outcome("unknown", "no read answer was recorded (load.record_bodies off, or no read succeeded)", evidence)
    if wrong:
        w = wrong[0]
        more = [x for x in wrong if x["read"]["balance"] > x["log_up_to_that_position"]["balance"]]
        direction = (f"{len(more)} show more than was written, {len(wrong) - len(more)} less" if more
                     else "all show less than was written")
        return Outcome("failed", f"invariant 'a read shows the log up to its position' violated by {len(wrong)} of {judged} "
                                 f"reads ({direction}); e.g. at t+{w['at_s']}s {w['account']} as of position "
                                 f"{w['as_of_position']} read {w['read']}, the log says {w['log_up_to_that_position']}",
                       evidence)
    return Outcome("passed", f"all {judged} reads equal the log folded up to the position they are as of", evidence)


class StalenessParams(LogParams):
    window: WindowSpec | None = Field(None, description="reads judged for staleness (default: before and after the faults)")
    percentile: float = Field(99.0, gt=0.0, le=100.0)
    max: Duration | None = Field(None, description="highest acceptable staleness at that percentile")
    converge_after: AnchorSpec | None = Field(None, description="a fault's end: reads must show every earlier write soon")
    within: Duration | None = Field(None, description="longest acceptable time from converge_after to such a read")
    min_reads: int = Field(20, ge=1)


def _staleness(log: Log, r: Record, b: dict[str, Any]) -> float:
    """Seconds since the oldest write the read did not show had begun (0 if it showed all)."""
    first_unseen = log.by_position.get(int(b["as_of_position"]) + 1)
    return max(0.0, r["t"] - first_unseen[3]) if first_unseen is not None else 0.0


@check("cqrs_read_staleness", StalenessParams)
def read_staleness(history: History, p: StalenessParams, windows: Windows) -> Outcome:
    """Reads lag the log by at most ``max`` (percentile); after a fault, reads show every earlier write within ``within``."""
    log = Log(history, p.command_service)
    if log.problem:
        return Outcome("unknown", log.problem, {})
    reads = [(r, b) for r, b in answers(history, p.reads) if "as_of_position" in b]
    evidence: dict[str, Any] = {}
    problems: list[str] = []
    if p.max is not None:
        specs = [p.window] if p.window is not None else ["before", "after"]
        for spec in specs:
            w = windows.resolve(spec)
            lags = sorted(_staleness(log, r, b) for r, b in reads if w.holds_request(r))
            if len(lags) < p.min_reads:
                return Outcome("unknown", f"only {len(lags)} recorded reads in '{w.label}' (need {p.min_reads})", evidence)
            value = percentile(lags, p.percentile)
            evidence[w.label] = {"reads": len(lags), f"p{p.percentile:g}_s": round(value, 3), "max_s": round(lags[-1], 3)}
            if value > p.max:
                problems.append(f"p{p.percentile:g} staleness {value:.2f}s in '{w.label}' (max {p.max:g}s)")
    if p.converge_after is not None:
        anchor = windows.anchor(p.converge_after)
        if anchor is None:
            return Outcome("unknown", f"fault '{p.converge_after.fault}' never took effect", evidence)
        required = log.head_at(anchor)
        before = [int(b["as_of_position"]) for r, b in reads if r["t"] < anchor]
        behind = required - (before[-1] if before else 0)
        seen = next((r["t"] for r, b in reads if r["t"] >= anchor and int(b["as_of_position"]) >= required), None)
        conv: dict[str, Any] = {"anchor": f"{p.converge_after.fault} {p.converge_after.edge}", "required_position": required,
                                "behind_at_anchor": behind, "within_s": p.within}
        evidence["convergence"] = conv
        if behind <= 0:
            return Outcome("unknown", f"reads were not behind when {p.converge_after.fault} {p.converge_after.edge}ed: "
                                      "the fault never held the read model back", evidence)
        if seen is None:
            problems.append(f"no read after {p.converge_after.fault} {p.converge_after.edge} ever showed position {required}")
        else:
            conv["delay_s"] = round(seen - anchor, 3)
            if p.within is not None and seen - anchor > p.within:
                problems.append(f"reads showed every write from before {p.converge_after.fault} {p.converge_after.edge} "
                                f"only {seen - anchor:.2f}s after it (bound {p.within:g}s)")
    if not evidence:
        return Outcome("unknown", "give max (a staleness bound) or converge_after (a convergence bound)", evidence)
    if problems:
        return Outcome("failed", "invariant 'reads lag the log by a bounded time' violated: " + "; ".join(problems), evidence)
    parts = [f"p{p.percentile:g} staleness {v[f'p{p.percentile:g}_s']:.2f}s in '{k}'" for k, v in evidence.items()
             if k != "convergence"]
    if "convergence" in evidence:
        c = evidence["convergence"]
        parts.append(f"reads caught up {c['behind_at_anchor']} positions {c['delay_s']:.2f}s after {c['anchor']}")
    return Outcome("passed", "; ".join(parts), evidence)


class RelayLoadParams(Spec):
    command_service: str = "command"
    query_service: str = Field("query", description="service whose audit counts the deliveries it received")
    max_ratio: float = Field(gt=0.0, description="highest acceptable deliveries received per accepted update")


@check("cqrs_relay_load", RelayLoadParams)
def relay_load(history: History, p: RelayLoadParams, windows: Windows) -> Outcome:
    """Deliveries per accepted update reaching the query side stay within ``max_ratio``; nothing is left unpublished."""
    log = Log(history, p.command_service)
    if log.problem:
        return Outcome("unknown", log.problem, {})
    query = history.audits().get(p.query_service)
    if not isinstance(query, dict) or "received" not in query:
        return Outcome("unknown", f"the audit of '{p.query_service}' does not count the deliveries it received", {})
    received = int(query["received"]["events"])
    accepted = len(log.by_position)
    evidence: dict[str, Any] = {"accepted": accepted, "deliveries_received": received,
                                "batches_received": query["received"].get("batches"), "unpublished": log.unpublished,
                                "max_ratio": p.max_ratio}
    if not accepted:
        return Outcome("unknown", "no update was accepted", evidence)
    ratio = received / accepted
    evidence["ratio"] = round(ratio, 3)
    problems = []
    if ratio > p.max_ratio:
        problems.append(f"{received} deliveries reached the query side for {accepted} accepted updates "
                        f"(x{ratio:.2f}, max x{p.max_ratio:g})")
    if log.unpublished:
        problems.append(f"{log.unpublished} accepted updates are still unpublished after the system went quiet")
    if problems:
        return Outcome("failed", "invariant 'the relay delivers each update a bounded number of times' violated: "
                                 + "; ".join(problems), evidence)
    return Outcome("passed", f"{received} deliveries for {accepted} accepted updates (x{ratio:.2f}, max x{p.max_ratio:g}); "
                             f"nothing unpublished", evidence)
