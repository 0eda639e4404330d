"""Saga invariants, checked after the run from the journal: request records plus the end-of-run
audit of each service (the orchestrator's sagas with their step logs, and each participant's
charges, reservations, shipments, balances and stock).

    saga_terminal             every saga ends completed or compensated; every acknowledged order is a saga
    saga_compensation_order   a saga compensates exactly the steps that ran, in reverse order
    saga_no_orphans           no charge, reservation or shipment outlives its saga; completed sagas hold all three
    saga_conservation         stock and money are conserved: what left is what completed orders took

A request whose outcome is unknown (``info``: it timed out) is indeterminate: its order may or
may not be a saga, and if it is, the saga is held to the same invariants as any other. Only
acknowledged (``ok``) requests put a lower bound on the sagas that must exist.
"""
from __future__ import annotations

from typing import Any

from pydantic import Field

from harness.checks import Outcome, check
from harness.checks.selection import RequestFilter
from harness.journal import History
from harness.model import Spec

ENDED = ("completed", "compensated")
ACTIVE = {"payments": ("charges", "charged"), "inventory": ("reservations", "reserved"), "shipping": ("shipments", "scheduled")}
"""Participant -> (audit list, the status that means 'this saga still holds it')."""
ACTIVE_NAME = {"payments": "charge", "inventory": "reservation", "shipping": "shipment"}


class SagaAuditParams(Spec):
    orchestrator: str = Field("orchestrator", description="the service whose audit lists the sagas")
    inventory: str = "inventory"
    payments: str = "payments"
    shipping: str = "shipping"
    max_examples: int = Field(10, ge=1, description="offending records quoted in the evidence")


class SagaTerminalParams(SagaAuditParams):
    acknowledged: RequestFilter = Field(default_factory=lambda: RequestFilter(name_regex="^POST /orders"),
                                        description="requests that each place a distinct order when they succeed")


def _audits(history: History, p: SagaAuditParams, *roles: str) -> tuple[dict[str, Any], Outcome | None]:
    """The audits a check needs, or the reason it cannot judge (-> unknown)."""
    found: dict[str, Any] = {}
    audits = history.audits()
    for role in ("orchestrator", *roles):
        service = getattr(p, role)
        state = audits.get(service)
        if not isinstance(state, dict):
            return {}, Outcome("unknown", f"no audit of '{service}' in the journal (the run did not complete, or the "
                                          f"service has no audit: path)", {"audited": sorted(audits)})
        if "audit_error" in state:
            return {}, Outcome("unknown", f"the audit of '{service}' failed: {state['audit_error']}", {})
        found[role] = state
    if not found["orchestrator"].get("sagas"):
        return {}, Outcome("unknown", f"'{p.orchestrator}' recorded no sagas: no order reached it", {})
    return found, None


def _label(saga: dict[str, Any]) -> str:
    reason = f" ({saga['reason']})" if saga.get("reason") else ""
    return f"{saga['id']}: {saga['state']}{reason}"


@check("saga_terminal", SagaTerminalParams)
def saga_terminal(history: History, p: SagaTerminalParams, windows: Any) -> Outcome:
    """Every saga ends completed or compensated, and every acknowledged order is one of them."""
    audits, unknown = _audits(history, p)
    if unknown:
        return unknown
    sagas = audits["orchestrator"]["sagas"]
    states: dict[str, int] = {}
    for s in sagas:
        states[s["state"]] = states.get(s["state"], 0) + 1
    stuck = [s for s in sagas if s["state"] not in ENDED]
    reqs = p.acknowledged.select(history.requests)
    acked = reqs.succeeded
    evidence: dict[str, Any] = {
        "sagas": len(sagas), "states": states, "in_flight_at_audit": audits["orchestrator"].get("in_flight", []),
        "order_requests": {"acknowledged": acked, "indeterminate": reqs.indeterminate, "failed": reqs.failed},
        "not_ended": [{"saga": s["id"], "state": s["state"], "reason": s.get("reason"), "log": s.get("log", [])}
                      for s in stuck[:p.max_examples]],
    }
    problems = []
    if stuck:
        problems.append(f"{len(stuck)} of {len(sagas)} sagas did not end completed or compensated: "
                        + ", ".join(_label(s) for s in stuck[:3]) + (" ..." if len(stuck) > 3 else ""))
    if acked > len(sagas):
        problems.append(f"{acked} orders were acknowledged but the orchestrator knows only {len(sagas)} sagas: "
                        f"acknowledged orders were lost")
    if problems:
        return Outcome("failed", "invariant 'every saga ends completed or compensated' violated: " + "; ".join(problems),
                       evidence)
    return Outcome("passed", f"all {len(sagas)} sagas ended completed or compensated "
                             f"({states.get('completed', 0)} completed, {states.get('compensated', 0)} compensated); "
                             f"{acked} acknowledged orders, {evidence['order_requests']['indeterminate']} indeterminate",
                   evidence)


