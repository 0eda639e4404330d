"""The event-sourcing experiment, for real, sound and with each defect, through the real CLI.

Real PostgreSQL, Toxiproxy, services and Locust; each run takes about 40 s.
"""
from __future__ import annotations

import pytest

from pg_cleanup import leftovers

pytestmark = pytest.mark.integration

EXPERIMENT = "experiments/event-sourcing.yaml"


def test_sound_store_keeps_every_acked_event_once_through_resets_and_a_projector_crash(run_experiment) -> None:
    run = run_experiment(EXPERIMENT)
    assert run.code == 0, run.explain()
    acked = run.check("no-acknowledged-event-lost")["evidence"]
    assert acked["acks"] > 100 and acked["lost"] == 0
    # Lost acknowledgements happened, and their retries were answered from the log.
    assert run.check("no-duplicate-events")["evidence"]["idempotent_replays_acked"] >= 1
    replay = run.check("replay-equals-projection")["evidence"]
    assert replay["projection_checkpoint"] == replay["log_head_seq"] == acked["log_events"]
    assert leftovers(run.out) == []


def test_a_non_idempotent_append_duplicates_events_and_is_caught(run_experiment) -> None:
    run = run_experiment(EXPERIMENT, "non-idempotent-append")
    assert run.code == 1, run.explain()
    assert "no-duplicate-events" in run.failed, run.explain()
    dup = run.check("no-duplicate-events")
    assert "invariant 'no event is duplicated' violated" in dup["summary"]
    example = dup["evidence"]["examples"][0]
    assert example["command_id"].startswith("cmd-") and len(example["events"]) >= 2
    assert len({e["event_id"] for e in example["events"]}) == len(example["events"])
    # Nothing acknowledged went missing: the defect adds events, it does not lose them.
    assert run.check("no-acknowledged-event-lost")["verdict"] == "passed"
    assert leftovers(run.out) == []


def test_a_volatile_checkpoint_double_applies_after_the_projector_restarts_and_is_caught(run_experiment) -> None:
    run = run_experiment(EXPERIMENT, "volatile-checkpoint")
    assert run.code == 1, run.explain()
    assert run.failed == {"replay-equals-projection"}, run.explain()
    replay = run.check("replay-equals-projection")
    assert "replaying the log gives the live projection" in replay["summary"]
    example = replay["evidence"]["examples"][0]
    assert example["stream_id"].startswith("acct-")
    assert example["projected"]["events"] > example["replayed"]["events"]  # applied again, not skipped
    assert leftovers(run.out) == []
