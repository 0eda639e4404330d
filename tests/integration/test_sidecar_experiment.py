"""experiments/sidecar.yaml for real: passes on the sound system, and each defect of the
sidecar system fails the check that measures what it breaks. About 35 s per run."""
from __future__ import annotations

import pytest

from harness.journal import read_journal

pytestmark = pytest.mark.integration

EXPERIMENT = "experiments/sidecar.yaml"


def test_the_sound_sidecar_masks_faults_keeps_its_budget_and_the_app_fails_fast(run_experiment) -> None:
    run = run_experiment(EXPERIMENT)
    assert run.code == 0, run.explain()
    assert run.result["verdict"] == "passed" and not run.failed
    assert run.check("masks-resets")["evidence"]["error_rate"] <= 0.05
    assert run.check("budget-enforced")["evidence"]["value_ms"] <= 1300
    # Judged at inventory: no lookup cost more than 4 tries, no reservation was made twice.
    assert run.check("tries-per-lookup-while-hanging")["evidence"]["most_calls_on_one_path"] <= 4
    reservations = run.check("reservations-made-at-most-once")["evidence"]
    assert reservations["acknowledged"] > 50 and "doubled" not in reservations
    assert run.check("effects-hold")["verdict"] == "passed"
    history = read_journal(run.out / "journal.jsonl")
    actions = [(r["service"], r["action"]) for r in history.of_kind("service_action")]
    assert actions == [("sidecar", "kill"), ("sidecar", "start")]
    # Started twice: once at setup, once when the kill fault ended.
    assert len([e for e in history.events if e.get("type") == "sidecar_started"]) == 2


def test_without_retries_transient_faults_reach_the_app(run_experiment) -> None:
    run = run_experiment(EXPERIMENT, "no-retries")
    assert run.code == 1, run.explain()
    assert {"masks-resets", "masks-slow-connections"} <= run.failed, run.explain()
    # One try per request: roughly the toxicity (30%) of requests fail.
    assert run.check("masks-resets")["evidence"]["error_rate"] > 0.1
    assert run.check("masks-resets")["evidence"]["examples"][0]["status"] == 503


@pytest.mark.full  # the system's first defect runs in make test; the others under make test-full
def test_without_timeouts_slow_connections_hold_requests_past_the_budget(run_experiment) -> None:
    run = run_experiment(EXPERIMENT, "no-timeout")
    assert run.code == 1, run.explain()
    assert "budget-enforced" in run.failed, run.explain()
    evidence = run.check("budget-enforced")["evidence"]
    assert evidence["value_ms"] >= 3500  # waited out the 4 s slow connection
    assert evidence["slowest"][0]["ms"] >= 3500


@pytest.mark.full  # the system's first defect runs in make test; the others under make test-full
def test_an_app_that_waits_for_its_sidecar_does_not_fail_fast(run_experiment) -> None:
    run = run_experiment(EXPERIMENT, "app-waits-for-sidecar")
    assert run.code == 1, run.explain()
    assert "fails-fast-without-sidecar" in run.failed, run.explain()
    assert run.check("fails-fast-without-sidecar")["evidence"]["value_ms"] >= 1000
