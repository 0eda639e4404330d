"""The saga's effect checks (targets/saga/effect_checks.py) on hand-written journals.

They judge from the participants' ledgers and the client's recorded answers only: each test
builds a consistent end state, breaks one effect the way a defect would, and asserts the
verdict and the words of the summary.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness import plugins
from harness.checks.registry import check_types
from harness.checks.windows import Windows
from harness.journal import History
from harness.system import load_system

ROOT = Path(__file__).resolve().parents[2]
plugins.load_for(load_system(ROOT / "targets" / "saga" / "system.yaml"))

T0 = 1_000_000.0


def rec(saga: str, status: str, created: float, compensated: float | None = None, **fields: Any) -> dict[str, Any]:
    return {"saga_id": saga, "status": status, "created_at": T0 + created,
            "compensated_at": None if compensated is None else T0 + compensated, **fields}


def world() -> dict[str, Any]:
    """A completed, B compensated after shipping refused it (refund, then release), C undone everywhere."""
    return {
        "payments": {"accounts": [{"customer": "c1", "balance": 9500, "initial": 10000}],
                     "charges": [rec("A", "charged", 1.1, customer="c1", amount=500),
                                 rec("B", "refunded", 2.1, 2.5, customer="c1", amount=300),
                                 rec("C", "cancelled", 3.4, 3.4, customer=None, amount=0)],
                     "calls": {"charges": {"A": 1, "B": 1, "C": 3}, "refunds": {"B": 1, "C": 2}}},
        "inventory": {"stock": [{"sku": "sku-1", "available": 98, "initial": 100}],
                      "reservations": [rec("A", "reserved", 1.0, sku="sku-1", qty=2),
                                       rec("B", "released", 2.0, 2.6, sku="sku-1", qty=1),
                                       rec("C", "released", 3.0, 3.5, sku="sku-1", qty=1)],
                      "calls": {"reservations": {"A": 1, "B": 1, "C": 1}, "releases": {"B": 1, "C": 1}}},
        "shipping": {"shipments": [rec("A", "scheduled", 1.2, address="x")],
                     "calls": {"shipments": {"A": 1, "B": 1}}},
    }


def history(audits: dict[str, Any], answers: list[tuple[int, dict[str, Any]]] = (),
            faults: list[tuple[str, float, float]] = (), truncated: bool = False) -> History:
    recs: list[dict[str, Any]] = [{"kind": "run_started", "t": T0 - 1, "steady_state": {"warmup": 0, "settle": 0}},
                                  {"kind": "load_started", "t": T0}]
    for i, (status, body) in enumerate(answers):
        recs.append({"kind": "request", "t": T0 + i, "name": "POST /orders", "method": "POST", "ms": 50.0,
                     "outcome": "ok", "status": status, "body": json.dumps(body), "body_truncated": truncated})
    for name, start, end in faults:
        recs += [{"kind": "fault_applied", "t": T0 + start, "fault": name, "type": "reset_peer", "target": "x"},
                 {"kind": "fault_removed", "t": T0 + end, "fault": name}]
    recs.append({"kind": "load_stopped", "t": T0 + 30})
    recs += [{"kind": "audit", "t": T0 + 31, "service": s, "state": state} for s, state in audits.items()]
    return History(recs)


def run(name: str, h: History, **params: Any):
    ctype = check_types.get(name)
    return ctype.run(h, ctype.Params(**params), Windows(h))


BUDGET = {"forward_attempts": 3}
CHECKS = [("saga_effects_atomic", {}), ("saga_ledgers_balance", {}), ("saga_effects_order", {}),
          ("saga_call_budget", BUDGET)]


@pytest.mark.parametrize("name, params", CHECKS)
def test_each_effect_check_passes_on_a_consistent_end_state(name: str, params: dict[str, Any]) -> None:
    out = run(name, history(world()), **params)
    assert out.verdict == "passed", out.summary


@pytest.mark.parametrize("name, params", CHECKS)
def test_each_effect_check_is_unknown_without_a_participants_audit(name: str, params: dict[str, Any]) -> None:
    audits = world()
    del audits["shipping"]
    out = run(name, history(audits), **params)
    assert out.verdict == "unknown" and "no audit of 'shipping'" in out.summary


def test_effect_checks_never_read_the_orchestrator() -> None:
    # No orchestrator audit at all: the effect checks still judge.
    assert all(run(name, history(world()), **params).verdict == "passed" for name, params in CHECKS)


def test_a_charge_kept_by_a_saga_whose_reservation_was_released_is_half_done() -> None:
    audits = world()
    audits["payments"]["charges"][1].update(status="charged", compensated_at=None)  # the refund never happened
    out = run("saga_effects_atomic", history(audits))
    assert out.verdict == "failed"
    assert "a saga takes effect everywhere or nowhere" in out.summary
    assert "e.g. B holds charge at payments but not reservation at inventory, shipment at shipping" in out.summary


def test_an_answer_completed_for_a_saga_that_holds_nothing_contradicts_the_ledgers() -> None:
    out = run("saga_effects_atomic", history(world(), answers=[(200, {"saga_id": "C", "state": "completed"})]))
    assert out.verdict == "failed" and "C was answered 'completed' but holds nothing" in out.summary


def test_an_answer_compensated_for_a_saga_that_holds_everything_contradicts_the_ledgers() -> None:
    out = run("saga_effects_atomic", history(world(), answers=[(200, {"saga_id": "A", "state": "compensated"})]))
    assert out.verdict == "failed" and "A was answered 'compensated' but holds ['inventory', 'payments', 'shipping']" in out.summary


def test_answers_that_agree_with_the_ledgers_pass_and_accepted_ones_claim_nothing() -> None:
    answers = [(200, {"saga_id": "A", "state": "completed"}), (200, {"saga_id": "B", "state": "compensated"}),
               (202, {"saga_id": "C", "state": "running"})]
    out = run("saga_effects_atomic", history(world(), answers=answers))
    assert out.verdict == "passed" and out.evidence["client_answers"] == 2


def test_a_truncated_answer_is_skipped_not_guessed() -> None:
    h = history(world(), answers=[(200, {"saga_id": "C", "state": "completed"})], truncated=True)
    assert run("saga_effects_atomic", h).verdict == "passed"


def test_atomicity_is_unknown_when_every_saga_completed() -> None:
    audits = world()
    for role, listing in (("payments", "charges"), ("inventory", "reservations")):
        audits[role][listing] = [r for r in audits[role][listing] if r["saga_id"] == "A"]
    out = run("saga_effects_atomic", history(audits))
    assert out.verdict == "unknown" and "atomicity was not exercised" in out.summary


def test_money_refunded_twice_breaks_the_ledger() -> None:
    audits = world()
    audits["payments"]["accounts"][0]["balance"] = 9800  # B's 300 came back twice
    out = run("saga_ledgers_balance", history(audits))
    assert out.verdict == "failed"
    assert "'stock and money conserved' violated in 1 ledgers; e.g. payments customer c1: -300 cents" in out.summary


def test_stock_taken_with_no_reservation_holding_it_breaks_the_ledger() -> None:
    audits = world()
    audits["inventory"]["stock"][0]["available"] = 97
    out = run("saga_ledgers_balance", history(audits))
    assert out.verdict == "failed" and "inventory sku sku-1: 1 units gone" in out.summary


def test_a_negative_balance_is_named() -> None:
    audits = world()
    audits["payments"]["accounts"][0].update(balance=-100, initial=400)
    out = run("saga_ledgers_balance", history(audits))
    assert out.verdict == "failed" and "(1 negative)" in out.summary


def test_a_release_before_the_refund_is_out_of_reverse_order() -> None:
    audits = world()
    audits["inventory"]["reservations"][1]["compensated_at"] = T0 + 2.4  # released before B's refund at 2.5
    out = run("saga_effects_order", history(audits))
    assert out.verdict == "failed"
    assert "B undone out of reverse order: ['inventory', 'payments'], expected ['payments', 'inventory']" in out.summary


def test_a_charge_made_before_its_reservation_is_out_of_step_order() -> None:
    audits = world()
    audits["payments"]["charges"][0]["created_at"] = T0 + 0.9
    out = run("saga_effects_order", history(audits))
    assert out.verdict == "failed" and "A made out of step order: ['payments', 'inventory', 'shipping']" in out.summary


def test_a_tombstone_is_an_undo_not_a_step_made() -> None:
    # C's charge is a tombstone (refund before any charge): made only at inventory, undone at both.
    out = run("saga_effects_order", history(world()))
    assert out.verdict == "passed" and out.evidence["sagas_undone_at_two_or_more"] == 2


def test_order_is_unknown_when_no_saga_was_undone_twice() -> None:
    audits = world()
    audits["inventory"]["reservations"] = audits["inventory"]["reservations"][:1]
    audits["inventory"]["stock"][0]["available"] = 98
    out = run("saga_effects_order", history(audits))
    assert out.verdict == "unknown" and "never exercised" in out.summary


def test_a_forward_step_called_more_often_than_its_attempts_breaks_the_budget() -> None:
    audits = world()
    audits["payments"]["calls"]["charges"]["C"] = 4
    out = run("saga_call_budget", history(audits), forward_attempts=3)
    assert out.verdict == "failed"
    assert "saga C called payments /charges 4 times (bound 3)" in out.summary


def test_the_compensation_budget_follows_the_backoff_over_the_faults_actual_length() -> None:
    audits = world()
    audits["payments"]["calls"]["refunds"]["C"] = 12
    # 6 s of fault: calls at 0, .1, .3, .7, 1.5, 2.5, 3.5, 4.5, 5.5 fail, one more succeeds: 10.
    ok = run("saga_call_budget", history(audits, faults=[("db", 5.0, 11.0)]), forward_attempts=3,
             compensation_faults=["db"], compensation_extra=1.5)
    assert ok.verdict == "passed", ok.summary
    assert ok.evidence["bounds"]["compensation"] == 12
    audits["payments"]["calls"]["refunds"]["C"] = 13
    out = run("saga_call_budget", history(audits, faults=[("db", 5.0, 11.0)]), forward_attempts=3,
              compensation_faults=["db"], compensation_extra=1.5)
    assert out.verdict == "failed" and "payments /refunds 13 times (bound 12)" in out.summary


def test_a_resumed_saga_may_be_driven_twice() -> None:
    audits = world()
    audits["payments"]["calls"]["charges"]["C"] = 6
    assert run("saga_call_budget", history(audits), forward_attempts=3, drives=2).verdict == "passed"


def test_the_budget_is_unknown_when_nothing_was_retried() -> None:
    audits = world()
    for role in audits.values():
        role["calls"] = {action: {s: 1 for s in per} for action, per in role["calls"].items()}
    out = run("saga_call_budget", history(audits), forward_attempts=3)
    assert out.verdict == "unknown" and "never made the orchestrator retry" in out.summary


def test_the_budget_is_unknown_when_a_named_fault_never_happened() -> None:
    out = run("saga_call_budget", history(world()), forward_attempts=3, compensation_faults=["nope"])
    assert out.verdict == "unknown" and "fault 'nope' never took effect" in out.summary
