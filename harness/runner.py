"""The run, told as a story (after Chaos Toolkit): one function that reads top to bottom.

    sweep what dead runs left -> runtime up -> proxies wired -> load starts -> steady state
    before (gate) -> fault timeline -> load ends
    -> teardown (always): faults removed -> load stopped -> audit -> collect (live evidence,
       e.g. Prometheus series) -> runtime down -> whatever the run's state file says still
       runs is killed, its temporary directories removed
    -> checks over the journal -> reports (always: journal.jsonl, result.json, junit.xml, report.html)

Whatever ends the run (success, failed check, a crashed service, bad input found at deploy
time, a bug, Ctrl-C or SIGTERM in any phase), every fault is removed, every process stopped,
and the four files are written with a status that says what happened (``result.py``). A
signal during teardown, checks or reports lets the step under way finish and ends the run
``interrupted``; a second signal takes the fast way out, which still heals first
(``signals.py``, ``teardown.py``). Console output can never abort any of it (``console.py``).
"""
from __future__ import annotations

import contextlib
import functools
import time
import traceback
import uuid
from typing import Any
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from . import runstate
from . import runtime as _runtimes  # noqa: F401  (registers the runtimes)
from .checks import evaluate
from .checks.evaluate import run_one
from .checks.windows import Windows
from .data.table import RequestTable, read_requests
from .errors import EnvironmentProblem, ForcedExit, InputError, RunInterrupted
from .events import RunEvents
from .experiment import ExperimentSpec
from .faults.timeline import FaultTimeline
from .invariants.collect import record_invariants
from .journal import REQUESTS_DIR, History, JournalWriter
from .load import LoadProcess
from .load.generator import LoadFactory, LoadGenerator
from .metrics.collect import collect_series, reads_metrics
from .report import write_reports
from .report.fallback import write_fallback_reports
from .result import ErrorKind, RunResult, Status
from .rundir import prepare_run_dir
from .runtime.base import Deployment, DeployRequest, runtimes
from .salvage import complete_dead_run
from .signals import InterruptGuard
from .teardown import RunParts, flush_notices, tear_down
from .traffic.sampler import EdgeSampler, start_sampling

TICK_S = 0.05
LOCUST_USAGE_EXIT = 2
"""``harness.load.locust_process`` exits 2 for a locustfile or user class that cannot run (not
imported from there: importing it would import Locust, which patches this process for gevent)."""


class SystemCrashed(Exception):
    """A service of the target exited without a fault asking it to."""


@dataclass
class RunOptions:
    defect: str | None = None
    seed: int | None = None
    out: Path | None = None
    runtime: str = "local"
    events: RunEvents = field(default_factory=RunEvents)
    ignore_signals_after: bool = False
    """The CLI's choice: once the reports are written, SIGINT/SIGTERM are ignored until the process
    exits, so its exit code is the one in result.json (an API caller keeps its own handlers)."""
    load: LoadFactory | None = None
    """Makes the load generator; None: ``LoadProcess`` (Locust in a subprocess). Tests pass a fake."""
    workers: int | None = None
    """Locust workers (``--workers``); None: the experiment's ``load.workers``. Only for ``LoadProcess``."""


