"""Saga invariants judged from EFFECTS only: the participants' own ledgers and the client's own
record of what it was told. Nothing here reads the orchestrator (the component under test):
a defect that also corrupts the orchestrator's log or its telemetry cannot hide from them.

    saga_effects_atomic        per saga, reservation, charge and shipment are held everywhere or
                               nowhere; an order the client was told 'completed' holds all three,
                               one it was told 'compensated' holds none
    saga_ledgers_balance       per sku and per customer, what left stock and accounts is exactly
                               what the reservations and charges still held account for; nothing
                               went negative
    saga_effects_order         a saga's effects happened in step order and were undone in reverse
                               order, by the participants' own clocks
    saga_call_budget           the calls each saga made on each participant (counted on arrival by
                               the participant) stay within the orchestrator's retry budget

The audits are taken after load stops and every fault is removed; the orchestrator's audit,
fetched first, waits for sagas in flight to settle.
"""
from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from harness.checks import Outcome, check
from harness.checks.selection import RequestFilter
from harness.durations import Duration
from harness.journal import History
from harness.model import Spec

# Participant -> (its audit listing, the status meaning 'this saga still holds it', what it is).
# In step order: the orchestrator reserves, then charges, then ships.
STEPS: dict[str, tuple[str, str, str]] = {
    "inventory": ("reservations", "reserved", "reservation"),
    "payments": ("charges", "charged", "charge"),
    "shipping": ("shipments", "scheduled", "shipment"),
}
FORWARD_ACTIONS = {"inventory": "reservations", "payments": "charges", "shipping": "shipments"}
COMPENSATIONS = {"inventory": "releases", "payments": "refunds", "shipping": "cancellations"}


class EffectParams(Spec):
    inventory: str = Field("inventory", description="service names of the participants, as in the manifest")
    payments: str = "payments"
    shipping: str = "shipping"
    max_examples: int = Field(10, ge=1, description="offending records quoted in the evidence")


class AtomicParams(EffectParams):
    orders: RequestFilter = Field(default_factory=lambda: RequestFilter(name_regex="^POST /orders"),
                                  description="requests whose answers (recorded bodies) tell the client a saga's state")


def _participants(history: History, p: EffectParams) -> tuple[dict[str, dict[str, Any]], Outcome | None]:
    audits = history.audits()
    found: dict[str, dict[str, Any]] = {}
    for role in STEPS:
        service = getattr(p, role)
        state = audits.get(service)
        if not isinstance(state, dict):
            return {}, Outcome("unknown", f"no audit of '{service}' in the journal (the run did not complete, or the "
                                          f"service has no audit: path)", {"audited": sorted(audits)})
        if "audit_error" in state:
            return {}, Outcome("unknown", f"the audit of '{service}' failed: {state['audit_error']}", {})
        found[role] = state
    return found, None


def _records(audits: dict[str, dict[str, Any]], role: str) -> dict[str, dict[str, Any]]:
    return {r["saga_id"]: r for r in audits[role].get(STEPS[role][0], [])}


def client_told(history: History, flt: RequestFilter) -> dict[str, str]:
    """saga id -> the final state an answer told the client (200: completed or compensated).

    From the recorded answer bodies: the client's own record, not the orchestrator's. A body
    cut by ``record_bodies`` is skipped, never guessed.
    """
    told: dict[str, str] = {}
    answered = flt.select(history.requests)
    for r in answered.take(answered.status == 200):
        if not r.get("body") or r.get("body_truncated"):
            continue
        try:
            answer = json.loads(r["body"])
        except ValueError:
            continue
        if isinstance(answer, dict) and isinstance(answer.get("saga_id"), str) and answer.get("state"):
            told[answer["saga_id"]] = str(answer["state"])
    return told


