"""`harness list` shows the saga and event-sourcing systems with their defects and experiments."""
from __future__ import annotations

from harness.inventory import inventory


def test_the_data_pattern_systems_are_listed_with_their_defects_and_experiments() -> None:
    listed = inventory()
    systems = {s["name"]: s for s in listed["systems"]}
    assert not listed["invalid"]
    saga = systems["saga"]
    assert [d["name"] for d in saga["defects"]] == ["skip-compensation", "no-compensation-retry"]
    assert {e["path"] for e in saga["experiments"]} == {
        "experiments/saga.yaml", "experiments/saga-participant-killed.yaml", "experiments/saga-orchestrator-killed.yaml"}
    assert {"payments->payments-db", "inventory->inventory-db", "shipping->shipping-db",
            "orchestrator->orchestrator-db"} <= set(saga["edges"])
    es = systems["event-sourcing"]
    assert [d["name"] for d in es["defects"]] == ["non-idempotent-append", "volatile-checkpoint"]
    assert [e["path"] for e in es["experiments"]] == ["experiments/event-sourcing-crashes.yaml", "experiments/event-sourcing.yaml"]
    assert "commands->eventstore" in es["edges"]
