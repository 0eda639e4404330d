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

import contextlib
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import cast

from .. import runstate
from .. import runtime as _runtimes  # noqa: F401  (registers the runtimes)
from ..catalog import REPO_ROOT
from ..data.table import read_requests
from ..errors import EnvironmentProblem, InputError, RunInterrupted
from ..events import RunEvents
from ..experiment import ExperimentSpec, FaultSpec
from ..faults import FAULT_TYPES
from ..faults.timeline import FaultTimeline
from ..invariants.collect import collect_invariants
from ..journal import REQUESTS_DIR, History, JournalWriter, Record
from ..load import LoadProcess
from ..registry import UnknownEntry
from ..result import RunResult
from ..rundir import prepare_run_dir
# The run's own glue, so an explore ends, heals and reports exactly like a run does.
from ..runner import (SystemCrashed, _checkpoint, _drain_events, _drain_sampler, _mark_interrupted, _phase,
                      _record_ending, _wait_load_started, _write_reports)
from ..runtime.base import Deployment, DeployRequest, runtimes
from ..signals import InterruptGuard
from ..system import SystemSpec
from ..teardown import RunParts, flush_notices, tear_down
from ..traffic.sampler import start_sampling
from .analysis import GATES, analyse
from .faults import MATRIX_FAULTS
from .plan import Cell, Phases, Plan, make_plan

TICK_S = 0.05
SEGMENT_KINDS = {"load_started": "segment_started", "load_stopped": "segment_stopped"}
"""Each cell's load writes its own start and stop; the explore's load spans them all."""


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
    manifest: Path | None = None
    """The system's manifest file, recorded so ``harness report`` can judge the run again."""
    ignore_signals_after: bool = False
    """As for a run: the CLI ignores signals once the reports are written, so its exit code is result.json's."""


def validate_options(system: SystemSpec, opts: ExploreOptions) -> None:
    if opts.users < 1:
        raise InputError(f"--users must be at least 1, got {opts.users}")
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
    """Run the matrix; always heal, stop and report (the same guarantees and statuses as a run)."""
    opts = options or ExploreOptions()
    validate_options(system, opts)
    plan = make_plan(system, seed=opts.seed, budget=opts.budget, phases=opts.phases, faults=opts.faults,
                     targets=opts.targets)
    ev = opts.events
    guard = InterruptGuard(ignore_after=opts.ignore_signals_after)
    with guard.installed():
        run_dir = prepare_run_dir(opts.out or default_out(system, opts.defect))
        result = RunResult(experiment=f"explore-{system.name}", system=system.name, run_dir=run_dir, seed=opts.seed,
                           runtime=opts.runtime, defect=opts.defect, started=time.time(),
                           experiment_path=str(opts.manifest or system.directory / "system.yaml"))
        parts = RunParts()
        story = _Story(system, opts, plan, run_dir, parts, ev)
        with runstate.tracking(uuid.uuid4().hex[:12], run_dir) as parts.state:
            try:
                try:
                    guard.raising = True
                    journal = parts.journal = JournalWriter(run_dir / "journal.jsonl")
                    journal.write("run_started", experiment=result.experiment, system=system.name,
                                  defect=opts.defect, seed=opts.seed, runtime=opts.runtime,
                                  steady_state={"warmup": plan.phases.warmup, "settle": 0},
                                  load={"users": opts.users, "user_classes": opts.user_classes}, faults=[],
                                  explore=plan.to_dict(), experiment_path=result.experiment_path,
                                  explore_options={"fail_on": opts.fail_on, "max_amplification": opts.max_amplification,
                                                   "recovery_within": opts.recovery_within})
                    _checkpoint(guard)
                    if plan.shortened or plan.dropped:
                        ph = plan.phases
                        ev.notice.fire(message=f"budget {opts.budget:g}s: phases {ph.baseline:g}/{ph.fault:g}/"
                                               f"{ph.recovery:g}s, {len(plan.dropped)} cell(s) dropped (listed in "
                                               "the report)")
                    story.run()
                    result.status = "completed"
                    guard.raising = False  # the last statement: a signal before it is raised here, after it noted
                except BaseException as exc:  # noqa: BLE001 - every ending gets a status, then the same clean-up
                    guard.raising = False
                    _record_ending(result, exc, parts.journal, ev)
            except RunInterrupted as exc:  # a signal that landed before the line above switched raising off
                _record_ending(result, exc, parts.journal, ev)
            finally:
                guard.shielded = True  # from here on, a first signal is noted and the clean-up finishes
                _phase(parts.journal, ev, "teardown")
                story.finish_segment()  # the current cell's fault and load, recorded as the cell's
                tear_down(parts, cast(ExperimentSpec, None), guard, ev, completed=lambda: False,
                          collect=lambda *args: None, drain_events=_drain_events, drain_sampler=_drain_sampler)
                story.close_load()
                _conclude(system, plan, opts, result, parts, guard, ev)
    return result


