"""CQRS invariants, checked from the run's history and the services' final state.

Loaded by the harness from ``plugins:`` in targets/cqrs/system.yaml. Three checks:

    cqrs_no_lost_updates       every update the command side accepted is in the read model
    cqrs_no_duplicate_updates  no update is applied to the read model more than once
    cqrs_convergence           after a fault ends, the read model holds every update accepted
                               before that moment within a bound

What they read (all recorded by the harness, nothing asked of the system after the fact):
  * the command side's audit: every accepted update (its transactional outbox) and balances;
  * the query side's audit: every application of an event to the read model, and balances;
  * ``update_accepted`` events (the command side's acknowledgement, emitted after commit) and
    ``projection_applied`` events (the positions each batch applied, emitted after commit);
  * the client's write requests. As in Jepsen, a write whose request timed out (``info``) is
    indeterminate: it may or may not have been accepted, so it is neither required in the
    read model nor counted as an error. The command side's own log decides what was accepted;
    the client's view bounds it from below (every write acknowledged ``ok`` must be there).
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import Field

from harness.checks import Outcome, check
from harness.checks.selection import RequestFilter
from harness.checks.windows import AnchorSpec, Windows
from harness.durations import Duration
from harness.journal import History
from harness.model import Spec

EXAMPLES = 20  # offending records quoted in evidence; the count is always complete


class UpdatesParams(Spec):
    command_service: str = Field("command", description="service whose audit lists every accepted update")
    query_service: str = Field("query", description="service whose audit lists every application to the read model")
    accepted_event: str = Field("update_accepted", description="event type the command side emits after commit")
    writes: RequestFilter | None = Field(None, description="the client's write requests, to compare acks with the log")


class Audits:
    """The two audits, parsed; ``problem`` says why the check cannot judge (-> unknown)."""

    def __init__(self, history: History, p: UpdatesParams):
        audits = history.audits()
        self.problem: str | None = None
        cmd, qry = audits.get(p.command_service), audits.get(p.query_service)
        for name, audit in ((p.command_service, cmd), (p.query_service, qry)):
            if audit is None:
                self.problem = f"no audit of service '{name}' in this run (audits are taken only when the run completes)"
            elif isinstance(audit, dict) and "audit_error" in audit:
                self.problem = f"the audit of '{name}' failed: {audit['audit_error']}"
        if self.problem:
            return
        assert isinstance(cmd, dict) and isinstance(qry, dict)
        # position, event_id, account, amount[, created_at]
        self.accepted: dict[str, tuple[int, str, int]] = {e[1]: (int(e[0]), e[2], int(e[3])) for e in cmd["events"]}
        self.applications: Counter[str] = Counter(e for _, e in qry["applied"])
        self.write_balances: dict[str, int] = {k: int(v) for k, v in cmd.get("balances", {}).items()}
        self.read_balances: dict[str, int] = {k: int(v["balance"]) for k, v in qry.get("accounts", {}).items()}

    def record(self, event_id: str, **extra: Any) -> dict[str, Any]:
        pos, acct, amt = self.accepted.get(event_id, (None, None, None))
        return {"event_id": event_id, "position": pos, "account": acct, "amount": amt, **extra}

    def balance_gaps(self) -> list[dict[str, Any]]:
        accounts = sorted(set(self.write_balances) | set(self.read_balances))
        return [{"account": a, "write_side": self.write_balances.get(a, 0), "read_side": self.read_balances.get(a, 0)}
                for a in accounts if self.write_balances.get(a, 0) != self.read_balances.get(a, 0)]


def spans(positions: list[int]) -> str:
    """[3, 4, 5, 9] -> '3-5, 9': offending positions, readable at any count."""
    out: list[list[int]] = []
    for p in sorted(set(positions)):
        if out and p == out[-1][1] + 1:
            out[-1][1] = p
        else:
            out.append([p, p])
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in out)


def _client_counts(history: History, flt: RequestFilter | None) -> dict[str, int] | None:
    if flt is None:
        return None
    reqs = flt.select(history.requests)
    return {"ok": reqs.succeeded, "failed": reqs.failed, "indeterminate": reqs.indeterminate}


@check("cqrs_no_lost_updates", UpdatesParams)
def no_lost_updates(history: History, p: UpdatesParams, windows: Windows) -> Outcome:
    """Every update the command side accepted (and every one it acknowledged) is in the read model."""
    a = Audits(history, p)
    if a.problem:
        return Outcome("unknown", a.problem, {})
    acks = {e["event_id"]: e for e in history.events if e.get("type") == p.accepted_event and "event_id" in e}
    clients = _client_counts(history, p.writes)
    evidence: dict[str, Any] = {"accepted": len(a.accepted), "acknowledged_events": len(acks),
                                "applied_distinct": len(a.applications), "client_writes": clients}
    if not a.accepted:
        return Outcome("unknown", "the command side accepted no update: nothing can be lost or kept", evidence)
    origin = windows.origin or 0.0
    lost = sorted((e for e in a.accepted if e not in a.applications), key=lambda e: a.accepted[e][0])
    unlogged = sorted(e for e in acks if e not in a.accepted)
    violations: list[str] = []
    if lost:
        evidence["lost"] = [a.record(e, accepted_at_s=round(acks[e]["t"] - origin, 3) if e in acks else None)
                            for e in lost[:EXAMPLES]]
        evidence["lost_positions"] = spans([a.accepted[e][0] for e in lost])
        violations.append(f"{len(lost)} of {len(a.accepted)} accepted updates never reached the read model "
                          f"(positions {evidence['lost_positions']}; first event {lost[0]})")
    if unlogged:
        evidence["acknowledged_not_in_log"] = [{"event_id": e, "position": acks[e].get("position")} for e in unlogged[:EXAMPLES]]
        violations.append(f"{len(unlogged)} acknowledged updates are missing from the command side's own log")
    if clients is not None and clients["ok"] > len(a.accepted):
        violations.append(f"clients got {clients['ok']} successful write answers but the command side holds only "
                          f"{len(a.accepted)} updates")
    short = [g for g in a.balance_gaps() if g["read_side"] < g["write_side"]]
    if short:
        evidence["balances_short"] = short[:EXAMPLES]
        violations.append(f"{len(short)} accounts read lower than the write side's balance")
    if violations:
        return Outcome("failed", "invariant 'no accepted update is lost' violated: " + "; ".join(violations), evidence)
    note = f"; {clients['indeterminate']} writes timed out (indeterminate, not required)" if clients else ""
    return Outcome("passed", f"all {len(a.accepted)} accepted updates are in the read model{note}", evidence)


@check("cqrs_no_duplicate_updates", UpdatesParams)
def no_duplicate_updates(history: History, p: UpdatesParams, windows: Windows) -> Outcome:
    """No event is applied to the read model more than once, and none that was never accepted."""
    a = Audits(history, p)
    if a.problem:
        return Outcome("unknown", a.problem, {})
    evidence: dict[str, Any] = {"accepted": len(a.accepted), "applications": sum(a.applications.values()),
                                "applied_distinct": len(a.applications)}
    if not a.applications:
        return Outcome("unknown", "the read model applied no update: duplicates cannot be judged", evidence)
    twice = sorted((e for e, n in a.applications.items() if n > 1), key=lambda e: a.accepted.get(e, (0,))[0])
    phantom = sorted(e for e in a.applications if e not in a.accepted)
    violations: list[str] = []
    if twice:
        evidence["applied_more_than_once"] = [a.record(e, times=a.applications[e]) for e in twice[:EXAMPLES]]
        evidence["duplicate_positions"] = spans([a.accepted[e][0] for e in twice if e in a.accepted])
        extra = sum(a.applications[e] - 1 for e in twice)
        violations.append(f"{len(twice)} updates applied more than once ({extra} extra applications; positions "
                          f"{evidence['duplicate_positions']}; first event {twice[0]})")
    if phantom:
        evidence["never_accepted"] = phantom[:EXAMPLES]
        violations.append(f"{len(phantom)} applied updates were never accepted by the command side")
    over = [g for g in a.balance_gaps() if g["read_side"] > g["write_side"]]
    if over:
        evidence["balances_over"] = over[:EXAMPLES]
        violations.append(f"{len(over)} accounts read higher than the write side's balance")
    if violations:
        return Outcome("failed", "invariant 'each update is applied at most once' violated: " + "; ".join(violations),
                       evidence)
    return Outcome("passed", f"{len(a.applications)} updates applied, each exactly once", evidence)


class ConvergenceParams(Spec):
    after: AnchorSpec = Field(description="the moment convergence is measured from, usually {fault: F, edge: end}")
    within: Duration = Field(description="longest acceptable time until the read model holds every earlier update")
    accepted_event: str = "update_accepted"
    applied_event: str = Field("projection_applied", description="event with 'positions': [[first, last], ...] applied")


@check("cqrs_convergence", ConvergenceParams)
def convergence(history: History, p: ConvergenceParams, windows: Windows) -> Outcome:
    """Every update accepted before the anchor is applied to the read model within ``within`` after it."""
    anchor = windows.anchor(p.after)
    evidence: dict[str, Any] = {"anchor": f"{p.after.fault} {p.after.edge}", "within_s": p.within}
    if anchor is None:
        return Outcome("unknown", f"fault '{p.after.fault}' never {'started' if p.after.edge == 'start' else 'ended'}",
                       evidence)
    origin = windows.origin or anchor
    evidence["anchor_at_s"] = round(anchor - origin, 3)
    required = {int(e["position"]) for e in history.events
                if e.get("type") == p.accepted_event and e["t"] <= anchor and "position" in e}
    evidence["required"] = len(required)
    if not required:
        return Outcome("unknown", f"no update was accepted before {p.after.fault} {p.after.edge}", evidence)
    missing = set(required)
    converged_at: float | None = None
    for e in history.events:
        if e.get("type") != p.applied_event:
            continue
        if e["t"] > anchor and "lag_at_anchor" not in evidence:
            evidence["lag_at_anchor"] = len(missing)
            if not missing:
                break
        for first, last in e.get("positions", []):
            missing.difference_update(range(int(first), int(last) + 1))
        if not missing and e["t"] > anchor:
            converged_at = e["t"]
            break
    evidence.setdefault("lag_at_anchor", len(missing) if converged_at is None else 0)
    if evidence["lag_at_anchor"] == 0:
        return Outcome("unknown", f"the read model was not behind when {p.after.fault} {p.after.edge}ed: "
                                  "the fault never held the projection back, so convergence was not exercised", evidence)
    if converged_at is None:
        evidence["missing_positions"] = spans(sorted(missing))
        return Outcome("failed", f"invariant 'the read model converges' violated: {len(missing)} of {len(required)} "
                                 f"updates accepted before {p.after.fault} {p.after.edge} were never applied "
                                 f"(positions {evidence['missing_positions']})", evidence)
    delay = converged_at - anchor
    evidence["delay_s"] = round(delay, 3)
    verdict = "passed" if delay <= p.within else "failed"
    return Outcome(verdict, f"read model held all {len(required)} earlier updates {delay:.2f}s after "
                            f"{p.after.fault} {p.after.edge} (was {evidence['lag_at_anchor']} behind; bound {p.within:g}s)",
                   evidence)
