"""The explore plan: which cells run, in which (seeded) order, for how long, within a budget.

A cell is one fault on one target. Every cell runs the same phases on one deployment:

    baseline (load at its steady state; re-checked against the first cell's)
    -> fault -> recovery (fault removed, load continues)
    -> [the system declares invariants: load stops, quiescence, audits]

Cell 0 is a baseline cell with no fault: the reference for every later baseline, and (with
invariants) proof that they hold before anything was faulted.

When the plan does not fit ``budget``, the phases are shortened first (down to ``MINIMUM``),
then cells are dropped: the fail-fast faults of every target before the slower kinds, so each
edge and service keeps its most telling cell. What was shortened or dropped is recorded.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..params import evaluate_bound
from ..faults.capabilities import explicit_server_problem
from .faults import DEFAULT_TIMEOUT_S, MATRIX_FAULTS, MatrixFault

if TYPE_CHECKING:
    from ..system import SystemSpec

BASELINE_CELL = "baseline"


@dataclass(frozen=True)
class Phases:
    baseline: float = 8.0
    fault: float = 10.0
    recovery: float = 12.0
    warmup: float = 2.0
    """Ignored at the start of a cell's load (users spawning, connections opening)."""

    def scaled(self, factor: float, floor: "Phases") -> "Phases":
        return Phases(max(floor.baseline, self.baseline * factor), max(floor.fault, self.fault * factor),
                      max(floor.recovery, self.recovery * factor), self.warmup)

    @property
    def total(self) -> float:
        return self.baseline + self.fault + self.recovery


MINIMUM = Phases(baseline=5.0, fault=6.0, recovery=8.0)
OVERHEAD_S = 3.0
"""Per cell, beyond its phases: starting the load generator, healing, bookkeeping."""
QUIESCENCE_S = 4.0
"""Per cell with invariants: the quiet period and the audits (typical, not the timeout)."""


@dataclass
class Cell:
    id: str
    target: str
    target_kind: str
    fault: str
    """A MATRIX_FAULTS name, or BASELINE_CELL."""
    fault_type: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    timeout_s: float | None = None
    description: str = ""

    @property
    def is_baseline(self) -> bool:
        return self.fault == BASELINE_CELL

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "target": self.target, "target_kind": self.target_kind, "fault": self.fault,
                "fault_type": self.fault_type, "attributes": self.attributes, "caller_timeout_s": self.timeout_s,
                "description": self.description}


@dataclass
class Plan:
    cells: list[Cell]
    phases: Phases
    invariants: bool
    dropped: list[dict[str, Any]] = field(default_factory=list)
    shortened: bool = False
    seed: int = 0

    def cell_seconds(self) -> float:
        return self.phases.total + OVERHEAD_S + (QUIESCENCE_S if self.invariants else 0.0)

    @property
    def estimate_s(self) -> float:
        return len(self.cells) * self.cell_seconds()

    def to_dict(self) -> dict[str, Any]:
        return {"cells": [c.to_dict() for c in self.cells], "phases": self.phases.__dict__,
                "invariants": self.invariants, "estimate_s": round(self.estimate_s, 1), "shortened": self.shortened,
                "dropped": self.dropped, "seed": self.seed}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> "Plan":
        """The plan an explore recorded (``run_started.explore``), to judge its journal again."""
        cells = [Cell(id=c["id"], target=c["target"], target_kind=c["target_kind"], fault=c["fault"],
                      fault_type=c.get("fault_type", ""), attributes=c.get("attributes") or {},
                      timeout_s=c.get("caller_timeout_s"), description=c.get("description", ""))
                 for c in doc.get("cells", [])]
        return cls(cells, Phases(**doc["phases"]), invariants=bool(doc.get("invariants")),
                   dropped=list(doc.get("dropped") or []), shortened=bool(doc.get("shortened")),
                   seed=int(doc.get("seed", 0)))


def edge_timeout(system: "SystemSpec", edge: str) -> float:
    param = system.edges[edge].timeout_param
    if param is None:
        return DEFAULT_TIMEOUT_S
    return float(system.params[param].value)