def _conclude(system: SystemSpec, plan: Plan, opts: ExploreOptions, result: RunResult, parts: RunParts,
              guard: InterruptGuard, ev: RunEvents) -> None:
    """The cells judged from the journal, then the reports. Never raises; the four files always exist."""
    run_dir = result.run_dir
    history = History([])
    try:
        flush_notices(guard, ev)
        if parts.journal is None:
            parts.journal = JournalWriter(run_dir / "journal.jsonl")
        _phase(parts.journal, ev, "checks")
        history = History(parts.journal.records, read_requests(run_dir / REQUESTS_DIR))
        analysis = analyse(history, system, plan, fail_on=opts.fail_on, max_amplification=opts.max_amplification,
                           recovery_within=opts.recovery_within)
        result.extra["matrix"] = analysis.matrix
        for c in analysis.checks:
            result.checks.append(c)
            ev.check_evaluated.fire(result=c)
    except Exception as exc:  # noqa: BLE001 - a bug in the analysis still gets reports
        _record_ending(result, exc, parts.journal, ev)
    cells = result.extra.get("matrix", {}).get("cells", [])
    result.counts = {"requests": len(history.requests), "failures": len(history.requests) - history.requests.succeeded,
                     "events": len(history.events), "cells": sum(1 for c in cells if c.get("status") == "ran")}
    for _ in range(3):  # again if a signal came while writing, so the files say what happened
        seen = guard.received
        _mark_interrupted(result, guard)
        result.finished = time.time()
        _write_reports(run_dir, result, history, ev)
        if guard.received == seen:
            break
    guard.frozen = True
    flush_notices(guard, ev)
    if parts.journal is not None:
        with contextlib.suppress(OSError, ValueError):
            parts.journal.write("run_finished", status=result.status, error=result.error, error_kind=result.error_kind)
            parts.journal.close()
    if parts.state is not None and not parts.state.leftovers():
        parts.state.discard()


