"""The event-sourcing experiment, for real, sound and with each defect, through the real CLI.

Real PostgreSQL, Toxiproxy, services and Locust; each run takes about 55 s. Each defect must be
caught from the effects (the databases, read after quiescence) and from what clients were told,
not only from the handler's own reports.
"""
from __future__ import annotations


import pytest

from harness.journal import read_journal
from pg_cleanup import leftovers

pytestmark = pytest.mark.integration

EXPERIMENT = "experiments/event-sourcing.yaml"


def test_sound_store_keeps_every_acked_event_once_through_resets_lost_answers_an_outage_and_a_crash(run_experiment) -> None:
    run = run_experiment(EXPERIMENT)
    assert run.code == 0, run.explain()
    acked = run.check("client-acks-durable")["evidence"]
    assert acked["answered_200"] > 100 and acked["lost"] == 0
    # Lost acknowledgements happened, and their retries were answered from the log.
    assert run.check("no-duplicate-events")["evidence"]["idempotent_replays_acked"] >= 1
    assert run.check("projection-reads-consistent")["evidence"]["reads_judged"] > 100
    replay = run.check("replay-equals-projection")["evidence"]
    assert replay["projection_checkpoint"] == replay["log_head_seq"] == replay["log_events"]
    # The outage outlasted the budget: some commands were refused, within the budget.
    history = read_journal(run.out / "journal.jsonl")
    assert any(r["status"] == 503 for r in history.requests.where(name_regex="^POST "))
    # Commands that started early in the 8 s outage gave up inside it, within budget + a backoff step.
    gave_up = run.check("commands-give-up-while-store-down")["evidence"]
    assert gave_up["requests"] >= 3 and gave_up["value_ms"] <= gave_up["max_allowed_ms"]
    assert leftovers(run.out) == []


def test_no_record_reveals_which_defect_is_on(run_experiment) -> None:
    run = run_experiment(EXPERIMENT, "volatile-checkpoint")
    history = read_journal(run.out / "journal.jsonl")
    text = " ".join(str(r) for r in history.records if r["kind"] in ("audit", "event")).lower()
    assert "memory" not in text and "volatile" not in text and "idempotent" not in text
    # The projector applied the log again after its restart: the databases and the reads say so.
    assert run.code == 1, run.explain()
    assert {"effects-hold", "projection-reads-consistent", "replay-equals-projection"} <= run.failed, run.explain()
    assert "'projection-counts-every-event-once' violated" in run.check("effects-hold")["summary"]
    example = run.check("replay-equals-projection")["evidence"]["examples"][0]
    assert example["stream_id"].startswith("acct-")
    assert example["projected"]["events"] > example["replayed"]["events"]  # applied again, not skipped
    assert leftovers(run.out) == []


def test_a_non_idempotent_append_duplicates_events_and_is_caught(run_experiment) -> None:
    run = run_experiment(EXPERIMENT, "non-idempotent-append")
    assert run.code == 1, run.explain()
    assert {"effects-hold", "no-duplicate-events"} <= run.failed, run.explain()
    assert "'one-event-per-command' violated" in run.check("effects-hold")["summary"]
    dup = run.check("no-duplicate-events")
    assert "invariant 'no event is duplicated' violated" in dup["summary"]
    example = dup["evidence"]["examples"][0]
    assert example["command_id"].startswith("cmd-") and len(example["events"]) >= 2
    assert len({e["event_id"] for e in example["events"]}) == len(example["events"])
    # Nothing acknowledged went missing: the defect adds events, it does not lose them.
    assert run.check("client-acks-durable")["verdict"] == "passed"
    assert leftovers(run.out) == []


@pytest.mark.full  # a code change no defect switch has (tests/mutants)
def test_a_retry_budget_restarted_on_every_try_holds_commands_until_the_store_returns(run_experiment) -> None:
    """An outage shorter than the bound cannot tell a bounded retry from one that waits it out; 8 s can."""
    run = run_experiment(EXPERIMENT, mutant="event-sourcing/retry-budget-restarts-each-attempt")
    assert run.code == 1, run.explain()
    assert "commands-give-up-while-store-down" in run.failed, run.explain()
    held = run.check("commands-give-up-while-store-down")["evidence"]
    assert held["value_ms"] >= 6000, held  # held until the store came back, 8 s after the outage began
