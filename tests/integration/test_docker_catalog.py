"""Every reference system under --runtime docker, as it really runs: its services in containers, a
dead one's address silent (a black hole), not refusing.

``make test``: one shortened copy of an experiment per system (short_experiment.py: some of its
faults, re-timed, the load ending as long after them as the original's), sound, expected to pass.
The circuit breaker and CQRS run whole experiments in containers elsewhere (test_docker_runtime.py,
test_circuit_breaker_killed.py, test_docker_http_faults.py, test_docker_experiments.py).
``make test-full``: every experiment of the catalogue whole, sound, and every built-in defect on
the experiment that catches it locally, in containers. Figures: benchmarks/docker-catalog.md.

Runs are isolated by their network and labels, so two go at once (pytest -n 2; the machine-wide
experiment slots of tests/slots.py still cap the experiments of every session).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from dockerkit import assert_nothing_left, docker_ready  # noqa: F401  (fixture)
from short_experiment import ROOT, shorten

def in_containers(test: Callable[..., None]) -> Callable[..., None]:
    return pytest.mark.integration(pytest.mark.docker(test))

# In the ACL's copy: the ACL itself dies (its container's address silent) and customers must
# still give its clean 503 promptly; a connect timeout as long as its 5 s backstop would not.
ACL_GONE = {"name": "acl-gone", "type": "kill", "service": "acl", "attributes": {"mode": "blackhole"},
            "start": "15s", "duration": "3s"}
ACL_GONE_CHECKS = [
    {"name": "fails-fast-without-the-acl",
     "description": "with the ACL's address silent, customers answers its 503 within the legacy deadline",
     # No skip: with a 5 s connect timeout every user hangs from the onset, and the few requests
     # that start in the window start at once; skipping them would leave nothing to judge.
     "type": "latency", "window": {"during": "acl-gone"}, "percentile": 95,
     "max": "legacy_timeout", "min_requests": 3},
    {"name": "no-acl-is-a-clean-domain-error",
     "description": "with the ACL gone, customers' answers are its degraded 503",
     "type": "conformance", "requests": {"name_regex": "^GET /customers/"},
     "window": {"during": "acl-gone", "skip": "200ms", "length": "2500ms"},
     "by_status": {503: {"type": "object", "required": ["error", "degraded"],
                         "properties": {"degraded": {"const": True}}}},
     "statuses": [503]},
]

# system -> (experiment, {fault kept: its new start}, extra faults, extra checks)
SHORT: dict[str, tuple[str, dict[str, str], list[dict[str, Any]], list[dict[str, Any]]]] = {
    "aggregator": ("experiments/aggregator.yaml",
                   {"orders-down": "5s", "loyalty-answers-502": "5s", "profile-slow": "11s", "orders-slow": "11s"},
                   [], []),
    "anti-corruption-layer": ("experiments/anti-corruption-layer.yaml",
                              {"legacy-slow": "4s", "acl-answers-reset": "4s", "legacy-resets": "10s"},
                              [ACL_GONE], ACL_GONE_CHECKS),
    "api-gateway": ("experiments/api-gateway.yaml", {"a1-down": "5s", "b2-slow": "5s"}, [], []),
    "bff": ("experiments/bff.yaml",
            {"reviews-down": "5s", "reviews-answers-502-web-edge": "5s", "catalog-slow": "11s",
             "catalog-slow-web-edge": "11s"}, [], []),
    "database-per-service": ("experiments/database-per-service.yaml", {"catalog-db-hang": "8s"}, [], []),
    "event-sourcing": ("experiments/event-sourcing.yaml", {"store-acks-lost": "6s", "projector-killed": "11s"}, [], []),
    "saga": ("experiments/saga-participant-killed.yaml", {"inventory-killed": "8s"}, [], []),
    "sidecar": ("experiments/sidecar.yaml", {"inventory-hangs": "7s", "sidecar-gone": "14s"}, [], []),
}
ELSEWHERE = {"circuit-breaker", "cqrs"}  # whole experiments in containers in the files named above

# defect -> the experiment that catches it locally and the check that names what it breaks
# (the system's own tests say which; more checks may fail besides)
DEFECTS: dict[tuple[str, str], tuple[str, str]] = {
    ("aggregator", "wait-for-all"): ("experiments/aggregator.yaml", "answers-within-deadline-while-loyalty-slow"),
    ("anti-corruption-layer", "pass-through"): ("experiments/anti-corruption-layer.yaml", "domain-answers-conform"),
    ("anti-corruption-layer", "no-deadline"): ("experiments/anti-corruption-layer.yaml",
                                               "slow-legacy-is-cut-at-the-deadline"),
    ("api-gateway", "no-failover"): ("experiments/api-gateway.yaml", "a-fails-over"),
    ("api-gateway", "no-deadline"): ("experiments/api-gateway.yaml", "one-attempt-timeout-at-most-while-b2-slow"),
    ("api-gateway", "no-retry-on-5xx"): ("experiments/api-gateway-503.yaml", "a-succeeds-while-a1-answers-503"),
    ("bff", "shared-fate"): ("experiments/bff.yaml", "web-isolated-from-recommendations"),
    ("circuit-breaker", "breaker-disabled"): ("experiments/circuit-breaker.yaml", "breaker-opens"),
    ("circuit-breaker", "breaker-ignores-5xx"): ("experiments/circuit-breaker-500.yaml", "breaker-opens"),
    ("cqrs", "drop-on-error"): ("experiments/cqrs.yaml", "no-lost-updates"),
    ("cqrs", "non-idempotent-projection"): ("experiments/cqrs.yaml", "no-duplicate-updates"),
    ("database-per-service", "shared-database"): ("experiments/database-per-service.yaml",
                                                  "users-path-isolated-from-slow-catalog-db"),
    ("event-sourcing", "non-idempotent-append"): ("experiments/event-sourcing.yaml", "no-duplicate-events"),
    ("event-sourcing", "volatile-checkpoint"): ("experiments/event-sourcing.yaml", "replay-equals-projection"),
    ("saga", "skip-compensation"): ("experiments/saga.yaml", "effects-atomic"),
    ("saga", "no-compensation-retry"): ("experiments/saga.yaml", "every-saga-ends"),
    ("sidecar", "no-retries"): ("experiments/sidecar.yaml", "masks-resets"),
    ("sidecar", "no-timeout"): ("experiments/sidecar.yaml", "budget-enforced"),
    ("sidecar", "app-waits-for-sidecar"): ("experiments/sidecar.yaml", "fails-fast-without-sidecar"),
    ("sidecar", "no-backoff"): ("experiments/sidecar-5xx.yaml", "tries-within-attempts-in-the-burst"),
}

# Defects whose hang starves the checked window under closed-loop load: in containers (04:40,
# benchmarks/docker-catalog.md) shared-fate left 8 web requests in the window, 10 needed, so the
# isolation check said unknown (the run still exited 1) where locally it fails. Since main's
# 7acb28f the isolation check fails a collapsed rate instead; "failed" is accepted here too, so
# this entry can go once a docker run has shown it failing.
STARVED = {("bff", "shared-fate")}


def systems() -> dict[str, list[str]]:
    """Each reference system and its declared defects, from the manifests."""
    out = {}
    for manifest in sorted((ROOT / "targets").glob("*/system.yaml")):
        doc = yaml.safe_load(manifest.read_text())
        out[doc["name"]] = sorted(doc.get("defects") or {})
    return out


def test_every_system_and_defect_has_its_container_run() -> None:
    """A system or defect added to the catalogue must be added here (or it is not proven in containers)."""
    found = systems()
    assert set(SHORT) | ELSEWHERE == set(found)
    assert set(DEFECTS) == {(s, d) for s, defects in found.items() for d in defects}


@in_containers
@pytest.mark.parametrize("system", sorted(SHORT))
def test_a_shortened_experiment_passes_in_containers(system: str, run_experiment: Callable[..., Any],
                                                     docker_ready: Any, tmp_path: Path) -> None:
    experiment, keep, faults, checks = SHORT[system]
    copy = shorten(experiment, keep, tmp_path / "experiment", extra_faults=faults, extra_checks=checks)
    run = run_experiment(str(copy), None, "--runtime", "docker", "--catalog", str(ROOT))
    assert run.code == 0, run.explain()
    assert run.result["verdict"] == "passed" and not run.failed
    assert_nothing_left(run.out)


@in_containers
@pytest.mark.full
@pytest.mark.parametrize("experiment", sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "experiments").glob("*.yaml")))
def test_every_experiment_passes_whole_in_containers(experiment: str, run_experiment: Callable[..., Any],
                                                     docker_ready: Any) -> None:
    run = run_experiment(experiment, None, "--runtime", "docker")
    assert run.code == 0, run.explain()
    assert_nothing_left(run.out)


@in_containers
@pytest.mark.full
@pytest.mark.parametrize("system,defect", sorted(DEFECTS))
def test_every_defect_is_caught_in_containers(system: str, defect: str, run_experiment: Callable[..., Any],
                                              docker_ready: Any) -> None:
    experiment, caught_by = DEFECTS[(system, defect)]
    run = run_experiment(experiment, defect, "--runtime", "docker")
    assert run.code == 1, run.explain()
    check = run.check(caught_by)
    if (system, defect) in STARVED:
        # The hang itself starves the window: judged "too few requests", which the run counts too.
        assert check["verdict"] == "failed" or (check["verdict"] == "unknown" and "too few" in check["summary"]), \
            run.explain()
    else:
        assert caught_by in run.failed, run.explain()
    assert_nothing_left(run.out)
