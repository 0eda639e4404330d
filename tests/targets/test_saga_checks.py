"""The saga checks (targets/saga/checks.py) on small hand-written journals: pass, fail, unknown.

The checks are loaded the way a run loads them (the manifest's plugins) and called through
the registry, so these tests exercise exactly what an experiment runs.
"""
from __future__ import annotations

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
ALL_OK = [("inventory", "forward", "ok"), ("payments", "forward", "ok"), ("shipping", "forward", "ok")]
UNDONE = [("inventory", "forward", "ok"), ("payments", "forward", "ok"), ("shipping", "forward", "rejected"),
          ("payments", "compensate", "ok"), ("inventory", "compensate", "ok")]


def saga(sid: str, state: str, log: list[tuple[str, str, str]], *, customer: str = "c1", sku: str = "sku-1",
         qty: int = 2, amount: int = 500) -> dict[str, Any]:
    return {"id": sid, "state": state, "reason": None if state == "completed" else "shipping rejected",
            "request": {"customer": customer, "sku": sku, "qty": qty, "amount_cents": amount, "address": "x"},
            "log": [{"step": s, "phase": ph, "outcome": o, "attempts": 1} for s, ph, o in log]}


def world() -> dict[str, Any]:
    """A consistent end state: saga A completed, saga B compensated after shipping refused it."""
    return {
        "orchestrator": {"sagas": [saga("A", "completed", ALL_OK), saga("B", "compensated", UNDONE, amount=300, qty=1)]},
        "payments": {"accounts": [{"customer": "c1", "balance": 9500, "initial": 10000}],
                     "charges": [{"saga_id": "A", "customer": "c1", "amount": 500, "status": "charged"},
                                 {"saga_id": "B", "customer": "c1", "amount": 300, "status": "refunded"}]},
        "inventory": {"stock": [{"sku": "sku-1", "available": 98, "initial": 100}],
                      "reservations": [{"saga_id": "A", "sku": "sku-1", "qty": 2, "status": "reserved"},
                                       {"saga_id": "B", "sku": "sku-1", "qty": 1, "status": "released"}]},
        "shipping": {"shipments": [{"saga_id": "A", "address": "x", "status": "scheduled"}]},
    }


def history(audits: dict[str, Any], outcomes: list[str] = ("ok", "ok")) -> History:
    recs: list[dict[str, Any]] = [{"kind": "run_started", "t": T0 - 1, "steady_state": {"warmup": 0, "settle": 0}},
                                  {"kind": "load_started", "t": T0}]
    for i, outcome in enumerate(outcomes):
        recs.append({"kind": "request", "t": T0 + i, "name": "POST /orders", "method": "POST", "ms": 50.0,
                     "outcome": outcome, "status": 200 if outcome == "ok" else None})
    recs.append({"kind": "load_stopped", "t": T0 + 30})
    recs += [{"kind": "audit", "t": T0 + 31, "service": s, "state": state} for s, state in audits.items()]
    return History(recs)


def run(name: str, h: History, **params: Any):
    ctype = check_types.get(name)
    return ctype.run(h, ctype.Params(**params), Windows(h))


CHECKS = ["saga_terminal", "saga_compensation_order", "saga_no_orphans", "saga_conservation"]


@pytest.mark.parametrize("name", CHECKS)
def test_each_check_passes_on_a_consistent_end_state(name: str) -> None:
    out = run(name, history(world()))
    assert out.verdict == "passed", out.summary


@pytest.mark.parametrize("name", CHECKS)
def test_each_check_is_unknown_without_the_orchestrators_audit(name: str) -> None:
    audits = world()
    del audits["orchestrator"]
    out = run(name, history(audits))
    assert out.verdict == "unknown" and "no audit of 'orchestrator'" in out.summary


@pytest.mark.parametrize("name", CHECKS)
def test_each_check_is_unknown_when_no_saga_ever_started(name: str) -> None:
    audits = world()
    audits["orchestrator"]["sagas"] = []
    assert run(name, history(audits)).verdict == "unknown"


def test_a_failed_audit_makes_the_participant_checks_unknown() -> None:
    audits = world()
    audits["payments"] = {"audit_error": "ConnectError: refused"}
    out = run("saga_no_orphans", history(audits))
    assert out.verdict == "unknown" and "audit of 'payments' failed: ConnectError" in out.summary


def test_a_saga_whose_compensation_was_abandoned_fails_terminal_naming_it() -> None:
    audits = world()
    stuck = saga("C", "compensation_failed", UNDONE[:3] + [("payments", "compensate", "abandoned")])
    stuck["reason"] = "payments compensation failed"
    audits["orchestrator"]["sagas"].append(stuck)
    out = run("saga_terminal", history(audits))
    assert out.verdict == "failed"
    assert "every saga ends completed or compensated" in out.summary
    assert "C: compensation_failed (payments compensation failed)" in out.summary
    assert out.evidence["not_ended"][0]["saga"] == "C"