@check("saga_compensation_order", SagaAuditParams)
def saga_compensation_order(history: History, p: SagaAuditParams, windows: Any) -> Outcome:
    """A saga compensates every step that ran (or may have), each once, in reverse order of the steps."""
    audits, unknown = _audits(history, p)
    if unknown:
        return unknown
    judged, violations = 0, []
    for saga in audits["orchestrator"]["sagas"]:
        log = saga.get("log", [])
        ran = [e["step"] for e in log if e["phase"] == "forward" and e["outcome"] in ("ok", "unknown")]
        if saga["state"] == "completed" or not ran:
            continue
        judged += 1
        expected = list(reversed(ran))
        done = [e["step"] for e in log if e["phase"] == "compensate" and e["outcome"] == "ok"]
        ended = saga["state"] == "compensated"
        # An unfinished saga (its compensation abandoned) is judged on what it did so far.
        if (done != expected) if ended else (done != expected[:len(done)]):
            missing = [s for s in expected if s not in done]
            in_order_but_short = done == [s for s in expected if s in done]
            why = (f"compensation of {', '.join(missing)} never ran" if ended and missing and in_order_but_short
                   else f"compensated {done}, expected {expected}")
            violations.append({"saga": saga["id"], "state": saga["state"], "forward_steps_that_ran": ran,
                               "compensations": done, "expected": expected, "violation": why})
    evidence: dict[str, Any] = {"sagas_with_compensations": judged, "violations": len(violations),
                                "examples": violations[:p.max_examples]}
    if not judged:
        return Outcome("unknown", "no saga had a step to compensate: the run never exercised compensation", evidence)
    if violations:
        first = violations[0]
        return Outcome("failed", f"invariant 'compensations run in reverse order, one per step that ran' violated by "
                                 f"{len(violations)} of {judged} sagas; e.g. {first['saga']}: {first['violation']}", evidence)
    return Outcome("passed", f"all {judged} compensating sagas undid every step that ran, in reverse order", evidence)


@check("saga_no_orphans", SagaAuditParams)
def saga_no_orphans(history: History, p: SagaAuditParams, windows: Any) -> Outcome:
    """Only completed sagas hold a charge, a reservation and a shipment, and each of them holds all three."""
    audits, unknown = _audits(history, p, "payments", "inventory", "shipping")
    if unknown:
        return unknown
    sagas = {s["id"]: s for s in audits["orchestrator"]["sagas"]}
    orphans, missing = [], []
    for role, (listing, active) in ACTIVE.items():
        holding = {r["saga_id"]: r for r in audits[role].get(listing, []) if r.get("status") == active}
        for saga_id, record in holding.items():
            saga = sagas.get(saga_id)
            if saga is None or saga["state"] != "completed":
                orphans.append({"participant": getattr(p, role), "kind": ACTIVE_NAME[role], "record": record,
                                "saga_state": saga["state"] if saga else "unknown to the orchestrator"})
        for saga in sagas.values():
            if saga["state"] == "completed" and saga["id"] not in holding:
                missing.append({"participant": getattr(p, role), "saga": saga["id"], "needs": active})
    evidence: dict[str, Any] = {"sagas": len(sagas), "orphans": len(orphans), "missing": len(missing),
                                "orphan_examples": orphans[:p.max_examples], "missing_examples": missing[:p.max_examples]}
    if orphans or missing:
        parts = []
        if orphans:
            o = orphans[0]
            parts.append(f"{len(orphans)} orphaned records, e.g. the {o['kind']} at {o['participant']} of saga "
                         f"{o['record']['saga_id']} ({o['saga_state']})")
        if missing:
            parts.append(f"{len(missing)} completed sagas lack a record, e.g. {missing[0]['saga']} at {missing[0]['participant']}")
        return Outcome("failed", "invariant 'no orphaned reservation or charge' violated: " + "; ".join(parts), evidence)
    return Outcome("passed", f"participants hold records for exactly the {sum(s['state'] == 'completed' for s in sagas.values())} "
                             f"completed sagas; none orphaned", evidence)



