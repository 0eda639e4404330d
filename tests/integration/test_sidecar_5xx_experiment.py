"""experiments/sidecar-5xx.yaml for real: inventory answers 503 to a share of requests, then to all
of them (HTTP faults). The sidecar masks the first within its budget; in the second its tries stay
within its attempts, where retrying at once until the budget is spent is a retry storm. About 35 s."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

EXPERIMENT = "experiments/sidecar-5xx.yaml"


def test_the_sound_sidecar_masks_503s_and_keeps_its_tries_within_its_attempts(run_experiment) -> None:
    run = run_experiment(EXPERIMENT)
    assert run.code == 0, run.explain()
    assert run.check("masks-503s")["evidence"]["error_rate"] <= 0.03
    assert run.check("tries-within-attempts-in-the-burst")["evidence"]["ratio"] <= 5


def test_retrying_without_backoff_is_caught_by_the_rate_of_tries_reaching_inventory(run_experiment) -> None:
    run = run_experiment(EXPERIMENT, "no-backoff")
    assert run.code == 1, run.explain()
    # It masks as well as the sound sidecar and answers within its budget: only the load it
    # puts on inventory gives it away.
    assert run.failed == {"tries-within-attempts-in-the-burst"}, run.explain()
    assert run.check("tries-within-attempts-in-the-burst")["evidence"]["ratio"] > 5