def default_run_dir(exp: ExperimentSpec, defect: str | None) -> Path:
    """``./reports/<time>-<experiment>[-<defect>]`` under the current directory, never beside the package."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    suffix = f"-{defect}" if defect else ""
    base = Path.cwd() / "reports" / f"{stamp}-{exp.name}{suffix}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def run_experiment(exp: ExperimentSpec, options: RunOptions | None = None) -> RunResult:
    with exp.plugin_scope.active():  # faults, checks and runtimes as its system's plugins registered them
        return _run(exp, options)


def runtime_for(exp: ExperimentSpec, defect: str | None, runtime: str) -> Any:
    """The runtime factory a run (or a ``harness ui`` session) deploys with, once its defect is known to exist."""
    system = exp.target
    if defect is not None and defect not in system.defects:
        known = ", ".join(system.defects) or "none"
        raise InputError(f"system '{system.name}' has no defect '{defect}'; defects: {known}", file=str(exp.path))
    try:
        return runtimes.get(runtime)
    except KeyError as exc:
        raise InputError(f"--runtime: {exc}") from None


def _run(exp: ExperimentSpec, options: RunOptions | None) -> RunResult:
    opts = options or RunOptions()
    system = exp.target
    runtime_factory = runtime_for(exp, opts.defect, opts.runtime)
    seed = exp.seed if opts.seed is None else opts.seed
    ev = opts.events
    guard = InterruptGuard(ignore_after=opts.ignore_signals_after)  # not raising yet: a signal from here on is noted and taken up below
    with guard.installed():
        run_dir = prepare_run_dir(opts.out or default_run_dir(exp, opts.defect))
        result = RunResult(experiment=exp.name, system=system.name, run_dir=run_dir, seed=seed, runtime=opts.runtime,
                           defect=opts.defect, started=time.time(), experiment_path=str(exp.path))
        parts = RunParts()
        with runstate.tracking(uuid.uuid4().hex[:12], run_dir) as parts.state:
            try:
                try:
                    guard.raising = True
                    journal = parts.journal = JournalWriter(run_dir / "journal.jsonl")
                    journal.write("run_started", experiment=exp.name, experiment_path=str(exp.path), system=system.name,
                                  defect=opts.defect, seed=seed, runtime=opts.runtime,
                                  steady_state={"warmup": exp.steady_state.warmup, "settle": exp.steady_state.settle},
                                  load=exp.load.model_dump(), faults=[f.model_dump() for f in exp.faults])
                    _checkpoint(guard)
                    _sweep_dead_runs(journal, ev)
                    _phase(journal, ev, "setup")
                    parts.deployment = runtime_factory(DeployRequest(system=system, run_dir=run_dir, journal=journal,
                                                                     events=ev, defect=opts.defect,
                                                                     metrics_needed=reads_metrics(exp),
                                                                     load_edges=frozenset(exp.load_edges)))
                    _checkpoint(guard)
                    timeline = parts.timeline = FaultTimeline(exp, parts.deployment, journal, ev)
                    # traffic per edge (connections from its log, bytes from its metrics), for amplification checks
                    parts.sampler = start_sampling(parts.deployment, run_dir / "logs" / "toxiproxy.log")
                    locustfile = (exp.path.parent / exp.load.locustfile) if exp.load.locustfile else system.locustfile_path
                    workers = exp.load.workers if opts.workers is None else opts.workers
                    load = parts.load = (opts.load or functools.partial(LoadProcess, workers=workers))(
                        locustfile=locustfile, host=parts.deployment.entry_url, users=exp.load.users,
                        spawn_rate=exp.load.spawn_rate, duration=exp.load.duration, user_classes=exp.load.user_classes,
                        seed=seed, out_dir=run_dir / REQUESTS_DIR, log_path=run_dir / "logs" / "locust.log",
                        env=parts.deployment.load_env(), record_bodies=exp.load.record_bodies)
                    _phase(journal, ev, "load")
                    load.start()
                    t0 = _wait_load_started(load)
                    for rec in load.drain():
                        journal.write_record(rec)
                    timeline.begin(t0)
                    result.status = _drive(exp, parts.deployment, load, timeline, journal, ev, t0, guard, parts.sampler)
                    guard.raising = False  # the last statement: a signal before it is raised here, after it noted
                except BaseException as exc:  # noqa: BLE001 - every ending gets a status, then the same clean-up
                    guard.raising = False
                    if isinstance(exc, InputError) and exc.file is None:  # found while deploying: the manifest's
                        exc.file = system.manifest_name
                    _record_ending(result, exc, parts.journal, ev)
            except RunInterrupted as exc:  # a signal that landed before the line above switched raising off
                _record_ending(result, exc, parts.journal, ev)
            finally:
                guard.shielded = True  # from here on, a first signal is noted and the clean-up finishes
                _phase(parts.journal, ev, "teardown")
                tear_down(parts, exp, guard, ev, completed=lambda: result.status == "completed",
                          collect=_collect, drain_events=_drain_events, drain_sampler=_drain_sampler)
                conclude(exp, result, parts, guard, ev)
    return result


def conclude(exp: ExperimentSpec, result: RunResult, parts: RunParts, guard: InterruptGuard, ev: RunEvents) -> None:
    """Checks over the journal, then the reports. Never raises; the four files always exist.

    A first signal here lets the checks and reports finish and marks the run ``interrupted``;
    a second skips the checks not yet run. A signal after the last report is written changes
    nothing: the files and the exit code already agree.
    """
    run_dir = result.run_dir
    history = History([])
    try:
        flush_notices(guard, ev)
        if parts.journal is None:  # nothing was recorded (the journal could not be opened)
            parts.journal = JournalWriter(run_dir / "journal.jsonl")
        _phase(parts.journal, ev, "checks")
        # The journal's records are already in memory; the request files are read once, here.
        history = History(parts.journal.records, read_requests(run_dir / REQUESTS_DIR))
        guard.raising = not guard.forced  # a second signal may cut the checks short
        if not guard.forced and (result.status in ("completed", "aborted") or history.requests):
            for c in evaluate(exp, history):
                result.checks.append(c)
                ev.check_evaluated.fire(result=c)
        guard.raising = False
    except ForcedExit:
        pass
    except Exception as exc:  # noqa: BLE001 - a bug in the checks (or an unreadable journal) still gets reports
        guard.raising = False
        _record_ending(result, exc, parts.journal, ev)
    result.counts = {"requests": len(history.requests),
                     "failures": len(history.requests) - history.requests.succeeded,
                     "events": len(history.events)}
    _phase_only(ev, "reports")
    for _ in range(3):  # again if a signal came while writing, so the files say what happened
        seen = guard.received
        _mark_interrupted(result, guard)
        result.finished = time.time()
        _write_reports(run_dir, result, history, ev)
        guard.frozen = True  # from here a signal is late: noted, never changing what the files say
        if guard.received == seen:
            break
        guard.frozen = False
    flush_notices(guard, ev)
    if parts.journal is not None:
        with contextlib.suppress(OSError, ValueError):
            parts.journal.write("run_finished", status=result.status, error=result.error, error_kind=result.error_kind)
            parts.journal.close()
    # Kept until here: a harness killed during the checks or reports leaves the file, and the sweep
    # of a later run completes this run's reports from it (salvage.py).
    if parts.state is not None and not parts.state.leftovers():
        parts.state.discard()


def _write_reports(run_dir: Path, result: RunResult, history: History, ev: RunEvents) -> None:
    try:
        write_reports(run_dir, result, history)
    except Exception as exc:  # noqa: BLE001 - a report that cannot render must not cost the others
        result.status, result.error_kind = "error", "internal"
        result.error = _join(result.error, f"writing the reports failed: {type(exc).__name__}: {exc}")
        ev.notice.fire(message=result.error)
        write_fallback_reports(run_dir, result, history, traceback.format_exc(limit=8))


def _record_ending(result: RunResult, exc: BaseException, journal: JournalWriter | None, ev: RunEvents) -> None:
    """What ended the run early, as a status (and an error kind); the journal keeps the details."""
    if isinstance(exc, (RunInterrupted, KeyboardInterrupt)):
        name = exc.signal_name if isinstance(exc, RunInterrupted) else "SIGINT"
        if result.status != "interrupted":
            result.status = "interrupted"
            result.error = _join(result.error, f"interrupted by {name}")
        ev.notice.fire(message=f"interrupted by {name}: healing faults and stopping processes")
        return
    if isinstance(exc, SystemCrashed):
        result.status, result.error = "aborted", str(exc)
        ev.notice.fire(message=str(exc))
        return
    kind: ErrorKind = ("input" if isinstance(exc, InputError) else
                       "environment" if isinstance(exc, EnvironmentProblem) else "internal")
    message = exc.render() if isinstance(exc, InputError) else str(exc) or type(exc).__name__
    if kind == "internal":
        message = (f"{type(exc).__name__}: {message} -- a bug in the harness, not in the system under test; "
                   "the traceback is in journal.jsonl (run_error)")
    result.status, result.error_kind, result.error = "error", kind, message
    if journal is not None:
        with contextlib.suppress(OSError, ValueError):
            journal.write("run_error", error_kind=kind, error=message,
                          traceback="".join(traceback.format_exception(exc, limit=12)))
    ev.notice.fire(message=f"the run ended early ({kind} error): {message}")


def _mark_interrupted(result: RunResult, guard: InterruptGuard) -> None:
    """A signal that came while cleaning up or reporting: the run is interrupted all the same."""
    if guard.received is not None and result.status != "interrupted":
        earlier = f"{result.status}: {result.error}" if result.error else result.status
        result.status = "interrupted"
        result.error = f"interrupted by {guard.received} during teardown, checks or reports (the run was {earlier})"


def _join(first: str | None, second: str) -> str:
    return f"{first}; {second}" if first else second


def _checkpoint(guard: InterruptGuard) -> None:
    """A signal noted while it could not be raised (preparing the folder) takes effect here."""
    if guard.received is not None:
        raise RunInterrupted(guard.received)


def _wait_load_started(load: LoadGenerator) -> float:
    """Locust's own exit code 2 means a locustfile or user class that cannot run: bad input, not the machine."""
    try:
        return load.wait_started(timeout=60.0)
    except EnvironmentProblem as exc:
        if load.poll() == LOCUST_USAGE_EXIT:
            raise InputError(f"the load could not start: {load.log_tail(5).strip() or exc}") from exc
        raise