def all_cells(system: "SystemSpec", faults: list[str] | None = None, targets: list[str] | None = None) -> list[Cell]:
    """Every edge x every edge fault, every service x every service fault (filtered), in manifest order."""
    wanted = set(faults) if faults else None
    stock_server = explicit_server_problem() is not None
    cells: list[Cell] = []
    for edge in system.edges:
        if targets and edge not in targets:
            continue
        timeout = edge_timeout(system, edge)
        for name in MATRIX_FAULTS:
            mf = MATRIX_FAULTS.get(name)
            if mf.needs_http_toxics and stock_server:
                continue
            if not mf.applies(system.edges[edge].url):
                continue
            if mf.target_kind == "edge" and (wanted is None or name in wanted):
                cell = _cell(edge, mf, timeout)
                if system.edges[edge].timeout_param is None and "timeout" in cell.description:
                    cell.description += " (no timeout_param on this edge: a default)"
                cells.append(cell)
    for service, svc in system.services.items():
        if (targets and service not in targets) or svc.external:  # one already running is not ours to kill
            continue
        for name in MATRIX_FAULTS:
            mf = MATRIX_FAULTS.get(name)
            if mf.target_kind == "service" and (wanted is None or name in wanted):
                cells.append(_cell(service, mf, None))
    return cells


def _cell(target: str, mf: MatrixFault, timeout: float | None) -> Cell:
    ftype, attrs = mf.build(timeout if timeout is not None else DEFAULT_TIMEOUT_S)
    return Cell(id=f"{target} x {mf.name}", target=target, target_kind=mf.target_kind, fault=mf.name, fault_type=ftype,
                attributes=attrs, timeout_s=timeout, description=mf.describe(timeout or DEFAULT_TIMEOUT_S))


def make_plan(system: "SystemSpec", *, seed: int, budget: float | None, phases: Phases = Phases(),
              faults: list[str] | None = None, targets: list[str] | None = None) -> Plan:
    cells = all_cells(system, faults, targets)
    rng = random.Random(seed)
    rng.shuffle(cells)  # the run order, seeded: a cell's effects may linger into the next
    plan = Plan([Cell(BASELINE_CELL, "-", "none", BASELINE_CELL, description="no fault: the reference")] + cells,
                phases, invariants=bool(system.invariants), seed=seed)
    if budget is None or plan.estimate_s <= budget:
        return plan
    # Shorten every phase by the same factor, as far as the minimum allows (the overhead stays).
    fixed = plan.cell_seconds() - phases.total
    factor = max(0.0, budget / len(plan.cells) - fixed) / phases.total
    plan.phases = phases.scaled(factor, MINIMUM)
    plan.shortened = plan.phases != phases
    if plan.estimate_s <= budget:
        return plan
    # Then drop cells: the most telling fault of each target first, the rest by priority.
    keep = max(0, int(budget // plan.cell_seconds()) - 1)
    ranked = sorted(cells, key=lambda c: (MATRIX_FAULTS.get(c.fault).priority, rng.random()))
    kept = {c.id for c in ranked[:keep]}
    plan.dropped = [{"cell": c.id, "reason": f"budget: {budget:g}s fit {keep + 1} cells of "
                                              f"{plan.cell_seconds():.0f}s", **c.to_dict()} for c in ranked[keep:]]
    plan.cells = [plan.cells[0]] + [c for c in cells if c.id in kept]
    return plan


def max_amplification(system: "SystemSpec", edge: str, default: float) -> tuple[float, str]:
    """The bound for an edge's amplification: its upstream's ``max_amplification`` (a number or an
    expression over parameters), else ``default``; and how it was obtained."""
    source = next((up.max_amplification for name, svc in system.services.items() for up in svc.upstreams
                   if (up.name or f"{name}->{up.service}") == edge), None)
    if source is None:
        return default, f"bound {default:g}: the default"
    if isinstance(source, (int, float)):
        return float(source), f"max_amplification: {source:g}"
    q, _ = evaluate_bound(str(source), system.params)
    return q.value, f"max_amplification: {source} = {q.value:g}"
