"""The saga experiments, for real, sound and with each defect, through the real CLI.

Real PostgreSQL, Toxiproxy, services and Locust; each run takes about 45 s. A defect must
fail the checks that measure what it breaks, with the violated invariant and the offending
saga named in the summary, and at least one of them must judge effects (the participants'
ledgers, the client's answers), not the orchestrator's own account.

`make test` runs every experiment sound and `saga.yaml` with each defect; the kill
experiments with each defect are under the `full` marker.
"""
from __future__ import annotations

import pytest

from harness.journal import read_journal
from pg_cleanup import leftovers

pytestmark = pytest.mark.integration

SAGA = "experiments/saga.yaml"
KILLED = "experiments/saga-participant-killed.yaml"
ORCHESTRATOR_KILLED = "experiments/saga-orchestrator-killed.yaml"
EFFECT_CHECKS = {"effects-atomic", "ledgers-balance", "effects-in-order", "retry-budget"}


def test_sound_saga_keeps_its_books_through_a_db_outage_late_answers_and_lost_acks(run_experiment) -> None:
    run = run_experiment(SAGA)
    assert run.code == 0, run.explain()
    assert run.result["verdict"] == "passed"
    # Every fault bit: refunds failed and were retried; charges and releases were retried
    # within budget; some sagas were undone at two participants.
    budget = run.check("retry-budget")["evidence"]
    assert budget["sagas_retried"] > 0 and budget["most_calls"]["payments /refunds"]["calls"] > 1
    assert run.check("effects-in-order")["evidence"]["sagas_undone_at_two_or_more"] > 0
    atomic = run.check("effects-atomic")["evidence"]
    assert atomic["held_nowhere"] > 0 and atomic["client_answers"] > 100
    isolation = run.check("order-reads-isolated-from-slow-payments")["evidence"]
    assert isolation, "isolation judged nothing"
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


def _skipped_compensation_is_caught(run_experiment, experiment: str) -> None:
    run = run_experiment(experiment, "skip-compensation")
    assert run.code == 1, run.explain()
    # Caught from the effects: charges held by sagas whose reservation was released.
    atomic = run.check("effects-atomic")
    assert atomic["verdict"] == "failed", run.explain()
    assert "a saga takes effect everywhere or nowhere' violated" in atomic["summary"]
    assert "holds charge at payments but not reservation at inventory" in atomic["summary"]
    # And from the orchestrator's own log, cross-checked with the participants.
    assert {"compensations-in-reverse-order", "no-orphaned-reservation-or-charge", "stock-and-money-conserved"} <= run.failed
    assert "compensation of payments never ran" in run.check("compensations-in-reverse-order")["summary"]
    orphans = run.check("no-orphaned-reservation-or-charge")
    assert all(o["record"]["status"] == "charged" for o in orphans["evidence"]["orphan_examples"])
    # The orchestrator believes its sagas compensated: only the cross-checks can see the lie.
    assert run.check("every-saga-ends")["verdict"] == "passed"
    assert leftovers(run.out) == []


def _unretried_compensation_is_caught(run_experiment, experiment: str, also_failed: set[str]) -> None:
    run = run_experiment(experiment, "no-compensation-retry")
    assert run.code == 1, run.explain()
    assert {"every-saga-ends", *also_failed} <= run.failed, run.explain()
    terminal = run.check("every-saga-ends")
    assert "every saga ends completed or compensated" in terminal["summary"]
    assert ": compensation_failed (" in terminal["summary"]
    assert terminal["evidence"]["not_ended"][0]["saga"].startswith("o-")
    assert leftovers(run.out) == []


def test_a_skipped_compensation_leaves_charges_and_is_caught_from_the_effects(run_experiment) -> None:
    _skipped_compensation_is_caught(run_experiment, SAGA)


def test_an_unretried_compensation_leaves_sagas_half_done_and_is_caught_from_the_effects(run_experiment) -> None:
    # Behaviour and effects: clients get 500s, and reservations outlive their sagas.
    _unretried_compensation_is_caught(run_experiment, SAGA, {"effects-atomic", "orders-answered-during-faults"})


@pytest.mark.full
@pytest.mark.parametrize("experiment", [KILLED, ORCHESTRATOR_KILLED])
def test_kill_experiments_catch_a_skipped_compensation(run_experiment, experiment: str) -> None:
    _skipped_compensation_is_caught(run_experiment, experiment)


# With inventory itself killed, the sagas that give up never got their reservation: nothing is
# orphaned, but their clients are told 500 instead of being answered.
@pytest.mark.full
@pytest.mark.parametrize("experiment, also_failed", [
    (KILLED, {"orders-answered-while-inventory-down"}),
    (ORCHESTRATOR_KILLED, {"effects-atomic"}),
])
def test_kill_experiments_catch_an_unretried_compensation(run_experiment, experiment: str, also_failed: set[str]) -> None:
    _unretried_compensation_is_caught(run_experiment, experiment, also_failed)
