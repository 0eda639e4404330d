"""More of the catalogue under --runtime docker: a data pattern with PostgreSQL (CQRS) and the
PromQL checks against the run's Prometheus container, each sound and with a defect."""
from __future__ import annotations

from typing import Any, Callable

import pytest

from dockerkit import assert_nothing_left, docker_ready  # noqa: F401  (fixture)
from harness.journal import read_journal

pytestmark = [pytest.mark.integration, pytest.mark.docker]


def test_cqrs_with_its_database_in_a_container_passes(run_experiment: Callable[..., Any], docker_ready: Any) -> None:
    run = run_experiment("experiments/cqrs.yaml", None, "--runtime", "docker")
    assert run.code == 0, run.explain()
    assert run.check("no-lost-updates")["verdict"] == "passed"
    assert_nothing_left(run.out)


def test_cqrs_drop_on_error_loses_updates_in_containers(run_experiment: Callable[..., Any], docker_ready: Any) -> None:
    run = run_experiment("experiments/cqrs.yaml", "drop-on-error", "--runtime", "docker")
    assert run.code == 1, run.explain()
    assert {"reads-consistent", "no-lost-updates"} <= run.failed, run.explain()
    assert_nothing_left(run.out)


def test_promql_checks_read_the_prometheus_container(run_experiment: Callable[..., Any], docker_ready: Any) -> None:
    run = run_experiment("experiments/circuit-breaker-metrics.yaml", None, "--runtime", "docker")
    assert run.code == 0, run.explain()
    history = read_journal(run.out / "journal.jsonl")
    assert history.first("prometheus_scraping")["targets_scraped"] == 3  # a check reads metrics: load waited
    assert run.check("edge-bytes-at-probe-rate")["verdict"] == "passed"  # Toxiproxy's own metrics, scraped
    assert_nothing_left(run.out)


def test_promql_checks_fail_without_the_breaker_in_containers(run_experiment: Callable[..., Any],
                                                              docker_ready: Any) -> None:
    run = run_experiment("experiments/circuit-breaker-metrics.yaml", "breaker-disabled", "--runtime", "docker")
    assert run.code == 1, run.explain()
    assert {"breaker-opens-metric", "payments-calls-at-probe-rate", "edge-bytes-at-probe-rate"} <= run.failed, \
        run.explain()
    assert_nothing_left(run.out)
