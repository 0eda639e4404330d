"""The saga experiments, for real, sound and with each defect, through the real CLI.

Real PostgreSQL, Toxiproxy, services and Locust; each run takes about 45 s. A defect must
fail the checks that measure what it breaks, with the violated invariant and the offending
saga named in the summary.
"""
from __future__ import annotations

import pytest

from harness.journal import read_journal
from pg_cleanup import leftovers

pytestmark = pytest.mark.integration

SAGA = "experiments/saga.yaml"
KILLED = "experiments/saga-participant-killed.yaml"
ORCHESTRATOR_KILLED = "experiments/saga-orchestrator-killed.yaml"


def test_sound_saga_ends_every_saga_through_a_payments_database_outage(run_experiment) -> None:
    run = run_experiment(SAGA)
    assert run.code == 0, run.explain()
    assert run.result["verdict"] == "passed"
    order = run.check("compensations-in-reverse-order")["evidence"]
    assert order["sagas_with_compensations"] > 0 and order["violations"] == 0
    terminal = run.check("every-saga-ends")["evidence"]
    assert terminal["states"].get("compensated", 0) > 0 and set(terminal["states"]) <= {"completed", "compensated"}
    assert run.check("refund-retried-during-fault")["verdict"] == "passed"
    assert leftovers(run.out) == []


def test_sound_saga_survives_a_participant_killed_mid_saga(run_experiment) -> None:
    run = run_experiment(KILLED)
    assert run.code == 0, run.explain()
    history = read_journal(run.out / "journal.jsonl")
    actions = [(r["service"], r["action"]) for r in history.of_kind("service_action")]
    assert actions == [("inventory", "kill"), ("inventory", "start")]
    assert sum(1 for r in history.of_kind("service_started") if r["service"] == "inventory") == 2
    assert run.check("release-retried-while-down")["verdict"] == "passed"
    assert leftovers(run.out) == []


def test_sound_saga_resumes_unfinished_sagas_after_the_orchestrator_crashes(run_experiment) -> None:
    run = run_experiment(ORCHESTRATOR_KILLED)
    assert run.code == 0, run.explain()
    history = read_journal(run.out / "journal.jsonl")
    resumed = {e["saga"] for e in history.events if e["type"] == "saga_resumed"}
    assert resumed, "the orchestrator died with no saga in flight: the experiment proved nothing"
    sagas = {s["id"]: s["state"] for s in history.audits()["orchestrator"]["sagas"]}
    assert {sagas[s] for s in resumed} <= {"completed", "compensated"}
    assert leftovers(run.out) == []


@pytest.mark.parametrize("experiment", [SAGA, KILLED, ORCHESTRATOR_KILLED])
def test_a_skipped_compensation_leaves_charges_and_is_caught(run_experiment, experiment: str) -> None:
    run = run_experiment(experiment, "skip-compensation")
    assert run.code == 1, run.explain()
    assert {"compensations-in-reverse-order", "no-orphaned-reservation-or-charge", "stock-and-money-conserved"} <= run.failed, run.explain()
    assert "compensation of payments never ran" in run.check("compensations-in-reverse-order")["summary"]
    orphans = run.check("no-orphaned-reservation-or-charge")
    assert "the charge at payments of saga o-" in orphans["summary"]
    assert all(o["record"]["status"] == "charged" for o in orphans["evidence"]["orphan_examples"])
    assert "'money conserved' violated" in run.check("stock-and-money-conserved")["summary"]
    # The orchestrator believes its sagas compensated: only the cross-checks can see the lie.
    assert run.check("every-saga-ends")["verdict"] == "passed"
    assert leftovers(run.out) == []


# With payments' database down, the reservation made before the charge must be released
# after the refund: giving up on the refund leaves it orphaned. With inventory itself
# killed, the sagas that give up never got their reservation, so nothing is orphaned.
@pytest.mark.parametrize("experiment, also_failed", [
    (SAGA, {"refund-retried-during-fault", "no-orphaned-reservation-or-charge", "stock-and-money-conserved"}),
    (KILLED, {"release-retried-while-down"}),
    (ORCHESTRATOR_KILLED, {"no-orphaned-reservation-or-charge", "stock-and-money-conserved"}),
])
def test_an_unretried_compensation_leaves_sagas_half_done_and_is_caught(run_experiment, experiment: str,
                                                                        also_failed: set[str]) -> None:
    run = run_experiment(experiment, "no-compensation-retry")
    assert run.code == 1, run.explain()
    assert {"every-saga-ends", *also_failed} <= run.failed, run.explain()
    terminal = run.check("every-saga-ends")
    assert "every saga ends completed or compensated" in terminal["summary"]
    assert ": compensation_failed (" in terminal["summary"]
    assert terminal["evidence"]["not_ended"][0]["saga"].startswith("o-")
    if "no-orphaned-reservation-or-charge" in also_failed:
        assert "the reservation at inventory of saga o-" in run.check("no-orphaned-reservation-or-charge")["summary"]
    assert leftovers(run.out) == []
