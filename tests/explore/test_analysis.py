"""From an explore's journal to its matrix and checks, over a synthetic journal (no system runs)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from harness.explore.analysis import analyse
from harness.explore.plan import BASELINE_CELL, Cell, Phases, Plan
from harness.journal import History
from harness.system import load_system

PHASES = Phases(baseline=8, fault=10, recovery=12, warmup=2)
MANIFEST = """\
name: shop
locustfile: locustfile.py
entry: front
services:
  back: {command: ["x"]}
  front:
    command: ["x"]
    upstreams: [{service: back, env: BACK_URL}]
audits:
  rows: {http: {service: back, path: /audit}}
invariants:
  no-negative: {expect: "count(rows[v < 0]) == 0"}
"""
Behaviour = Callable[[str, float], tuple[str, float]]
"""(endpoint, seconds since the fault started; negative before it) -> (outcome, ms)"""


def sound(endpoint: str, s: float) -> tuple[str, float]:
    return "ok", 20.0


class JournalBuilder:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = [{"kind": "run_started", "t": 0.0}]
        self.t = 1000.0
        self.conns = 0.0

    def cell(self, index: int, cell: Cell, behaviour: Behaviour = sound, conns_per_request: float = 0.0,
             rows: list[dict[str, Any]] | None = None) -> None:
        t = self.t
        fault = None if cell.fault == BASELINE_CELL else f"c{index:02d}-{cell.fault}"
        self.records.append({"kind": "cell_started", "t": t, "cell": cell.id, "index": index, "fault": fault})
        seg = t + 1
        self.records.append({"kind": "segment_started", "t": seg})
        start = seg + PHASES.warmup + PHASES.baseline
        end = seg + PHASES.warmup + PHASES.total
        if fault:
            self.records.append({"kind": "fault_applied", "t": start, "fault": fault, "type": cell.fault_type,
                                 "target": cell.target})
            self.records.append({"kind": "fault_removed", "t": start + PHASES.fault, "fault": fault})
        for i in range(int((end - seg) * 10)):
            now = seg + i / 10
            for name in ("GET /a", "GET /b"):
                if i % 2:  # 5 requests per second per endpoint
                    outcome, ms = behaviour(name, now - start)
                    self.records.append({"kind": "request", "t": now, "name": name, "ms": ms, "outcome": outcome})
            in_fault = start + 1 <= now < start + PHASES.fault
            self.conns += conns_per_request if in_fault and i % 2 else 0.0
            self.records.append({"kind": "edge_counters", "t": now, "edges": {"front->back": {"conns": self.conns}}})
        self.records.append({"kind": "segment_stopped", "t": end})
        if rows is not None:
            self.records += [{"kind": "invariants_declared", "t": end + 0.5,
                              "invariants": {"no-negative": {"expect": "count(rows[v < 0]) == 0", "audits": ["rows"]}}},
                             {"kind": "quiescence", "t": end + 1, "settled": True, "waited_s": 2.0},
                             {"kind": "invariant_audit", "t": end + 1, "audit": "rows", "value": rows}]
        self.records.append({"kind": "cell_finished", "t": end + 2, "cell": cell.id, "index": index})
        self.t = end + 5

    def history(self) -> History:
        return History(self.records)


def cell(target: str, fault: str, kind: str = "edge", fault_type: str = "") -> Cell:
    return Cell(f"{target} x {fault}", target, kind, fault, fault_type or fault)


BASE = Cell(BASELINE_CELL, "-", "none", BASELINE_CELL)
DOWN = cell("front->back", "down")
SLOW = cell("front->back", "latency-above", fault_type="latency")
RESET = cell("front->back", "reset", fault_type="reset_peer")
KILL = cell("back", "kill", kind="service")


@pytest.fixture
def system(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "locustfile.py").write_text("# empty\n")
    (tmp_path / "system.yaml").write_text(MANIFEST)
    return load_system(tmp_path / "system.yaml")


def a_fails(endpoint: str, s: float) -> tuple[str, float]:
    return ("fail", 2.0) if endpoint == "GET /a" and 0 <= s < PHASES.fault else ("ok", 20.0)


def both_slow(endpoint: str, s: float) -> tuple[str, float]:
    if 0 <= s < PHASES.fault:
        return "ok", 900.0 if endpoint == "GET /a" else 400.0
    return "ok", 20.0


def never_recovers(endpoint: str, s: float) -> tuple[str, float]:
    return ("fail", 2.0) if endpoint == "GET /a" and s >= 0 else ("ok", 20.0)


def still_broken(endpoint: str, s: float) -> tuple[str, float]:
    return ("fail", 2.0) if endpoint == "GET /a" else ("ok", 20.0)


def explore_journal() -> tuple[History, Plan]:
    j = JournalBuilder()
    good, bad = [{"v": 1}], [{"v": 1}, {"v": -3}]
    j.cell(0, BASE, rows=good)
    j.cell(1, DOWN, a_fails, rows=good)
    j.cell(2, SLOW, both_slow, conns_per_request=0.02, rows=good)
    j.cell(3, RESET, never_recovers, conns_per_request=9.0, rows=bad)
    j.cell(4, KILL, still_broken, rows=bad)  # the reset cell's harm lingers into the next cell
    plan = Plan([BASE, DOWN, SLOW, RESET, KILL, cell("front->back", "blackhole", fault_type="timeout")], PHASES,
                invariants=True, dropped=[{"cell": "back x pause", "reason": "budget: 60s fit 6 cells of 30s",
                                           **cell("back", "pause", kind="service").to_dict()}])
    return j.history(), plan


def by_id(matrix: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in matrix["cells"]}


def test_the_endpoints_a_fail_fast_fault_degrades_are_the_ones_that_need_the_edge(system) -> None:  # type: ignore[no-untyped-def]
    history, plan = explore_journal()
    out = analyse(history, system, plan, fail_on=["invariants", "recovery"])
    assert out.matrix["dependencies"]["front->back"] == ["GET /a"]
    cells = by_id(out.matrix)
    assert cells[DOWN.id]["degraded"] == ["GET /a"]
    row = next(e for e in cells[DOWN.id]["endpoints"] if e["endpoint"] == "GET /a")
    assert row["how"] == "errors 0% -> 100%"


def test_a_slow_fault_that_degrades_an_endpoint_that_does_not_need_the_edge_is_a_blast_radius_finding(system) -> None:  # type: ignore[no-untyped-def]
    history, plan = explore_journal()
    cells = by_id(analyse(history, system, plan, fail_on=["invariants", "recovery"]).matrix)
    blast = cells[SLOW.id]["blast_radius"]
    assert blast["verdict"] == "failed" and blast["unexpected"] == ["GET /b"]
    assert "GET /b (p95 20 -> 400 ms)" in blast["summary"]
    assert cells[SLOW.id]["findings"] == ["blast_radius"] and cells[SLOW.id]["verdict"] == "passed"


def test_gated_properties_become_checks_and_a_broken_invariant_names_the_first_cell(system) -> None:  # type: ignore[no-untyped-def]
    history, plan = explore_journal()
    out = analyse(history, system, plan, fail_on=["invariants", "recovery"])
    verdicts = {c.name: c.verdict for c in out.checks}
    assert verdicts["baseline: invariants"] == "passed"
    assert verdicts[f"{DOWN.id}: recovery"] == "passed"
    assert verdicts[f"{RESET.id}: recovery"] == "failed" and verdicts[f"{RESET.id}: invariants"] == "failed"
    kill_inv = next(c for c in out.checks if c.name == f"{KILL.id}: invariants")
    assert f"'no-negative' already broken after {RESET.id}" in kill_inv.summary
    assert {c.type for c in out.checks} == {"explore.invariants", "explore.recovery"}


def test_amplification_is_judged_per_request_when_the_baseline_opened_no_connections(system) -> None:  # type: ignore[no-untyped-def]
    history, plan = explore_journal()
    out = analyse(history, system, plan, fail_on=["amplification"], max_amplification=4.0)
    cells = by_id(out.matrix)
    assert cells[SLOW.id]["amplification"]["verdict"] == "passed"
    reset = cells[RESET.id]["amplification"]
    assert reset["verdict"] == "failed" and reset["ratio"] > 4 and "(max 4)" in reset["summary"]
    assert cells[RESET.id]["verdict"] == "failed"


def test_a_baseline_that_did_not_come_back_is_flagged_on_the_next_cell(system) -> None:  # type: ignore[no-untyped-def]
    history, plan = explore_journal()
    cells = by_id(analyse(history, system, plan, fail_on=["baseline"]).matrix)
    assert cells[DOWN.id]["baseline"]["verdict"] == "passed"
    assert cells[KILL.id]["baseline"]["verdict"] == "failed"
    assert "error rate 50.0% (reference 0.0%)" in cells[KILL.id]["baseline"]["summary"]


def test_cells_not_run_and_cells_dropped_are_listed_as_such(system) -> None:  # type: ignore[no-untyped-def]
    history, plan = explore_journal()
    cells = by_id(analyse(history, system, plan, fail_on=["recovery"]).matrix)
    assert cells["front->back x blackhole"]["status"] == "not run"
    assert cells["back x pause"]["status"] == "dropped" and cells["back x pause"]["verdict"] == "dropped"
