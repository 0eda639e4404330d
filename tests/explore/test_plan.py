"""The explore plan: every edge and service gets every matrix fault, seeded, fitted to a budget."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.explore.faults import MATRIX_FAULTS
from harness.explore.plan import BASELINE_CELL, MINIMUM, Phases, all_cells, make_plan, max_amplification
from harness.system import load_system

MANIFEST = """\
name: shop
locustfile: locustfile.py
entry: front
parameters: {back_timeout: 400ms, attempts: 3}
services:
  back:
    command: ["{python}", "back.py"]
  front:
    command: ["{python}", "front.py"]
    upstreams:
      - {service: back, env: BACK_URL, timeout_param: back_timeout, max_amplification: "attempts * 1.5"}
"""


@pytest.fixture
def system(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "locustfile.py").write_text("# empty\n")
    (tmp_path / "system.yaml").write_text(MANIFEST)
    return load_system(tmp_path / "system.yaml")


def test_every_edge_and_service_gets_every_fault_of_its_kind(system) -> None:  # type: ignore[no-untyped-def]
    cells = all_cells(system)
    assert sorted(c.fault for c in cells if c.target == "front->back") == ["blackhole", "closed", "down",
                                                                           "latency-above", "latency-below", "reset"]
    assert sorted(c.fault for c in cells if c.target == "back") == ["kill", "pause"]
    assert len(cells) == 6 + 2 * 2


def test_latency_faults_straddle_the_callers_timeout_from_its_parameter(system) -> None:  # type: ignore[no-untyped-def]
    by_fault = {c.fault: c for c in all_cells(system) if c.target == "front->back"}
    assert by_fault["latency-below"].attributes == {"latency": 200}
    assert by_fault["latency-above"].attributes == {"latency": 800}
    assert by_fault["reset"].fault_type == "reset_peer" and by_fault["reset"].attributes == {"timeout": 0}
    assert by_fault["blackhole"].fault_type in ("blackhole", "timeout")
    # closed: the answer is an orderly close with no byte, not a reset (a different client path)
    assert by_fault["closed"].fault_type == "limit_data" and by_fault["closed"].attributes == {"bytes": 0}


def test_without_a_timeout_param_the_default_timeout_is_used(tmp_path: Path) -> None:
    (tmp_path / "locustfile.py").write_text("# empty\n")
    (tmp_path / "system.yaml").write_text(MANIFEST.replace(", timeout_param: back_timeout", ""))
    cells = {c.fault: c for c in all_cells(load_system(tmp_path / "system.yaml")) if c.target == "front->back"}
    assert cells["latency-above"].attributes == {"latency": 2000} and cells["latency-above"].timeout_s == 1.0
    assert cells["latency-above"].description.endswith("(no timeout_param on this edge: a default)")


def test_only_a_postgresql_edge_gets_its_connection_cut_after_a_commit(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "locustfile.py").write_text("# empty\n")
    manifest = MANIFEST + """\
  db:
    command: ["{python}", "db.py"]
    health: {type: tcp}
"""
    manifest = manifest.replace(
        "max_amplification: \"attempts * 1.5\"}",
        "max_amplification: \"attempts * 1.5\"}\n      - {service: db, env: DB_URL, url: \"postgresql://u@{host}:{port}/d\"}")
    (tmp_path / "system.yaml").write_text(manifest)
    system = load_system(tmp_path / "system.yaml")
    cut = [c for c in all_cells(system) if c.fault == "lost-after-commit"]
    assert [(c.target, c.fault_type, c.attributes) for c in cut] == [("front->db", "cut_after_match", {"match": "COMMIT"})]
    # A stock toxiproxy-server named in the environment has no cut_after_match: the cell is left out.
    monkeypatch.setattr("harness.explore.plan.explicit_server_problem", lambda: "a stock server")
    assert not [c for c in all_cells(system) if c.fault == "lost-after-commit"]
    assert [c for c in all_cells(system) if c.fault == "down" and c.target == "front->db"]


def test_the_order_is_seeded_and_starts_with_the_baseline(system) -> None:  # type: ignore[no-untyped-def]
    a, b, c = (make_plan(system, seed=s, budget=None) for s in (1, 1, 2))
    assert [x.id for x in a.cells] == [x.id for x in b.cells] != [x.id for x in c.cells]
    assert a.cells[0].fault == BASELINE_CELL and len(a.cells) == 11


def test_a_budget_shortens_the_phases_before_dropping_cells(system) -> None:  # type: ignore[no-untyped-def]
    full = make_plan(system, seed=0, budget=None)
    plan = make_plan(system, seed=0, budget=full.estimate_s * 0.8)
    assert plan.shortened and not plan.dropped and len(plan.cells) == 11
    assert plan.estimate_s <= full.estimate_s * 0.8


def test_a_tight_budget_drops_cells_keeping_each_targets_fail_fast_cell_and_says_which(system) -> None:  # type: ignore[no-untyped-def]
    plan = make_plan(system, seed=0, budget=100)
    assert plan.phases == Phases(MINIMUM.baseline, MINIMUM.fault, MINIMUM.recovery)
    kept = {(c.target, c.fault) for c in plan.cells[1:]}
    assert {("front->back", "down"), ("back", "kill"), ("front", "kill")} <= kept
    assert plan.estimate_s <= 100 and len(plan.cells) + len(plan.dropped) == 11
    assert all(d["reason"].startswith("budget: 100s fit") for d in plan.dropped)


def test_faults_and_targets_can_be_chosen(system) -> None:  # type: ignore[no-untyped-def]
    cells = all_cells(system, faults=["down", "kill"], targets=["front->back", "back"])
    assert {(c.target, c.fault) for c in cells} == {("front->back", "down"), ("back", "kill")}


def test_an_edges_amplification_bound_is_an_expression_over_parameters(system) -> None:  # type: ignore[no-untyped-def]
    assert max_amplification(system, "front->back", 4.0) == (4.5, "max_amplification: attempts * 1.5 = 4.5")


def test_the_matrix_faults_are_a_registry_with_known_names() -> None:
    assert MATRIX_FAULTS.names() == ["blackhole", "closed", "down", "kill", "latency-above", "latency-below",
                                     "lost-after-commit", "pause", "reset"]
