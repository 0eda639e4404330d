"""The five edge-pattern systems ship with their experiment and defects, and every experiment validates."""
from __future__ import annotations

import pytest

from harness.inventory import inventory

EXPECTED = {
    "api-gateway": (["no-failover", "no-deadline"], "experiments/api-gateway.yaml",
                    {"down", "latency", "reset_peer", "slicer"}),
    "bff": (["shared-fate"], "experiments/bff.yaml", {"latency", "down", "slicer", "http_status"}),
    "aggregator": (["wait-for-all"], "experiments/aggregator.yaml", {"latency", "down", "slicer", "reset_peer", "http_status"}),
    "sidecar": (["no-retries", "no-timeout", "app-waits-for-sidecar"], "experiments/sidecar.yaml",
                {"reset_peer", "latency", "timeout", "kill"}),
    "anti-corruption-layer": (["pass-through", "no-deadline"], "experiments/anti-corruption-layer.yaml",
                              {"slicer", "limit_data", "truncate", "latency", "reset_peer", "blackhole"}),
}


@pytest.fixture(scope="module")
def systems() -> dict:
    listed = inventory()
    assert not [i for i in listed["invalid"] if any(name in i["path"] for name in EXPECTED)], listed["invalid"]
    return {s["name"]: s for s in listed["systems"]}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_system_is_listed_with_its_defects_and_experiment(systems: dict, name: str) -> None:
    defects, path, faults = EXPECTED[name]
    system = systems[name]
    # Other experiments (the HTTP fault ones) may add defects and experiments of their own.
    assert set(defects) <= {d["name"] for d in system["defects"]}
    assert all(d["description"] for d in system["defects"])
    [experiment] = [e for e in system["experiments"] if e["path"] == path]
    assert set(experiment["faults"]) == faults


def test_every_gateway_replica_is_its_own_edge(systems: dict) -> None:
    assert systems["api-gateway"]["edges"] == [f"gateway->backend-{r}" for r in ("a1", "a2", "b1", "b2")]


def test_the_domain_reaches_legacy_only_through_the_acl(systems: dict) -> None:
    assert set(systems["anti-corruption-layer"]["edges"]) == {"customers->acl", "acl->legacy"}
