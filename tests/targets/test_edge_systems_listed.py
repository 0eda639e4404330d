"""The sidecar and anti-corruption-layer systems ship with their experiment and defects."""
from __future__ import annotations

from harness.inventory import inventory


def test_list_names_the_sidecar_and_acl_systems_with_their_defects_and_experiments() -> None:
    systems = {s["name"]: s for s in inventory()["systems"]}
    sidecar, acl = systems["sidecar"], systems["anti-corruption-layer"]
    assert [d["name"] for d in sidecar["defects"]] == ["no-retries", "no-timeout", "app-waits-for-sidecar"]
    assert [e["path"] for e in sidecar["experiments"]] == ["experiments/sidecar.yaml"]
    assert sidecar["experiments"][0]["faults"] == ["reset_peer", "latency", "kill"]
    assert [d["name"] for d in acl["defects"]] == ["pass-through", "no-deadline"]
    assert [e["path"] for e in acl["experiments"]] == ["experiments/anti-corruption-layer.yaml"]
    assert acl["experiments"][0]["faults"] == ["slicer", "limit_data", "latency"]
    assert set(acl["edges"]) == {"customers->acl", "acl->legacy"}
