"""experiments/circuit-breaker-500.yaml for real: payments answers 500, fast (an HTTP fault).
The breaker must open on 5xx answers as on a slow payments. About 35 s a run."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

EXPERIMENT = "experiments/circuit-breaker-500.yaml"


def test_the_sound_breaker_opens_on_500s_and_lets_only_probes_through(run_experiment) -> None:
    run = run_experiment(EXPERIMENT)
    assert run.code == 0, run.explain()
    (series,) = run.check("only-probes-reach-payments")["evidence"]["series"]
    assert series["value"] <= 3  # the probe rate: one call per 2 s reset timeout


def test_a_breaker_that_counts_only_timeouts_never_opens_and_users_get_the_500s(run_experiment) -> None:
    run = run_experiment(EXPERIMENT, "breaker-ignores-5xx")
    assert run.code == 1, run.explain()
    assert {"breaker-opens", "fallback-keeps-errors-low", "only-probes-reach-payments"} <= run.failed, run.explain()
    assert run.check("fallback-keeps-errors-low")["evidence"]["error_rate"] > 0.5


@pytest.mark.full
def test_without_a_breaker_every_order_calls_the_failing_payments(run_experiment) -> None:
    run = run_experiment(EXPERIMENT, "breaker-disabled")
    assert run.code == 1, run.explain()
    assert {"breaker-opens", "only-probes-reach-payments"} <= run.failed, run.explain()
    # The fallback still answers: users see no errors, only payments sees the load.
    assert run.check("fallback-keeps-errors-low")["verdict"] == "passed"