class _Story:
    """The explore's moving parts live in ``parts``, so the teardown reaches whatever is running."""

    def __init__(self, system: SystemSpec, opts: ExploreOptions, plan: Plan, run_dir: Path, parts: RunParts,
                 ev: RunEvents):
        self.system, self.opts, self.plan = system, opts, plan
        self.run_dir, self.parts, self.ev = run_dir, parts, ev
        self.first_load: float | None = None
        self.last_stop: float | None = None

    @property
    def journal(self) -> JournalWriter:
        assert self.parts.journal is not None
        return self.parts.journal

    def run(self) -> None:
        _phase(self.journal, self.ev, "setup")
        self.parts.deployment = runtimes.get(self.opts.runtime)(DeployRequest(
            system=self.system, run_dir=self.run_dir, journal=self.journal, events=self.ev, defect=self.opts.defect))
        self.parts.sampler = start_sampling(self.parts.deployment, self.run_dir / "logs" / "toxiproxy.log")
        _phase(self.journal, self.ev, "load")
        for index, cell in enumerate(self.plan.cells):
            self.ev.notice.fire(message=f"cell {index}/{len(self.plan.cells) - 1}: {cell.id}"
                                        + (f" ({cell.description})" if cell.description else ""))
            self._cell(index, cell)

    def _cell(self, index: int, cell: Cell) -> None:
        deployment = self.parts.deployment
        assert deployment is not None
        ph = self.plan.phases
        fault_name = f"c{index:02d}-{cell.fault}"
        self.journal.write("cell_started", cell=cell.id, index=index, fault=None if cell.is_baseline else fault_name,
                           matrix_fault=cell.fault, target=cell.target, target_kind=cell.target_kind,
                           fault_type=cell.fault_type, attributes=cell.attributes, phases=ph.__dict__)
        # The reference cell needs no fault and no recovery: a baseline twice as long is plenty.
        duration = ph.warmup + (2 * ph.baseline if cell.is_baseline else ph.total)
        timeline = self.parts.timeline = FaultTimeline(_cell_experiment(self.system, cell, fault_name, duration, ph),
                                                       deployment, self.journal, self.ev)
        load = self.parts.load = LoadProcess(
            locustfile=self.system.locustfile_path, host=deployment.entry_url, users=self.opts.users,
            spawn_rate=self.opts.spawn_rate or self.opts.users, duration=duration, user_classes=self.opts.user_classes,
            seed=self.opts.seed + index, out_dir=self.run_dir / REQUESTS_DIR,
            log_path=self.run_dir / "logs" / f"locust-cell{index:02d}.log", env=deployment.load_env(),
            writer=f"cell{index:02d}")
        load.start()
        t0 = _wait_load_started(load)
        if self.first_load is None:
            self.first_load = t0
            self.journal.write("load_started", t=t0, users=self.opts.users)
        timeline.begin(t0)
        self._drive(load, timeline, deployment, t0, duration)
        self.finish_segment()
        if self.plan.invariants:
            self.ev.notice.fire(message="load stopped: waiting for the system to go quiet, then auditing invariants")
            for rec in collect_invariants(self.system, list(self.system.invariants), deployment.service_url):
                self.journal.write_record(rec)
        self.journal.write("cell_finished", cell=cell.id, index=index)

    def _drive(self, load: LoadProcess, timeline: FaultTimeline, deployment: Deployment, t0: float,
               duration: float) -> None:
        last_progress = 0.0
        while True:
            now = time.time()
            for rec in load.drain():
                self._write_load_record(rec)
            _drain_events(deployment, self.journal, self.ev)
            _drain_sampler(self.parts.sampler, self.journal)
            crashed = deployment.check_alive()
            if crashed:
                for service in crashed:
                    self.journal.write("service_crashed", service=service)
                raise SystemCrashed(f"service(s) {', '.join(crashed)} exited on their own during the explore; "
                                    "see logs/ in the run folder")
            timeline.tick(now)
            if now - last_progress >= 1.0:
                last_progress = now
                self.ev.progress.fire(elapsed_s=now - t0, duration_s=duration, requests=load.requests,
                                      failures=load.failures, active_faults=timeline.active_names())
            code = load.poll()
            if code is not None:
                if code != 0:
                    raise EnvironmentProblem(f"the load generator exited with code {code}; last lines of its log:\n"
                                             + load.log_tail(15), hint="check the locustfile and --user-class")
                return
            time.sleep(TICK_S)

    def finish_segment(self) -> None:
        """Heal the cell's fault (if still on) and stop its load, keeping what they recorded. Never raises."""
        timeline, load = self.parts.timeline, self.parts.load
        self.parts.timeline = self.parts.load = None
        try:
            if timeline is not None:
                timeline.remove_all()
            if load is not None:
                load.stop()
                for rec in load.drain():
                    self._write_load_record(rec)
        except Exception as exc:  # noqa: BLE001 - the teardown's own steps still run after this
            self.ev.notice.fire(message=f"ending the current cell failed: {type(exc).__name__}: {exc}")
            self.parts.timeline, self.parts.load = timeline, load  # the teardown heals and stops them, its way

    def close_load(self) -> None:
        """The explore's load spans every cell's: it stops where the last one did."""
        if self.first_load is not None and self.parts.journal is not None:
            with contextlib.suppress(OSError, ValueError):
                self.journal.write("load_stopped", t=self.last_stop or time.time())

    def _write_load_record(self, rec: Record) -> None:
        kind = SEGMENT_KINDS.get(rec["kind"])
        if kind is not None:
            rec = {**rec, "kind": kind}
            if kind == "segment_stopped":
                self.last_stop = rec["t"]
        self.journal.write_record(rec)


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