@check("saga_conservation", SagaAuditParams)
def saga_conservation(history: History, p: SagaAuditParams, windows: Any) -> Outcome:
    """Stock and money are conserved: initial = what is left + what completed orders took, per sku and customer."""
    audits, unknown = _audits(history, p, "payments", "inventory")
    if unknown:
        return unknown
    completed = [s for s in audits["orchestrator"]["sagas"] if s["state"] == "completed"]
    taken_stock: dict[str, int] = {}
    paid: dict[str, int] = {}
    for s in completed:
        req = s["request"]
        taken_stock[req["sku"]] = taken_stock.get(req["sku"], 0) + int(req["qty"])
        paid[req["customer"]] = paid.get(req["customer"], 0) + int(req["amount_cents"])
    holders = _active_by(audits, "inventory", "sku") | _active_by(audits, "payments", "customer")
    violations = []
    for row in audits["inventory"].get("stock", []):
        gone = row["initial"] - row["available"]
        if gone != taken_stock.get(row["sku"], 0):
            violations.append({"kind": "stock", "sku": row["sku"], "initial": row["initial"], "available": row["available"],
                               "taken_by_completed_orders": taken_stock.get(row["sku"], 0), "unexplained": gone - taken_stock.get(row["sku"], 0),
                               "held_by_sagas_not_completed": holders.get(("inventory", row["sku"]), [])[:p.max_examples]})
    for row in audits["payments"].get("accounts", []):
        spent = row["initial"] - row["balance"]
        if spent != paid.get(row["customer"], 0):
            violations.append({"kind": "money", "customer": row["customer"], "initial_cents": row["initial"],
                               "balance_cents": row["balance"], "paid_for_completed_orders": paid.get(row["customer"], 0),
                               "unexplained_cents": spent - paid.get(row["customer"], 0),
                               "held_by_sagas_not_completed": holders.get(("payments", row["customer"]), [])[:p.max_examples]})
    totals = {"completed_sagas": len(completed), "units_taken": sum(taken_stock.values()), "cents_paid": sum(paid.values())}
    evidence: dict[str, Any] = {**totals, "violations": len(violations), "examples": violations[:p.max_examples]}
    if violations:
        kinds = sorted({v["kind"] for v in violations})
        v = violations[0]
        where = f"sku {v['sku']}" if v["kind"] == "stock" else f"customer {v['customer']}"
        off = v.get("unexplained", v.get("unexplained_cents"))
        return Outcome("failed", f"invariant '{' and '.join(kinds)} conserved' violated in {len(violations)} accounts; e.g. "
                                 f"{where}: {off} {'units' if v['kind'] == 'stock' else 'cents'} gone that no completed order "
                                 f"took (held by {[h['saga_id'] for h in v['held_by_sagas_not_completed'][:3]]})", evidence)
    return Outcome("passed", f"stock and money conserved: {totals['units_taken']} units and {totals['cents_paid']} cents "
                             f"left for {len(completed)} completed orders, nothing else", evidence)


def _active_by(audits: dict[str, Any], role: str, key: str) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Records a participant still holds for sagas that did not complete, grouped by sku or customer."""
    states = {s["id"]: s["state"] for s in audits["orchestrator"]["sagas"]}
    listing, active = ACTIVE[role]
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in audits[role].get(listing, []):
        if r.get("status") == active and states.get(r["saga_id"]) != "completed":
            out.setdefault((role, str(r.get(key))), []).append(r)
    return out
