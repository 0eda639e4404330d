"""From an explore's journal to its impact matrix and its checks: a pure function of the history.

Each cell's records (between its ``cell_started`` and ``cell_finished``) are read as a run of
their own (load start and stop are the cell's), so the ordinary checks judge them:

    impact          per endpoint, fault window vs the cell's baseline (:mod:`.impact`)
    recovery        back to the cell's baseline within ``recovery_within`` (the ``recovery`` check)
    amplification   bytes per request on the faulted edge (a service: on the edges into it)
                    vs the baseline, at most the upstream's ``max_amplification`` (the check)
    invariants      the manifest's invariants after the cell's quiescence (the ``invariant`` check)
    blast-radius    a slow fault degrades only endpoints the fail-fast fault on the same target
                    degraded (the ones that need it, learned from the ``down``/``kill`` cell)
    baseline        the cell's baseline is still the reference cell's (the last cell left no harm)

The properties named in ``fail_on`` become the run's checks (and so its exit code); all of
them land in the matrix.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..checks.amplification import AmplificationParams, amplification
from ..checks.invariant import InvariantParams, invariant
from ..checks.recovery import RecoveryParams, recovery
from ..checks.registry import CheckResult, Outcome, merge_verdicts
from ..checks.selection import select_requests
from ..checks.windows import FaultWindowSpec, Windows
from ..data.table import RequestTable
from ..journal import History, Record
from ..system import SystemSpec
from .faults import DEPENDENCY_PROBE, MATRIX_FAULTS
from .impact import baseline_drift, degraded, endpoint_impact, stats
from .plan import BASELINE_CELL, Plan, max_amplification

GATES = ("invariants", "recovery", "amplification", "blast-radius", "baseline")
COLUMNS = {"edge": ["down", "reset", "latency-below", "latency-above", "blackhole"], "service": ["kill", "pause"]}
SKIP_S = 1.0
"""The first second of a fault window is left out: the fault's onset, not its steady effect."""
COUNTER_MARGIN_S = 2.0
RECOVERY = {"percentile": 90, "sustain": 2.0}
"""Back to normal: 2 s of requests at the baseline's error rate (+2 points) and p90 (x2 + 50 ms)."""
RELATIVE_ABOVE = 0.2
"""New connections per request in the baseline above which amplification is judged as a ratio."""


@dataclass
class Analysis:
    checks: list[CheckResult]
    matrix: dict[str, Any]


@dataclass
class CellRun:
    start: Record
    records: list[Record]
    finished: bool

    @property
    def index(self) -> int:
        return int(self.start.get("index", 0))


def cell_runs(history: History) -> dict[str, CellRun]:
    """Each cell's own records, in journal order; edge counters by time (they are drained late)."""
    runs: dict[str, CellRun] = {}
    current: CellRun | None = None
    counters = [r for r in history.records if r["kind"] == "edge_counters"]
    for r in history.records:
        if r["kind"] == "cell_started":
            current = runs[r["cell"]] = CellRun(r, [], False)
        elif current is not None and r["kind"] != "edge_counters":
            current.records.append(r)
            if r["kind"] == "cell_finished":
                current.finished = True
                current = None
    for run in runs.values():
        lo = run.start["t"] - COUNTER_MARGIN_S
        hi = (run.records[-1]["t"] if run.records else run.start["t"]) + COUNTER_MARGIN_S
        run.records.extend(r for r in counters if lo <= r["t"] <= hi)
    return runs


def cell_history(run: CellRun, warmup: float, requests: RequestTable) -> History | None:
    """The cell as a run of its own (its load's start and stop, its requests), or None if its load never started."""
    seg = next((r for r in run.records if r["kind"] == "segment_started"), None)
    if seg is None:
        return None
    stop = next((r for r in run.records if r["kind"] == "segment_stopped"), None)
    mine = requests.between(seg["t"], stop["t"] if stop else None, include_end=True)
    end = stop["t"] if stop else (float(mine.t[-1]) if len(mine) else seg["t"])
    body = [r for r in run.records if r["kind"] not in ("segment_started", "segment_stopped")]
    return History([{"kind": "run_started", "t": run.start["t"], "steady_state": {"warmup": warmup, "settle": 0.0}},
                    {"kind": "load_started", "t": seg["t"]}, *body, {"kind": "load_stopped", "t": end}], mine)


def _prop(outcome: Outcome, **extra: Any) -> dict[str, Any]:
    return {"verdict": outcome.verdict, "summary": outcome.summary, **extra, "evidence": outcome.evidence}