@check("saga_effects_atomic", AtomicParams)
def saga_effects_atomic(history: History, p: AtomicParams, windows: Any) -> Outcome:
    """Per saga, the participants hold its reservation, charge and shipment all together or not at all."""
    audits, unknown = _participants(history, p)
    if unknown:
        return unknown
    records = {role: _records(audits, role) for role in STEPS}
    told = client_told(history, p.orders)
    sagas = set(told).union(*(set(r) for r in records.values()))
    partial, contradicted = [], []
    counts = {"all": 0, "none": 0}
    for saga in sorted(sagas):
        held = {role: records[role].get(saga, {}).get("status") == STEPS[role][1] for role in STEPS}
        holds = [role for role, h in held.items() if h]
        if holds and len(holds) < len(STEPS):
            partial.append({"saga": saga, "held": [STEPS[r][2] + " at " + getattr(p, r) for r in holds],
                            "not_held": [STEPS[r][2] + " at " + getattr(p, r) for r in STEPS if r not in holds],
                            "client_told": told.get(saga),
                            "records": {getattr(p, r): records[r].get(saga) for r in STEPS}})
        else:
            counts["all" if holds else "none"] += 1
        answer = told.get(saga)
        if answer == "completed" and len(holds) < len(STEPS) or answer == "compensated" and holds:
            contradicted.append({"saga": saga, "client_told": answer, "held": holds})
    evidence: dict[str, Any] = {"sagas": len(sagas), "complete_everywhere": counts["all"], "held_nowhere": counts["none"],
                                "client_answers": len(told), "partial": len(partial), "contradicted": len(contradicted),
                                "partial_examples": partial[:p.max_examples],
                                "contradicted_examples": contradicted[:p.max_examples]}
    if not sagas:
        return Outcome("unknown", "no participant recorded any saga and no answer named one: no order got through", evidence)
    if not counts["none"] and not partial:
        return Outcome("unknown", "every saga completed: nothing was ever undone, so atomicity was not exercised", evidence)
    problems = []
    if partial:
        e = partial[0]
        problems.append(f"{len(partial)} sagas are half done, e.g. {e['saga']} holds {', '.join(e['held'])} "
                        f"but not {', '.join(e['not_held'])}")
    if contradicted:
        e = contradicted[0]
        problems.append(f"{len(contradicted)} answers contradict the ledgers, e.g. {e['saga']} was answered "
                        f"'{e['client_told']}' but holds {e['held'] or 'nothing'}")
    if problems:
        return Outcome("failed", "invariant 'a saga takes effect everywhere or nowhere' violated: " + "; ".join(problems),
                       evidence)
    return Outcome("passed", f"{len(sagas)} sagas: {counts['all']} hold reservation, charge and shipment, "
                             f"{counts['none']} hold none; {len(told)} answers agree with the ledgers", evidence)


@check("saga_ledgers_balance", EffectParams)
def saga_ledgers_balance(history: History, p: EffectParams, windows: Any) -> Outcome:
    """Per sku and per customer: initial - what is left == what the held reservations and charges took; never negative."""
    audits, unknown = _participants(history, p)
    if unknown:
        return unknown
    ledgers = (("inventory", "stock", "sku", "available", "sku", "qty", "units"),
               ("payments", "accounts", "customer", "balance", "customer", "amount", "cents"))
    violations: list[dict[str, Any]] = []
    totals: dict[str, int] = {}
    for role, listing, key, left, record_key, size, unit in ledgers:
        listing_name, active, _ = STEPS[role]
        held: dict[str, int] = {}
        for r in audits[role].get(listing_name, []):
            if r.get("status") == active:
                held[str(r.get(record_key))] = held.get(str(r.get(record_key)), 0) + int(r.get(size) or 0)
        totals[f"{unit}_held"] = sum(held.values())
        for row in audits[role].get(listing, []):
            gone = int(row["initial"]) - int(row[left])
            if gone != held.get(str(row[key]), 0) or int(row[left]) < 0:
                violations.append({"participant": getattr(p, role), key: row[key], "initial": row["initial"], left: row[left],
                                   "held_by_records": held.get(str(row[key]), 0),
                                   "unexplained": gone - held.get(str(row[key]), 0), "unit": unit})
        unknown_keys = set(held) - {str(row[key]) for row in audits[role].get(listing, [])}
        for k in sorted(unknown_keys):
            violations.append({"participant": getattr(p, role), key: k, "held_by_records": held[k],
                               "unexplained": -held[k], "unit": unit, "problem": f"records hold a {key} the ledger lacks"})
    evidence: dict[str, Any] = {**totals, "violations": len(violations), "examples": violations[:p.max_examples]}
    if violations:
        v = violations[0]
        where = f"sku {v['sku']}" if "sku" in v else f"customer {v['customer']}"
        negative = [x for x in violations if int(x.get("available", x.get("balance", 0)) or 0) < 0]
        return Outcome("failed", f"invariant 'stock and money conserved' violated in {len(violations)} ledgers"
                                 f"{f' ({len(negative)} negative)' if negative else ''}; e.g. {v['participant']} {where}: "
                                 f"{v['unexplained']} {v['unit']} gone that no held record accounts for", evidence)
    return Outcome("passed", f"stock and money conserved: {totals['units_held']} units and {totals['cents_held']} cents "
                             f"gone, exactly what the held reservations and charges account for", evidence)


