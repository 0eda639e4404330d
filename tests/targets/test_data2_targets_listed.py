"""`harness list --json` shows the CQRS and database-per-service systems with their defects
and experiments, read from the files alone (no process is started)."""
from __future__ import annotations

from harness.inventory import inventory


def test_cqrs_and_database_per_service_are_listed_with_their_defects_and_experiments() -> None:
    listed = inventory()
    assert not [i for i in listed["invalid"] if "cqrs" in i["path"] or "database-per-service" in i["path"]]
    systems = {s["name"]: s for s in listed["systems"]}
    cqrs, dbps = systems["cqrs"], systems["database-per-service"]
    assert [d["name"] for d in cqrs["defects"]] == ["drop-on-error", "non-idempotent-projection"]
    assert [e["path"] for e in cqrs["experiments"]] == ["experiments/cqrs-crashes.yaml", "experiments/cqrs-write-side.yaml",
                                                       "experiments/cqrs.yaml"]
    assert "projector->query" in cqrs["edges"]
    assert [d["name"] for d in dbps["defects"]] == ["shared-database"]
    assert sorted(e["path"] for e in dbps["experiments"]) == ["experiments/database-per-service-down.yaml",
                                                              "experiments/database-per-service.yaml"]
    assert {"catalog->db", "users->db", "orders->db"} <= set(dbps["edges"])
