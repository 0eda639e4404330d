"""experiments/circuit-breaker-payments-unwell.yaml: answers lost after the charge, answers that drip.

Sound, the breaker opens on both, only probes reach payments, and every acknowledged order is
charged exactly once (the charges whose answers were lost are found again by the sweep). With
the breaker disabled, the load on payments shows it (about 40 s a run).
"""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

EXPERIMENT = "experiments/circuit-breaker-payments-unwell.yaml"


def test_the_sound_breaker_rides_out_lost_and_dripping_answers_without_double_charges(run_experiment) -> None:
    run = run_experiment(EXPERIMENT)
    assert run.code == 0, run.explain()
    money = run.check("every-acknowledged-order-charged-once")["evidence"]
    # Orders whose answers were lost were pending; the sweep charged them, once.
    assert money["acknowledged"] > 500 and "doubled" not in money and "lost" not in money
    assert run.check("payments-load-while-answers-are-lost")["evidence"]["calls"] <= 5


@pytest.mark.full
def test_without_a_breaker_every_order_reaches_the_unwell_payments(run_experiment) -> None:
    run = run_experiment(EXPERIMENT, "breaker-disabled")
    assert run.code == 1, run.explain()
    assert {"payments-load-while-answers-are-lost", "payments-load-while-answers-drip",
            "timeout-bounds-the-whole-call"} <= run.failed, run.explain()
    assert run.check("payments-load-while-answers-drip")["evidence"]["calls"] > 20