def _sweep_dead_runs(journal: JournalWriter, ev: RunEvents) -> None:
    """Before starting anything: what runs of killed harness processes left on this machine goes."""
    report = runstate.sweep_dead_runs(complete=complete_dead_run)
    if report.killed or report.removed or report.left:
        journal.write("swept", runs=report.runs, killed=report.killed, removed=report.removed, left=report.left)
        ev.notice.fire(message=f"removed what {report.runs} earlier run(s) of a killed harness left: "
                       f"{len(report.killed)} process(es), {len(report.removed)} directory(ies)"
                       + (f"; could not remove {', '.join(report.left)}" if report.left else ""))


def _drive(exp: ExperimentSpec, deployment: Deployment, load: LoadGenerator, timeline: FaultTimeline,
           journal: JournalWriter, ev: RunEvents, t0: float, guard: InterruptGuard,
           sampler: EdgeSampler | None = None) -> Status:
    """The method: keep the journal fed, apply the timeline, until load ends.

    Requests are never read here: the load process stores them, and progress comes from the
    chunk headers. The steady-state gate reads what was recorded so far, once.
    """
    gate_at = timeline.first_start()
    gated = gate_at is None or not exp.steady_state.conditions
    last_progress = 0.0
    while True:
        now = time.time()
        for rec in load.drain():
            journal.write_record(rec)
        _drain_events(deployment, journal, ev)
        _drain_sampler(sampler, journal)
        crashed = deployment.check_alive()
        if crashed:
            # The system under test died: that is a result about the system (exit 1), not a
            # broken environment. Stop here; the journal keeps everything up to the crash.
            for service in crashed:
                journal.write("service_crashed", service=service)
            raise SystemCrashed(f"service(s) {', '.join(crashed)} exited on their own during the run; "
                                "see logs/ in the run folder")
        if not gated and gate_at is not None and now - t0 >= gate_at:
            gated = True
            if not _steady_state_holds(exp, read_requests(load.out_dir), journal, ev, t0):
                return "aborted"
        timeline.tick(now)
        flush_notices(guard, ev)
        if now - last_progress >= 1.0:
            last_progress = now
            ev.progress.fire(elapsed_s=now - t0, duration_s=exp.load.duration, requests=load.requests, failures=load.failures,
                             active_faults=timeline.active_names())
        code = load.poll()
        if code is not None:
            if code != 0:
                raise EnvironmentProblem(f"the load generator exited with code {code}; last lines of its log:\n"
                                         + load.log_tail(15), hint="check the locustfile and load.user_classes")
            return "completed"
        time.sleep(TICK_S)