def analyse(history: History, system: SystemSpec, plan: Plan, *, fail_on: list[str], max_amplification: float = 4.0,
            recovery_within: float | None = None) -> Analysis:
    ph = plan.phases
    within = recovery_within if recovery_within is not None else max(1.0, min(8.0, ph.recovery - 2.0))
    runs = cell_runs(history)
    cells: list[dict[str, Any]] = []
    reference: dict[str, Any] | None = None
    broken_before: dict[str, str] = {}  # invariant -> the cell after which it first failed
    for cell in plan.cells:
        row: dict[str, Any] = {**cell.to_dict(), "status": "not run"}
        cells.append(row)
        run = runs.get(cell.id)
        h = cell_history(run, ph.warmup, history.requests) if run is not None else None
        if run is None or h is None:
            continue
        row.update(status="ran" if run.finished else "interrupted", index=run.index)
        windows = Windows(h)
        before = windows.resolve("before")
        base = stats(select_requests(h.requests, before, None) if before.known else RequestTable.empty())
        row["baseline_stats"] = base
        if cell.is_baseline:
            reference = base
        elif reference is not None:
            drift = baseline_drift(reference, base)
            row["baseline"] = {"verdict": "failed" if drift else "passed",
                               "summary": f"baseline off the reference: {drift}" if drift
                               else "baseline as the reference"}
        fault = run.start.get("fault")
        if fault is not None:
            fw = h.faults().get(fault)
            row["applied"] = fw is not None and fw.applied is not None
            during = windows.resolve(FaultWindowSpec.model_validate({"during": fault, "skip": SKIP_S}))
            if during.known and before.known:
                row["endpoints"] = endpoint_impact(h, before, during)
                row["degraded"] = degraded(row["endpoints"])
            params = RecoveryParams.model_validate({"fault": fault, "within": within, **RECOVERY})
            row["recovery"] = _prop(recovery(h, params, windows))
            amp = _amplification(h, windows, system, cell.target, cell.target_kind, fault, max_amplification)
            if amp is not None:  # a service no edge leads to (the entry) puts no load anywhere to measure
                row["amplification"] = amp
        if h.first("invariants_declared") is not None:
            out = invariant(h, InvariantParams.model_validate({}), windows)
            broken = [i["name"] for i in out.evidence.get("invariants", []) if i["verdict"] == "failed"]
            inherited = {b: broken_before[b] for b in broken if b in broken_before}
            if inherited:
                out.summary += " (" + "; ".join(f"'{b}' already broken after {c}" for b, c in inherited.items()) + ")"
            for b in broken:
                broken_before.setdefault(b, cell.id)
            row["invariants"] = _prop(out, broken=broken, inherited=sorted(inherited))
    cells += [{**{k: v for k, v in d.items() if k != "cell"}, "status": "dropped"} for d in plan.dropped]
    dependencies = _dependencies(cells)
    for row in cells:
        mf = MATRIX_FAULTS.get(row["fault"]) if row["fault"] != BASELINE_CELL else None
        if mf is not None and mf.slow and "degraded" in row:
            row["blast_radius"] = _blast_radius(row, dependencies.get(row["target"]))
    checks = _checks(cells, fail_on)
    for row in cells:
        gated = [row[k]["verdict"] for k in _KEYS if k in row and _KEYS[k] in fail_on]
        row["verdict"] = merge_verdicts(gated) if gated else (row["status"] if row["status"] in ("not run", "dropped")
                                                              else "passed")
        row["findings"] = [k for k in _KEYS if k in row and row[k]["verdict"] == "failed" and _KEYS[k] not in fail_on]
    matrix = {"system": system.name, "seed": plan.seed, "phases": ph.__dict__, "fail_on": fail_on,
              "recovery_within_s": within, "max_amplification_default": max_amplification,
              "shortened": plan.shortened, "dropped": plan.dropped, "columns": COLUMNS,
              "rows": _rows(system, dependencies), "dependencies": dependencies,
              "cells": [_without_evidence(c) for c in cells]}
    return Analysis(checks, matrix)


def reanalyse(history: History) -> Analysis:
    """Judge a finished explore again from its journal (``harness report``), as it was judged when it ran."""
    from ..system import load_system

    run = history.run
    opts = run.get("explore_options") or {}
    system = load_system(run["experiment_path"])
    return analyse(history, system, Plan.from_dict(run["explore"]), fail_on=list(opts.get("fail_on") or GATES[:2]),
                   max_amplification=float(opts.get("max_amplification", 4.0)),
                   recovery_within=opts.get("recovery_within"))


