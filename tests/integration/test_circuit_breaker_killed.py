"""A crash, not a slow network: payments is killed and started again, on both runtimes.

The breaker must ride it out (open at once, fallback answers, close after the restart); with
the breaker disabled, the breaker checks fail. About 35 s a run.
"""
from __future__ import annotations

from typing import Any, Callable

import pytest

from dockerkit import docker_ready  # noqa: F401  (fixture, for the docker runs)
from harness.journal import read_journal

pytestmark = pytest.mark.integration

EXPERIMENT = "experiments/circuit-breaker-payments-killed.yaml"
RUNTIMES = ["local", pytest.param("docker", marks=pytest.mark.docker)]


@pytest.fixture
def runtime(request: pytest.FixtureRequest) -> str:
    if request.param == "docker":
        request.getfixturevalue("docker_ready")
    return str(request.param)


@pytest.mark.parametrize("runtime", RUNTIMES, indirect=True)
def test_the_breaker_rides_out_a_payments_crash(run_experiment: Callable[..., Any], runtime: str) -> None:
    run = run_experiment(EXPERIMENT, None, "--runtime", runtime)
    assert run.code == 0, run.explain()
    assert run.check("breaker-opens")["evidence"]["delay_s"] < 3
    history = read_journal(run.out / "journal.jsonl")
    assert [r["action"] for r in history.of_kind("service_action")] == ["kill", "start"]
    payments = [r for r in history.of_kind("service_started") if r["service"] == "payments"]
    assert len(payments) == 2, "payments was not started again after the kill"
    if runtime == "docker":
        assert payments[0]["address"] == payments[1]["address"]  # back where Toxiproxy expects it
        from dockerkit import assert_nothing_left

        assert_nothing_left(run.out)


@pytest.mark.parametrize("runtime", RUNTIMES, indirect=True)
def test_without_the_breaker_the_crash_is_not_ridden_out(run_experiment: Callable[..., Any], runtime: str) -> None:
    run = run_experiment(EXPERIMENT, "breaker-disabled", "--runtime", runtime)
    assert run.code == 1, run.explain()
    assert {"breaker-opens", "breaker-closes"} <= run.failed, run.explain()
    # payments is killed as a black hole (a crashed container's address stops answering; the local
    # runtime renders the same): without a breaker every order waits out the timeout.
    assert "fails-fast-while-down" in run.failed
    assert run.check("fails-fast-while-down")["evidence"]["value_ms"] > 300