def _steady_state_holds(exp: ExperimentSpec, requests: RequestTable, journal: JournalWriter, ev: RunEvents,
                        t0: float) -> bool:
    """Before any fault: does the system meet its steady state? If not, faulting it proves nothing."""
    history = History([{"kind": "run_started", "t": t0, "steady_state": {"warmup": exp.steady_state.warmup,
                                                                          "settle": exp.steady_state.settle}},
                       {"kind": "load_started", "t": t0}, {"kind": "load_stopped", "t": time.time()}], requests)
    windows = Windows(history, default="before")
    results = [run_one(spec, history, windows, group="steady_state.before") for spec in exp.steady_state.conditions]
    failed = [r for r in results if r.verdict == "failed"]
    for r in results:
        journal.write("probe", name=r.name, verdict=r.verdict, summary=r.summary)
    if failed:
        ev.notice.fire(message="steady state did not hold before the faults: " + "; ".join(r.summary for r in failed)
                       + " -- aborting without injecting faults")
        return False
    return True


def _collect(exp: ExperimentSpec, deployment: Deployment, journal: JournalWriter, ev: RunEvents,
             completed: bool) -> None:
    """While the system still runs: the invariants' audits (after a completed method) and the series
    that checks reading metrics (PromQL) will judge, from the journal's records so far."""
    if completed:
        record_invariants(exp, deployment, journal, ev)
    try:
        for rec in collect_series(exp, History(journal.records)):
            journal.write_record(rec)
    except Exception as exc:  # never in the way of stopping the runtime; those checks say unknown
        journal.write("collect_error", check="*", error=f"{type(exc).__name__}: {exc}")
        ev.notice.fire(message=f"collecting live evidence failed: {exc}")


def _drain_events(deployment: Deployment, journal: JournalWriter, ev: RunEvents) -> None:
    for rec in deployment.drain_events():
        journal.write_record(rec)
        ev.target_event.fire(record=rec)


def _drain_sampler(sampler: EdgeSampler | None, journal: JournalWriter) -> None:
    for rec in sampler.drain() if sampler is not None else []:
        journal.write_record(rec)


def _phase(journal: JournalWriter | None, ev: RunEvents, phase: str) -> None:
    if journal is not None:
        with contextlib.suppress(OSError, ValueError):  # a full disk must not keep the clean-up from starting
            journal.write("phase", phase=phase)
    ev.phase_changed.fire(phase=phase)


def _phase_only(ev: RunEvents, phase: str) -> None:
    ev.phase_changed.fire(phase=phase)
