"""HTTP faults under --runtime docker: the Toxiproxy container is ours (with the HTTP toxics), and
the circuit-breaker-500 experiment runs there as it does locally, sound and with its defect."""
from __future__ import annotations

from typing import Any, Callable

import pytest

from dockerkit import assert_nothing_left, docker_ready  # noqa: F401  (fixture)
from harness.journal import read_journal

pytestmark = [pytest.mark.integration, pytest.mark.docker]

EXPERIMENT = "experiments/circuit-breaker-500.yaml"


def test_payments_answering_500_opens_the_breaker_in_containers(run_experiment: Callable[..., Any],
                                                                docker_ready: Any) -> None:
    run = run_experiment(EXPERIMENT, None, "--runtime", "docker")
    assert run.code == 0, run.explain()
    history = read_journal(run.out / "journal.jsonl")
    (traffic,) = history.of_kind("fault_traffic")
    assert traffic["faulted"] >= 5 and traffic["not_http_connections"] == 0  # 5 failures open the breaker; then probes
    assert_nothing_left(run.out)


@pytest.mark.full
def test_a_breaker_ignoring_5xx_is_caught_in_containers(run_experiment: Callable[..., Any], docker_ready: Any) -> None:
    run = run_experiment(EXPERIMENT, "breaker-ignores-5xx", "--runtime", "docker")
    assert run.code == 1, run.explain()
    assert {"breaker-opens", "fallback-keeps-errors-low"} <= run.failed, run.explain()
    assert_nothing_left(run.out)
