"""The api-gateway experiment, sound and with each defect, through the real CLI (about 35 s each)."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

EXPERIMENT = "experiments/api-gateway.yaml"


def test_the_sound_gateway_fails_over_and_keeps_its_deadline(run_experiment) -> None:
    run = run_experiment(EXPERIMENT)
    assert run.code == 0, run.explain()
    failover = run.check("a-fails-over")["evidence"]
    assert failover["failover_time_s"] <= 2 and failover["requests"] >= 30
    assert run.check("one-attempt-timeout-at-most-while-b2-slow")["evidence"]["value_ms"] < 650
    assert run.check("a1-back-in-rotation")["verdict"] == "passed"
    # Judged at the replicas: the slow one got no requests once out of rotation, a1 served again.
    assert run.check("b2-out-of-rotation-while-slow")["evidence"]["calls"] <= 2
    assert run.check("a1-serves-again")["evidence"]["calls"] >= 5


def test_no_failover_is_caught_by_the_failover_checks(run_experiment) -> None:
    run = run_experiment(EXPERIMENT, "no-failover")
    assert run.code == 1, run.explain()
    assert run.failed >= {"a-fails-over", "a-succeeds-during-failover", "a1-back-in-rotation",
                          "b-fails-over-from-slow-replica"}, run.explain()
    failover = run.check("a-fails-over")
    assert "failover never came" in failover["summary"]
    # Round robin keeps sending about half of the requests to the dead replica.
    series = [row["success"] for row in failover["evidence"]["series"] if row["since_anchor_s"] >= 0]
    assert series and all(s is not None and 0.2 <= s <= 0.8 for s in series), series
    # Caught at the replica too: the slow one keeps getting its share.
    assert run.check("b2-out-of-rotation-while-slow")["evidence"]["calls"] > 10
    # Its attempt timeout still holds: this defect is about failover, not time.
    assert run.check("one-attempt-timeout-at-most-while-b2-slow")["verdict"] == "passed"


@pytest.mark.full  # the system's first defect runs in make test; the others under make test-full
def test_no_deadline_is_caught_by_the_deadline_check(run_experiment) -> None:
    run = run_experiment(EXPERIMENT, "no-deadline")
    assert run.code == 1, run.explain()
    assert run.failed >= {"one-attempt-timeout-at-most-while-b2-slow", "b-fails-over-from-slow-replica"}, run.explain()
    slow = run.check("one-attempt-timeout-at-most-while-b2-slow")["evidence"]
    assert slow["value_ms"] >= 3900  # waited out the 4 s slow replica
    assert slow["slowest"][0]["ms"] >= 3900
    # A replica that is down (refusing connections) is still failed over: only time is unbounded.
    assert run.check("a-fails-over")["verdict"] == "passed"
