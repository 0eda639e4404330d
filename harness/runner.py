"""The run, told as a story (after Chaos Toolkit): one function that reads top to bottom.

    runtime up -> proxies wired -> load starts -> steady state before (gate) -> fault timeline
    -> load ends -> faults removed (always) -> audit -> collect (live evidence, e.g. Prometheus
    series) -> runtime down (always)
    -> checks over the journal -> reports

Whatever ends the run (success, failed check, exception, Ctrl-C, SIGTERM), the ``finally``
removes every fault and stops every process, and what was recorded is kept and reported.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from . import runtime as _runtimes  # noqa: F401  (registers the runtimes)
from .catalog import REPO_ROOT
from .checks import evaluate
from .checks.evaluate import run_one
from .checks.windows import Windows
from .errors import EnvironmentProblem, InputError, RunInterrupted
from .events import RunEvents
from .experiment import ExperimentSpec
from .faults.timeline import FaultTimeline
from .data.table import RequestTable, read_requests
from .invariants.collect import record_invariants
from .journal import REQUESTS_DIR, History, JournalWriter
from .load import LoadProcess
from .metrics.collect import collect_series, reads_metrics
from .report import write_reports
from .result import RunResult, Status
from .runtime.base import Deployment, DeployRequest, runtimes
from .signals import InterruptGuard
from .traffic.sampler import EdgeSampler, start_sampling

TICK_S = 0.05


class SystemCrashed(Exception):
    """A service of the target exited without a fault asking it to."""


@dataclass
class RunOptions:
    defect: str | None = None
    seed: int | None = None
    out: Path | None = None
    runtime: str = "local"
    events: RunEvents = field(default_factory=RunEvents)


def default_run_dir(exp: ExperimentSpec, defect: str | None) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    suffix = f"-{defect}" if defect else ""
    base = REPO_ROOT / "reports" / f"{stamp}-{exp.name}{suffix}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def run_experiment(exp: ExperimentSpec, options: RunOptions | None = None) -> RunResult:
    opts = options or RunOptions()
    system = exp.target
    if opts.defect is not None and opts.defect not in system.defects:
        known = ", ".join(system.defects) or "none"
        raise InputError(f"system '{system.name}' has no defect '{opts.defect}'; defects: {known}", file=str(exp.path))
    try:
        runtime_factory = runtimes.get(opts.runtime)
    except KeyError as exc:
        raise InputError(str(exc)) from None
    seed = exp.seed if opts.seed is None else opts.seed
    run_dir = (opts.out or default_run_dir(exp, opts.defect)).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    _clear_previous_run(run_dir)
    ev = opts.events
    journal = JournalWriter(run_dir / "journal.jsonl")
    result = RunResult(experiment=exp.name, system=system.name, run_dir=run_dir, seed=seed, runtime=opts.runtime,
                       defect=opts.defect, started=time.time(), experiment_path=str(exp.path))
    guard = InterruptGuard(notice=lambda m: ev.notice.fire(message=m))
    deployment: Deployment | None = None
    load: LoadProcess | None = None
    timeline: FaultTimeline | None = None
    sampler: EdgeSampler | None = None

    with guard.installed():
        try:
            journal.write("run_started", experiment=exp.name, experiment_path=str(exp.path), system=system.name,
                          defect=opts.defect, seed=seed, runtime=opts.runtime,
                          steady_state={"warmup": exp.steady_state.warmup, "settle": exp.steady_state.settle},
                          load=exp.load.model_dump(), faults=[f.model_dump() for f in exp.faults])
            _phase(journal, ev, "setup")
            deployment = runtime_factory(DeployRequest(system=system, run_dir=run_dir, journal=journal, events=ev,
                                                       defect=opts.defect, metrics_needed=reads_metrics(exp)))
            timeline = FaultTimeline(exp, deployment, journal, ev)
            sampler = start_sampling(deployment)  # traffic per edge, for amplification checks
            locustfile = (exp.path.parent / exp.load.locustfile) if exp.load.locustfile else system.locustfile_path
            load = LoadProcess(locustfile=locustfile, host=deployment.entry_url, users=exp.load.users,
                               spawn_rate=exp.load.spawn_rate, duration=exp.load.duration,
                               user_classes=exp.load.user_classes, seed=seed, out_dir=run_dir / REQUESTS_DIR,
                               log_path=run_dir / "logs" / "locust.log", env=deployment.load_env(),
                               record_bodies=exp.load.record_bodies)
            _phase(journal, ev, "load")
            load.start()
            t0 = load.wait_started(timeout=60.0)
            for rec in load.drain():
                journal.write_record(rec)
            timeline.begin(t0)
            result.status = _drive(exp, deployment, load, timeline, journal, ev, t0, sampler)
        except RunInterrupted as exc:
            result.status = "interrupted"
            result.error = str(exc)
            ev.notice.fire(message=f"{exc}: healing faults and stopping processes")
        except SystemCrashed as exc:
            result.status = "aborted"
            result.error = str(exc)
            ev.notice.fire(message=str(exc))
        except EnvironmentProblem as exc:
            result.status = "errored"
            result.error = str(exc)
        finally:
            with guard.shield():
                _phase(journal, ev, "teardown")
                if timeline is not None:
                    timeline.remove_all()
                if load is not None:
                    load.stop()
                    for rec in load.drain():
                        journal.write_record(rec)
                if sampler is not None:
                    sampler.stop()
                    _drain_sampler(sampler, journal)
                if deployment is not None:
                    _drain_events(deployment, journal, ev)
                    if result.status == "completed":
                        for service, state in deployment.audit().items():
                            journal.write("audit", service=service, state=state)
                        record_invariants(exp, deployment, journal, ev)
                    _collect(exp, journal, ev)
                    deployment.stop()
                journal.write("run_finished", status=result.status, error=result.error)
                journal.close()

        with guard.shield():
            # The journal's records are already in memory; the request files are read once, here.
            history = History(journal.records, read_requests(run_dir / REQUESTS_DIR))
            _phase_only(ev, "checks")
            if result.status in ("completed", "aborted") or history.requests:
                result.checks = evaluate(exp, history)
                for c in result.checks:
                    ev.check_evaluated.fire(result=c)
            result.counts = {"requests": len(history.requests),
                             "failures": len(history.requests) - history.requests.succeeded,
                             "events": len(history.events)}
            result.finished = time.time()
            _phase_only(ev, "reports")
            write_reports(run_dir, result, history)
    return result


def _drive(exp: ExperimentSpec, deployment: Deployment, load: LoadProcess, timeline: FaultTimeline,
           journal: JournalWriter, ev: RunEvents, t0: float, sampler: EdgeSampler | None = None) -> Status:
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


def _collect(exp: ExperimentSpec, journal: JournalWriter, ev: RunEvents) -> None:
    """While the system still runs, checks that query it (PromQL) record what they will judge.

    Reads the journal's records so far (kept in memory by the writer): windows are built from
    those (faults, load start and stop), not from requests.
    """
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


def _clear_previous_run(run_dir: Path) -> None:
    """A reused --out folder (a CI job's fixed path) must not mix an old run into this one."""
    for name in ("journal.jsonl", "requests.jsonl", "result.json", "junit.xml", "report.html", "prometheus.yml"):
        (run_dir / name).unlink(missing_ok=True)
    for f in (run_dir / REQUESTS_DIR).glob("*"):
        if f.is_file():
            f.unlink()
    logs = run_dir / "logs"
    if logs.is_dir():
        for f in logs.iterdir():
            if f.is_file():
                f.unlink()


def _phase(journal: JournalWriter, ev: RunEvents, phase: str) -> None:
    journal.write("phase", phase=phase)
    ev.phase_changed.fire(phase=phase)


def _phase_only(ev: RunEvents, phase: str) -> None:
    ev.phase_changed.fire(phase=phase)