@check("saga_effects_order", EffectParams)
def saga_effects_order(history: History, p: EffectParams, windows: Any) -> Outcome:
    """A saga's effects were made in step order and undone in reverse step order (participants' clocks)."""
    audits, unknown = _participants(history, p)
    if unknown:
        return unknown
    records = {role: _records(audits, role) for role in STEPS}
    order = list(STEPS)
    sagas = set().union(*(set(r) for r in records.values()))
    judged_undo = 0
    violations = []
    for saga in sorted(sagas):
        # Made: a real record (not a tombstone written by a compensation that came first).
        made = [(records[r][saga]["created_at"], r) for r in order
                if saga in records[r] and records[r][saga].get("compensated_at") != records[r][saga]["created_at"]]
        undone = [(records[r][saga]["compensated_at"], r) for r in order
                  if saga in records[r] and records[r][saga].get("compensated_at") is not None]
        made_order = [r for _, r in sorted(made)]
        if made_order != [r for r in order if r in made_order]:
            violations.append({"saga": saga, "problem": "made out of step order", "made": made_order, "expected": order})
        if len(undone) >= 2:
            judged_undo += 1
            undone_order = [r for _, r in sorted(undone)]
            expected = [r for r in reversed(order) if r in undone_order]
            if undone_order != expected:
                violations.append({"saga": saga, "problem": "undone out of reverse order", "undone": undone_order,
                                   "expected": expected})
    evidence: dict[str, Any] = {"sagas": len(sagas), "sagas_undone_at_two_or_more": judged_undo,
                                "violations": len(violations), "examples": violations[:p.max_examples]}
    if not judged_undo:
        return Outcome("unknown", "no saga was undone at two or more participants: the order of compensations "
                                  "was never exercised", evidence)
    if violations:
        v = violations[0]
        got = v.get("undone", v.get("made"))
        return Outcome("failed", f"invariant 'steps in order, compensations in reverse order' violated by {len(violations)} "
                                 f"sagas; e.g. {v['saga']} {v['problem']}: {got}, expected {v['expected']}", evidence)
    return Outcome("passed", f"{len(sagas)} sagas made their effects in step order; the {judged_undo} undone at two or "
                             f"more participants were undone in reverse order", evidence)


def retry_budget(outage_s: float, first_s: float, cap_s: float) -> int:
    """Most calls one retry loop makes while its calls keep failing for ``outage_s``.

    The loop sleeps first_s, 2 first_s, ... up to cap_s between calls; a failing call itself is
    counted as instantaneous, which makes this an upper bound. One call more for the one that
    succeeds once the outage ends.
    """
    calls, slept, sleep = 1, 0.0, first_s
    while slept + sleep <= outage_s:
        slept += sleep
        calls += 1
        sleep = min(cap_s, sleep * 2)
    return calls + 1