def test_more_acknowledged_orders_than_sagas_means_orders_were_lost() -> None:
    out = run("saga_terminal", history(world(), outcomes=["ok", "ok", "ok"]))
    assert out.verdict == "failed" and "3 orders were acknowledged but the orchestrator knows only 2" in out.summary


def test_indeterminate_orders_may_or_may_not_be_sagas() -> None:
    # Two sagas, two acknowledged orders and three that timed out: nothing is missing.
    out = run("saga_terminal", history(world(), outcomes=["ok", "info", "ok", "info", "info"]))
    assert out.verdict == "passed", out.summary
    assert out.evidence["order_requests"] == {"acknowledged": 2, "indeterminate": 3, "failed": 0}


def test_compensations_in_forward_order_fail_naming_the_saga() -> None:
    audits = world()
    audits["orchestrator"]["sagas"][1] = saga("B", "compensated", UNDONE[:3] + [("inventory", "compensate", "ok"),
                                                                                  ("payments", "compensate", "ok")])
    out = run("saga_compensation_order", history(audits))
    assert out.verdict == "failed"
    assert "B: compensated ['inventory', 'payments'], expected ['payments', 'inventory']" in out.summary


def test_a_skipped_compensation_fails_the_order_check_naming_the_step() -> None:
    audits = world()
    audits["orchestrator"]["sagas"][1] = saga("B", "compensated", UNDONE[:3] + [("inventory", "compensate", "ok")])
    out = run("saga_compensation_order", history(audits))
    assert out.verdict == "failed" and "B: compensation of payments never ran" in out.summary


def test_a_step_with_an_unknown_outcome_must_be_compensated_too() -> None:
    audits = world()
    log = [("inventory", "forward", "ok"), ("payments", "forward", "unknown"), ("inventory", "compensate", "ok")]
    audits["orchestrator"]["sagas"][1] = saga("B", "compensated", log)
    out = run("saga_compensation_order", history(audits))
    assert out.verdict == "failed" and "compensation of payments never ran" in out.summary


def test_compensation_order_is_unknown_when_nothing_had_to_be_compensated() -> None:
    audits = world()
    audits["orchestrator"]["sagas"] = [saga("A", "completed", ALL_OK),
                                       saga("D", "compensated", [("inventory", "forward", "rejected")])]
    out = run("saga_compensation_order", history(audits))
    assert out.verdict == "unknown" and "never exercised compensation" in out.summary


def test_an_abandoned_saga_keeps_the_order_check_to_what_it_did() -> None:
    audits = world()
    audits["orchestrator"]["sagas"].append(saga("C", "compensation_failed", UNDONE[:3] + [("payments", "compensate", "abandoned")]))
    assert run("saga_compensation_order", history(audits)).verdict == "passed"


def test_a_charge_kept_by_a_compensated_saga_is_an_orphan() -> None:
    audits = world()
    audits["payments"]["charges"][1]["status"] = "charged"
    out = run("saga_no_orphans", history(audits))
    assert out.verdict == "failed"
    assert "no orphaned reservation or charge" in out.summary
    assert "the charge at payments of saga B (compensated)" in out.summary


def test_a_record_for_a_saga_the_orchestrator_never_knew_is_an_orphan() -> None:
    audits = world()
    audits["inventory"]["reservations"].append({"saga_id": "Z", "sku": "sku-1", "qty": 1, "status": "reserved"})
    out = run("saga_no_orphans", history(audits))
    assert out.verdict == "failed" and out.evidence["orphan_examples"][0]["saga_state"] == "unknown to the orchestrator"


def test_a_completed_saga_without_its_shipment_fails_naming_it() -> None:
    audits = world()
    audits["shipping"]["shipments"] = []
    out = run("saga_no_orphans", history(audits))
    assert out.verdict == "failed" and "completed sagas lack a record, e.g. A at shipping" in out.summary


def test_money_taken_by_no_completed_order_fails_conservation_naming_the_holder() -> None:
    audits = world()
    audits["payments"]["accounts"][0]["balance"] = 9200  # B's 300 never came back
    audits["payments"]["charges"][1]["status"] = "charged"
    out = run("saga_conservation", history(audits))
    assert out.verdict == "failed"
    assert "'money conserved' violated" in out.summary and "customer c1: 300 cents" in out.summary and "'B'" in out.summary


def test_stock_that_left_without_a_completed_order_fails_conservation() -> None:
    audits = world()
    audits["inventory"]["stock"][0]["available"] = 97
    out = run("saga_conservation", history(audits))
    assert out.verdict == "failed" and "'stock conserved' violated" in out.summary and "sku sku-1: 1 units" in out.summary
