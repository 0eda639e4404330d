"""``harness explore SYSTEM``: the fault matrix on one deployment, told as one story.

    runtime up -> edge sampling -> for each cell (seeded order):
        load starts -> baseline -> fault applied -> fault removed -> recovery -> load stops
        -> [invariants declared: quiescence, audits]
    -> faults removed, load stopped, runtime down (always) -> cell analysis -> reports

Whatever ends it (the budget, Ctrl-C, SIGTERM, a crashed service), the ``finally`` removes
the current fault and stops every process, and the cells recorded so far are analysed and
reported like any run's checks.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import runtime as _runtimes  # noqa: F401  (registers the runtimes)
from ..catalog import REPO_ROOT
from ..errors import EnvironmentProblem, InputError, RunInterrupted
from ..events import RunEvents
from ..experiment import ExperimentSpec, FaultSpec
from ..faults import FAULT_TYPES
from ..faults.timeline import FaultTimeline
from ..invariants.collect import collect_invariants
from ..journal import JournalWriter, Record, read_journal
from ..load import LoadProcess
from ..report import write_reports
from ..result import RunResult
from ..runtime.base import Deployment, DeployRequest, runtimes
from ..registry import UnknownEntry
from ..signals import InterruptGuard
from ..system import SystemSpec
from ..traffic.sampler import EdgeSampler, start_sampling
from .analysis import GATES, analyse
from .faults import MATRIX_FAULTS
from .plan import Cell, Phases, Plan, make_plan

TICK_S = 0.05
SEGMENT_KINDS = {"load_started": "segment_started", "load_stopped": "segment_stopped"}
"""Each cell's load writes its own start and stop; the explore's load spans them all."""


class ServiceCrashed(Exception):
    """A service exited without a fault asking it to."""


@dataclass
class ExploreOptions:
    seed: int = 0
    budget: float | None = None
    """Seconds for the cells (deployment start-up not counted); None: the whole matrix."""
    out: Path | None = None
    runtime: str = "local"
    defect: str | None = None
    users: int = 6
    spawn_rate: float | None = None
    user_classes: list[str] = field(default_factory=list)
    phases: Phases = field(default_factory=Phases)
    faults: list[str] | None = None
    targets: list[str] | None = None
    fail_on: list[str] = field(default_factory=lambda: ["invariants", "recovery"])
    max_amplification: float = 4.0
    recovery_within: float | None = None
    """Default: the recovery phase minus the 2 s recovery must be sustained, at most 8 s."""
    events: RunEvents = field(default_factory=RunEvents)


def validate_options(system: SystemSpec, opts: ExploreOptions) -> None:
    if opts.defect is not None and opts.defect not in system.defects:
        raise InputError(f"system '{system.name}' has no defect '{opts.defect}'; defects: "
                         f"{', '.join(system.defects) or 'none'}")
    if opts.runtime not in runtimes:
        raise InputError(f"unknown runtime '{opts.runtime}'; known: {', '.join(runtimes.names())}")
    for name in opts.faults or []:
        try:
            MATRIX_FAULTS.get(name)
        except UnknownEntry as exc:
            raise InputError(str(exc)) from None
    known = [*system.edges, *system.services]
    for name in opts.targets or []:
        if name not in known:
            raise InputError(f"system '{system.name}' has no edge or service '{name}'; known: {', '.join(known)}")
    for gate in opts.fail_on:
        if gate not in GATES:
            raise InputError(f"unknown --fail-on property '{gate}'; known: {', '.join(GATES)}")
    if not opts.fail_on:
        raise InputError("--fail-on needs at least one property; known: " + ", ".join(GATES))


def default_out(system: SystemSpec, defect: str | None) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = REPO_ROOT / "reports" / f"{stamp}-explore-{system.name}{'-' + defect if defect else ''}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def explore(system: SystemSpec, options: ExploreOptions | None = None) -> RunResult:
    opts = options or ExploreOptions()
    validate_options(system, opts)
    plan = make_plan(system, seed=opts.seed, budget=opts.budget, phases=opts.phases, faults=opts.faults,
                     targets=opts.targets)
    run_dir = (opts.out or default_out(system, opts.defect)).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in ("journal.jsonl", "requests.jsonl", "result.json", "junit.xml", "report.html"):
        (run_dir / name).unlink(missing_ok=True)
    ev = opts.events
    journal = JournalWriter(run_dir / "journal.jsonl")
    result = RunResult(experiment=f"explore-{system.name}", system=system.name, run_dir=run_dir, seed=opts.seed,
                       runtime=opts.runtime, defect=opts.defect, started=time.time(),
                       experiment_path=str(system.directory / "system.yaml"))
    story = _Story(system, opts, plan, run_dir, journal, ev)
    guard = InterruptGuard(notice=lambda m: ev.notice.fire(message=m))
    with guard.installed():
        try:
            journal.write("run_started", experiment=result.experiment, system=system.name, defect=opts.defect,
                          seed=opts.seed, runtime=opts.runtime,
                          steady_state={"warmup": plan.phases.warmup, "settle": 0},
                          load={"users": opts.users, "user_classes": opts.user_classes}, faults=[],
                          explore=plan.to_dict())
            if plan.shortened or plan.dropped:
                ph = plan.phases
                ev.notice.fire(message=f"budget {opts.budget:g}s: phases {ph.baseline:g}/{ph.fault:g}/{ph.recovery:g}s,"
                                       f" {len(plan.dropped)} cell(s) dropped (listed in the report)")
            story.run()
        except RunInterrupted as exc:
            result.status, result.error = "interrupted", str(exc)
            ev.notice.fire(message=f"{exc}: healing faults and stopping processes")
        except ServiceCrashed as exc:
            result.status, result.error = "aborted", str(exc)
            ev.notice.fire(message=str(exc))
        except EnvironmentProblem as exc:
            result.status, result.error = "errored", str(exc)
        finally:
            with guard.shield():
                story.teardown(result.status)
        with guard.shield():
            history = read_journal(run_dir / "journal.jsonl")
            ev.phase_changed.fire(phase="checks")
            analysis = analyse(history, system, plan, fail_on=opts.fail_on, max_amplification=opts.max_amplification,
                               recovery_within=opts.recovery_within)
            result.checks = analysis.checks
            for c in result.checks:
                ev.check_evaluated.fire(result=c)
            result.extra["matrix"] = analysis.matrix
            result.counts = {"requests": len(history.requests),
                             "failures": sum(1 for r in history.requests if r.get("outcome") != "ok"),
                             "events": len(history.events), "cells": len(analysis.matrix["cells"])}
            result.finished = time.time()
            ev.phase_changed.fire(phase="reports")
            write_reports(run_dir, result, history)
    return result


class _Story:
    """The explore's moving parts, so the teardown can reach whatever is running."""

    def __init__(self, system: SystemSpec, opts: ExploreOptions, plan: Plan, run_dir: Path, journal: JournalWriter,
                 ev: RunEvents):
        self.system, self.opts, self.plan = system, opts, plan
        self.run_dir, self.journal, self.ev = run_dir, journal, ev
        self.deployment: Deployment | None = None
        self.sampler: EdgeSampler | None = None
        self.load: LoadProcess | None = None
        self.timeline: FaultTimeline | None = None
        self.first_load: float | None = None
        self.last_stop: float | None = None

    def run(self) -> None:
        self._phase("setup")
        self.deployment = runtimes.get(self.opts.runtime)(DeployRequest(
            system=self.system, run_dir=self.run_dir, journal=self.journal, events=self.ev, defect=self.opts.defect))
        self.sampler = start_sampling(self.deployment, self.run_dir / "logs" / "toxiproxy.log")
        self._phase("load")
        for index, cell in enumerate(self.plan.cells):
            self.ev.notice.fire(message=f"cell {index}/{len(self.plan.cells) - 1}: {cell.id}"
                                        + (f" ({cell.description})" if cell.description else ""))
            self._cell(index, cell)

    def _cell(self, index: int, cell: Cell) -> None:
        assert self.deployment is not None
        ph = self.plan.phases
        fault_name = f"c{index:02d}-{cell.fault}"
        self.journal.write("cell_started", cell=cell.id, index=index, fault=None if cell.is_baseline else fault_name,
                           matrix_fault=cell.fault, target=cell.target, target_kind=cell.target_kind,
                           fault_type=cell.fault_type, attributes=cell.attributes, phases=ph.__dict__)
        # The reference cell needs no fault and no recovery: a baseline twice as long is plenty.
        duration = ph.warmup + (2 * ph.baseline if cell.is_baseline else ph.total)
        exp = _cell_experiment(self.system, cell, fault_name, duration, ph)
        self.timeline = FaultTimeline(exp, self.deployment, self.journal, self.ev)
        self.load = LoadProcess(locustfile=self.system.locustfile_path, host=self.deployment.entry_url,
                                users=self.opts.users, spawn_rate=self.opts.spawn_rate or self.opts.users,
                                duration=duration, user_classes=self.opts.user_classes, seed=self.opts.seed + index,
                                out_path=self.run_dir / "requests.jsonl",
                                log_path=self.run_dir / "logs" / f"locust-cell{index:02d}.log",
                                env=self.deployment.load_env())
        self.load.start()
        t0 = self.load.wait_started(timeout=60.0)
        if self.first_load is None:
            self.first_load = t0
            self.journal.write("load_started", t=t0, users=self.opts.users)
        self.timeline.begin(t0)
        self._drive(t0, duration)
        self._finish_segment()
        if self.plan.invariants:
            self.ev.notice.fire(message="load stopped: waiting for the system to go quiet, then auditing invariants")
            for rec in collect_invariants(self.system, list(self.system.invariants), self.deployment.service_url):
                self.journal.write_record(rec)
        self.journal.write("cell_finished", cell=cell.id, index=index)

    def _drive(self, t0: float, duration: float) -> None:
        assert self.load is not None and self.timeline is not None and self.deployment is not None
        requests = failures = 0
        last_progress = 0.0
        while True:
            now = time.time()
            for rec in self.load.drain():
                self._write_load_record(rec)
                if rec["kind"] == "request":
                    requests += 1
                    failures += rec.get("outcome") != "ok"
            self._drain_side()
            crashed = self.deployment.check_alive()
            if crashed:
                for service in crashed:
                    self.journal.write("service_crashed", service=service)
                raise ServiceCrashed(f"service(s) {', '.join(crashed)} exited on their own during the explore; "
                                     "see logs/ in the run folder")
            self.timeline.tick(now)
            if now - last_progress >= 1.0:
                last_progress = now
                self.ev.progress.fire(elapsed_s=now - t0, duration_s=duration, requests=requests, failures=failures,
                                      active_faults=self.timeline.active_names())
            code = self.load.poll()
            if code is not None:
                if code != 0:
                    raise EnvironmentProblem(f"the load generator exited with code {code}; last lines of its log:\n"
                                             + self.load.log_tail(15), hint="check the locustfile and --user-class")
                return
            time.sleep(TICK_S)

    def _finish_segment(self) -> None:
        """Heal the cell's fault (if still on), stop its load, keep everything they recorded."""
        if self.timeline is not None:
            self.timeline.remove_all()
            self.timeline = None
        if self.load is not None:
            self.load.stop()
            for rec in self.load.drain():
                self._write_load_record(rec)
            self.load = None
        self._drain_side()

    def _write_load_record(self, rec: Record) -> None:
        kind = SEGMENT_KINDS.get(rec["kind"])
        if kind is not None:
            rec = {**rec, "kind": kind}
            if kind == "segment_stopped":
                self.last_stop = rec["t"]
        self.journal.write_record(rec)

    def _drain_side(self) -> None:
        if self.deployment is not None:
            for rec in self.deployment.drain_events():
                self.journal.write_record(rec)
                self.ev.target_event.fire(record=rec)
        if self.sampler is not None:
            for rec in self.sampler.drain():
                self.journal.write_record(rec)

    def teardown(self, status: str) -> None:
        self._phase("teardown")
        try:
            self._finish_segment()
        finally:
            if self.sampler is not None:
                self.sampler.stop()
                self._drain_side()
            if self.deployment is not None:
                self.deployment.stop()
            if self.first_load is not None:
                self.journal.write("load_stopped", t=self.last_stop or time.time())
            self.journal.write("run_finished", status=status)
            self.journal.close()

    def _phase(self, phase: str) -> None:
        self.journal.write("phase", phase=phase)
        self.ev.phase_changed.fire(phase=phase)


def _cell_experiment(system: SystemSpec, cell: Cell, fault_name: str, duration: float, ph: Phases) -> ExperimentSpec:
    """The cell as a one-fault experiment, so the fault timeline applies and journals it like any run's."""
    faults: list[FaultSpec] = []
    if not cell.is_baseline:
        spec = FaultSpec.model_validate({"name": fault_name, "type": cell.fault_type, cell.target_kind: cell.target,
                                         "attributes": cell.attributes, "start": ph.warmup + ph.baseline,
                                         "duration": ph.fault})
        spec.parsed_attributes = FAULT_TYPES.get(cell.fault_type).Attributes.model_validate(cell.attributes)
        faults.append(spec)
    exp = ExperimentSpec.model_validate({"name": "explore-cell", "system": system.name,
                                         "load": {"duration": duration}, "faults": []})
    exp.faults = faults
    exp.system_spec = system
    return exp


def describe_cells(plan: Plan) -> list[dict[str, Any]]:
    return [c.to_dict() for c in plan.cells]
