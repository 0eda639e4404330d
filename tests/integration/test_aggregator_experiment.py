"""The aggregator experiment, sound and with its defect, through the real CLI (about 35 s each)."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

EXPERIMENT = "experiments/aggregator.yaml"


def test_the_sound_aggregator_answers_partially_within_its_deadline(run_experiment) -> None:
    run = run_experiment(EXPERIMENT)
    assert run.code == 0, run.explain()
    slow = run.check("answers-within-deadline-while-loyalty-slow")["evidence"]
    assert slow["value_ms"] < 750 and slow["requests"] >= 20
    assert run.check("partial-answers-while-orders-down")["evidence"]["error_rate"] == 0
    assert run.check("loyalty-marked-missing")["evidence"]["conforming"] >= 10
    # Two slow parts cost one deadline, not two; each part got one call per dashboard.
    assert run.check("two-slow-parts-cost-one-deadline")["evidence"]["value_ms"] < 750
    assert run.check("one-call-per-dashboard-to-resetting-profile")["evidence"]["calls_per_request"] <= 1.2


def test_wait_for_all_is_caught_by_the_deadline_and_the_partial_answer_checks(run_experiment) -> None:
    run = run_experiment(EXPERIMENT, "wait-for-all")
    assert run.code == 1, run.explain()
    assert run.failed >= {"answers-within-deadline-while-loyalty-slow", "loyalty-marked-missing",
                          "partial-answers-while-orders-down"}, run.explain()
    # It waited out the 3 s slow part instead of answering without it ...
    assert run.check("answers-within-deadline-while-loyalty-slow")["evidence"]["value_ms"] >= 2900
    # ... and failed the whole answer when one part was down.
    down = run.check("partial-answers-while-orders-down")["evidence"]
    assert down["error_rate"] > 0.9 and "HTTP 502" in down["examples"][0]["error"]