def _without_evidence(row: dict[str, Any]) -> dict[str, Any]:
    """The matrix keeps verdicts and numbers; the evidence stays with the checks (result.json stays small)."""
    return {k: ({kk: vv for kk, vv in v.items() if kk != "evidence"} if isinstance(v, dict) else v)
            for k, v in row.items()}


_KEYS = {"invariants": "invariants", "recovery": "recovery", "amplification": "amplification",
         "blast_radius": "blast-radius", "baseline": "baseline"}


def _amplification(h: History, windows: Windows, system: SystemSpec, target: str, kind: str, fault: str,
                   default: float) -> dict[str, Any] | None:
    """New connections per request on the faulted edge (a service: on each edge into it), bounded.

    Against the cell's baseline when the callers opened connections there (no keep-alive);
    otherwise absolutely: with kept-alive connections, a new connection is a retry or a redial.
    """
    edges = [target] if kind == "edge" else [e.name for e in system.edges.values() if e.target == target]
    if not edges:
        return None
    results = []
    for edge in edges:
        bound, how = max_amplification(system, edge, default)
        params = {"edge": edge, "window": {"during": fault, "skip": SKIP_S}}
        out = amplification(h, AmplificationParams.model_validate({**params, "max_per_request": bound}), windows)
        base = (out.evidence.get("baseline_measure") or {}).get("per_request")
        if base is not None and base >= RELATIVE_ABOVE:
            out = amplification(h, AmplificationParams.model_validate({**params, "max_ratio": bound}), windows)
        results.append((out, edge, bound, how))
    worst = max(results, key=lambda r: (r[0].verdict == "failed", r[0].evidence.get("ratio")
                                        or r[0].evidence.get("per_request") or 0.0))
    out, edge, bound, how = worst
    value = out.evidence.get("ratio", out.evidence.get("per_request"))
    return {"verdict": merge_verdicts(r[0].verdict for r in results), "summary": out.summary + f" [{how}]",
            "edge": edge, "ratio": value, "bound": bound, "evidence": out.evidence,
            "per_edge": {e: {"verdict": o.verdict, "value": o.evidence.get("ratio", o.evidence.get("per_request"))}
                         for o, e, _b, _h in results}}


def _dependencies(cells: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Target -> the endpoints its fail-fast cell degraded (they need it)."""
    out = {}
    for row in cells:
        if row["fault"] == DEPENDENCY_PROBE.get(row["target_kind"]) and "degraded" in row:
            out[row["target"]] = row["degraded"]
    return out


def _blast_radius(row: dict[str, Any], needs: list[str] | None) -> dict[str, Any]:
    probe = DEPENDENCY_PROBE[row["target_kind"]]
    if needs is None:
        return {"verdict": "unknown", "summary": f"the {probe} cell of {row['target']} did not run: which endpoints "
                                                 "need it is not known", "unexpected": []}
    unexpected = [e for e in row["degraded"] if e not in needs]
    if unexpected:
        how = {r["endpoint"]: r["how"] for r in row["endpoints"]}
        return {"verdict": "failed", "unexpected": unexpected,
                "summary": f"{row['fault']} on {row['target']} degraded endpoint(s) that {probe} did not: "
                           + "; ".join(f"{e} ({how[e]})" for e in unexpected)}
    return {"verdict": "passed", "unexpected": [],
            "summary": f"only endpoints that need {row['target']} degraded ({', '.join(row['degraded']) or 'none'})"}


def _checks(cells: list[dict[str, Any]], fail_on: list[str]) -> list[CheckResult]:
    out = []
    for row in cells:
        for key, gate in _KEYS.items():
            if gate in fail_on and key in row:
                p = row[key]
                out.append(CheckResult(name=f"{row['id']}: {gate}", type=f"explore.{gate}", verdict=p["verdict"],
                                       summary=p["summary"], evidence=p.get("evidence", {k: v for k, v in p.items()
                                                                                            if k != "summary"}),
                                       description=row.get("description", "")))
    return out


def _rows(system: SystemSpec, dependencies: dict[str, list[str]]) -> list[dict[str, Any]]:
    rows = [{"target": e, "kind": "edge", "needed_by": dependencies.get(e)} for e in system.edges]
    return rows + [{"target": s, "kind": "service", "needed_by": dependencies.get(s)} for s in system.services]