class CallBudgetParams(EffectParams):
    forward_attempts: int = Field(ge=1, description="the orchestrator's FORWARD_ATTEMPTS: calls per saga per forward step")
    drives: int = Field(1, ge=1, description="how many times a saga may be driven from scratch: 2 when the "
                                             "orchestrator is restarted mid-saga and resumes it (its retry loops restart)")
    compensation_faults: list[str] = Field(default_factory=list, description="faults during which compensations keep "
                                           "failing: the longest (actual duration) bounds a compensation's retries")
    compensation_extra: Duration = Field(0.0, description="time a compensation may keep failing beyond those "
                                         "faults (e.g. a call timeout)")
    backoff_first: Duration = Field(0.1, description="the orchestrator's first backoff")
    backoff_max: Duration = Field(1.0, description="the orchestrator's backoff cap")
    min_retried: int = Field(1, ge=0, description="fewer sagas than this calling any action twice -> unknown: "
                                                  "the faults never made the orchestrator retry")


@check("saga_call_budget", CallBudgetParams)
def saga_call_budget(history: History, p: CallBudgetParams, windows: Any) -> Outcome:
    """Calls per saga on each participant, counted by the participant, stay within the retry budget."""
    audits, unknown = _participants(history, p)
    if unknown:
        return unknown
    faults = history.faults()
    outage = 0.0
    for name in p.compensation_faults:
        fw = faults.get(name)
        if fw is None or fw.applied is None:
            return Outcome("unknown", f"fault '{name}' never took effect: the compensation budget cannot be derived", {})
        outage = max(outage, (fw.removed or history.load_end or fw.applied) - fw.applied)
    bounds = {"forward": p.forward_attempts * p.drives,
              "compensation": retry_budget(outage + p.compensation_extra, p.backoff_first, p.backoff_max) * p.drives}
    over, most, retried = [], {}, set()
    for role in STEPS:
        calls = audits[role].get("calls") or {}
        for kind, action in (("forward", FORWARD_ACTIONS[role]), ("compensation", COMPENSATIONS[role])):
            per_saga: dict[str, int] = calls.get(action, {})
            if per_saga:
                top = max(per_saga.items(), key=lambda kv: kv[1])
                most[f"{getattr(p, role)} /{action}"] = {"saga": top[0], "calls": top[1], "bound": bounds[kind]}
            retried.update(s for s, n in per_saga.items() if n > 1)
            over += [{"participant": getattr(p, role), "action": action, "saga": s, "calls": n, "bound": bounds[kind]}
                     for s, n in per_saga.items() if n > bounds[kind]]
    over.sort(key=lambda o: -o["calls"])
    evidence: dict[str, Any] = {"bounds": bounds, "derived_from": {
        "forward": f"forward_attempts {p.forward_attempts} x drives {p.drives}",
        "compensation": f"(retries with backoff {p.backoff_first:g}s doubling to {p.backoff_max:g}s over "
                        f"{outage:.2f}s of fault + {p.compensation_extra:g}s, plus the call that succeeds) "
                        f"x drives {p.drives}"},
        "most_calls": most, "sagas_retried": len(retried), "over_budget": len(over), "examples": over[:p.max_examples]}
    if not any(audits[role].get("calls") for role in STEPS):
        return Outcome("unknown", "no participant reported the calls it received (no 'calls' in their audits)", evidence)
    if over:
        o = over[0]
        return Outcome("failed", f"invariant 'each saga stays within its retry budget' violated: {len(over)} saga/action "
                                 f"pairs over budget, e.g. saga {o['saga']} called {o['participant']} /{o['action']} "
                                 f"{o['calls']} times (bound {o['bound']})", evidence)
    if len(retried) < p.min_retried:
        return Outcome("unknown", f"only {len(retried)} sagas called any action more than once (need {p.min_retried}): "
                                  f"the faults never made the orchestrator retry", evidence)
    return Outcome("passed", f"every saga stayed within its budget (forward {bounds['forward']}, compensation "
                             f"{bounds['compensation']} calls per action); {len(retried)} sagas retried", evidence)
