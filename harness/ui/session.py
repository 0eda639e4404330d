"""``harness ui``: an interactive run, told as a story like ``harness run``'s (``runner.py``).

    sweep -> runtime up -> proxies wired -> control server (loopback) -> Locust's web UI (its own
    process, with the Chaos tab) -> loop: journal fed, the tab's commands carried out, faults timed
    -> the session ends (Stop in the tab, Ctrl-C, SIGTERM)
    -> the same teardown and conclusion as a run: faults removed, processes stopped, the
       experiment's checks over the journal, the four files.

People press Start in Locust's UI whenever they like; the session's clock (``load_started``) starts
when the web UI listens, so windows and fault times are on the same clock as Locust's charts.
The first Ctrl-C or SIGTERM is how a session normally ends: it ends ``completed`` (a second one
takes the fast way out, as in a run).
"""
from __future__ import annotations

import contextlib
import math
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .. import runstate
from ..errors import EnvironmentProblem, InputError, RunInterrupted
from ..events import RunEvents
from ..experiment import ExperimentSpec, FaultSpec
from ..faults.capabilities import STOCK_SERVER_HINT, has_http_toxics
from ..faults.registry import ActiveFault
from ..faults.timeline import FaultTimeline, Scheduled
from ..journal import REQUESTS_DIR, JournalWriter
from ..load.process import LoadProcess
from ..metrics.collect import reads_metrics
from ..result import RunResult, Status
from ..rundir import prepare_run_dir
from ..runner import (
    SystemCrashed,
    runtime_for,
    _collect,
    _drain_events,
    _drain_sampler,
    _phase,
    _record_ending,
    _sweep_dead_runs,
    conclude,
    default_run_dir,
)
from ..runtime.base import Deployment, DeployRequest
from ..signals import InterruptGuard
from ..teardown import RunParts, flush_notices, tear_down
from ..traffic.sampler import start_sampling
from .api import describe, validate_fault
from .control import Answer, Commands, ControlServer

TICK_S = 0.05
LOOPBACK = "127.0.0.1"
EVENT_KINDS = {"load_started", "swarm_started", "swarm_stopped", "fault_applied", "fault_removed", "fault_error",
               "event", "service_action", "service_crashed", "timeline_started", "session_ended", "probe"}
"""Journal records the tab lists (traffic samples and phases would drown the rest)."""
MAX_EVENTS = 5000
STOP_GRACE_S = 1.0
FEED_EVENTS = 12


@dataclass
class UiOptions:
    defect: str | None = None
    seed: int | None = None
    out: Path | None = None
    runtime: str = "local"
    web_host: str = LOOPBACK
    web_port: int = 8089
    workers: int | None = None
    """Locust workers; None: the experiment's ``load.workers``."""
    events: RunEvents = field(default_factory=RunEvents)
    ignore_signals_after: bool = False
    on_ready: Callable[[str, str], None] | None = None
    """Called with the web UI's URL and the control server's once both listen."""


class UiLoadProcess(LoadProcess):
    """``LoadProcess`` running ``harness.ui.locust_web`` (Locust's web UI) instead of a headless run."""

    def __init__(self, *, web_host: str, web_port: int, control: str, **kwargs: Any):
        super().__init__(duration=0.0, **kwargs)
        self.web_host, self.web_port, self.control = web_host, web_port, control

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "harness.ui.locust_web", "--locustfile", str(self.locustfile),
               "--host", self.host, "--users", str(self.users), "--spawn-rate", repr(float(self.spawn_rate)),
               "--seed", str(self.seed), "--out", str(self.out_path), "--web-host", self.web_host,
               "--web-port", str(self.web_port), "--control", self.control]
        for name in self.user_classes:
            cmd += ["--user-class", name]
        if self.record_bodies:
            cmd += ["--record-bodies", str(self.record_bodies)]
        if self.workers:
            cmd += ["--workers", str(self.workers), "--master-bind-host", "127.0.0.1",
                    "--master-bind-port", str(self.master_port)]
        return cmd


class ChaosSession:
    """The Chaos API's state: the timeline (the experiment's faults and the tab's), the events list.

    Read by the control server's threads under ``lock``; changed only on the main loop.
    """

    def __init__(self, exp: ExperimentSpec, session_id: str):
        self.exp, self.session_id = exp, session_id
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.stopped_by: str | None = None
        self.timeline: FaultTimeline | None = None
        self.journal: JournalWriter | None = None
        self.deployment: Deployment | None = None
        self.own: list[Scheduled] = []
        """The experiment's fault timeline, held back until the tab starts it."""
        self.timeline_started = False
        self.events: list[dict[str, Any]] = []
        self._seen = 0
        self._counter = 0
        with exp.plugin_scope.active():
            self._system = describe(exp, session=session_id)

    # --- the main loop's side -------------------------------------------------------------

    def attach(self, timeline: FaultTimeline, journal: JournalWriter, deployment: Deployment) -> None:
        self.own, timeline.items = list(timeline.items), []
        self.timeline, self.journal, self.deployment = timeline, journal, deployment

    def collect_events(self) -> None:
        """Journal records since the last call that the tab lists."""
        if self.journal is None:
            return
        records = self.journal.records
        new = [r for r in records[self._seen:] if r.get("kind") in EVENT_KINDS]
        self._seen = len(records)
        if new:
            with self.lock:
                self.events.extend(new)
                del self.events[:-MAX_EVENTS]

    def offset(self) -> float:
        assert self.timeline is not None and self.timeline.t0 is not None
        return time.time() - self.timeline.t0

    # --- the API (ChaosApi) -----------------------------------------------------------------

    def system(self) -> dict[str, Any]:
        return {**self._system, "timeline_started": self.timeline_started}

    def active(self) -> list[dict[str, Any]]:
        with self.lock:
            items = list(self.timeline.items) if self.timeline is not None else []
        return [_fault_view(item) for item in items if item.removed_at is None]

    def events_since(self, since: float) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.events if float(e.get("t", 0)) > since]

    def feed(self) -> list[dict[str, Any]]:
        rows = [{"time": _clock(f["applied_at"] or f["planned_at"]), "what": "ACTIVE" if f["applied_at"] else "scheduled",
                 "detail": f"{f['name']}: {f['type']} on {f['target']} {f['attributes']} (by {f['by']})"}
                for f in self.active()]
        with self.lock:
            latest = self.events[-FEED_EVENTS:]
        rows += [{"time": _clock(float(e["t"])), "what": str(e["kind"]), "detail": _detail(e)} for e in reversed(latest)]
        return rows

    def check_fault(self, body: Any) -> FaultSpec:
        with self.lock:
            items = list(self.timeline.items) if self.timeline is not None else []
        taken = {i.fault.name for i in items if i.removed_at is None} | {i.fault.name for i in self.own}
        kind = body.get("type") if isinstance(body, dict) and isinstance(body.get("type"), str) else "fault"
        with self.lock:  # two posts at once must not get the same default name
            self._counter += 1
            name = f"{kind}-{self._counter}"
            while name in taken:
                self._counter += 1
                name = f"{kind}-{self._counter}"
        with self.exp.plugin_scope.active():  # a server thread: the fault types its system's plugins registered
            return validate_fault(self.exp, body, taken, name)

    def apply(self, spec: FaultSpec, client: str) -> Answer:
        timeline, deployment = self.timeline, self.deployment
        if timeline is None or deployment is None or timeline.t0 is None:
            return Answer(503, {"error": "the session is not running yet"})
        assert spec.name is not None
        if any(i.fault.name == spec.name and i.removed_at is None for i in timeline.items):
            return Answer(400, {"error": f"POST /chaos/faults: name: a fault named '{spec.name}' is active; remove it first"})
        target = spec.edge if spec.edge is not None else spec.service
        assert target is not None
        fault = ActiveFault(name=spec.name, type=spec.type, target=target, attributes=spec.parsed_attributes,
                            stream=spec.stream, toxicity=spec.toxicity)
        if fault.kind.needs_http_toxics and not has_http_toxics(deployment.toxiproxy.version()):
            return Answer(409, {"error": f"fault type '{spec.type}' needs HTTP toxics; this session's toxiproxy-server "
                                         f"is a stock one ({STOCK_SERVER_HINT})"})
        start = self.offset() + spec.start
        end = start + spec.duration if spec.duration is not None else math.inf
        item = Scheduled(spec, fault, start, end, by=client)
        try:
            fault.kind.prepare(deployment, fault)
        except Exception as exc:  # noqa: BLE001 - nothing applied: say why
            return Answer(502, {"error": f"could not prepare fault '{fault.name}': {exc}"})
        with self.lock:
            timeline.items.append(item)
        if spec.start <= 0:
            try:
                timeline.apply_item(item)
            except EnvironmentProblem as exc:
                with self.lock:
                    timeline.items.remove(item)
                return Answer(502, {"error": str(exc)})
        return Answer(201, _fault_view(item))

    def remove(self, name: str, client: str) -> Answer:
        timeline = self.timeline
        if timeline is None:
            return Answer(503, {"error": "the session is not running yet"})
        for item in timeline.items:
            if item.fault.name == name and item.removed_at is None:
                if item.applied_at is None:  # scheduled, never applied: nothing to heal
                    item.removed_at = time.time()
                    assert self.journal is not None
                    self.journal.write("fault_cancelled", fault=name, by=client)
                elif not timeline.remove_item(item, by=client):
                    return Answer(502, {"error": f"could not remove fault '{name}' (see the journal's fault_error); "
                                                 "it is healed at the end of the session with a Toxiproxy reset"})
                return Answer(200, _fault_view(item))
        active = [i.fault.name for i in timeline.items if i.removed_at is None]
        return Answer(404, {"error": f"no active fault '{name}'; active: {', '.join(active) or 'none'}"})

    def start_timeline(self, client: str) -> Answer:
        timeline = self.timeline
        if timeline is None or self.journal is None:
            return Answer(503, {"error": "the session is not running yet"})
        if self.timeline_started:
            return Answer(409, {"error": "the experiment's timeline was started already"})
        if not self.own:
            return Answer(409, {"error": f"experiment '{self.exp.name}' has no faults"})
        clash = {i.fault.name for i in timeline.items if i.removed_at is None} & {i.fault.name for i in self.own}
        if clash:
            return Answer(409, {"error": f"remove the tab's fault(s) {', '.join(sorted(clash))} first: the timeline uses those names"})
        now = self.offset()
        for item in self.own:
            item.start += now
            item.end += now
            item.by = "timeline"
        with self.lock:
            timeline.items.extend(self.own)
            self.timeline_started = True
        self.journal.write("timeline_started", by=client, offset_s=round(now, 3), faults=[i.fault.name for i in self.own])
        return Answer(200, {"started": [_fault_view(i) for i in self.own]})

    def request_stop(self, client: str) -> Answer:
        self.stopped_by = self.stopped_by or client
        self.stop.set()
        return Answer(202, {"stopping": True})


def _fault_view(item: Scheduled) -> dict[str, Any]:
    f = item.fault
    t0 = item.applied_at
    return {"name": f.name, "type": f.type, "target": f.target, "attributes": f.attributes.model_dump(mode="json"),
            "stream": f.stream, "toxicity": f.toxicity, "by": item.by, "applied_at": t0,
            "planned_at": None if t0 is not None else item.start, "removed_at": item.removed_at,
            "ends_at_s": None if math.isinf(item.end) else item.end}


def _clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t)) if t > 1e9 else f"+{t:.1f}s"


def _detail(e: dict[str, Any]) -> str:
    skip = {"kind", "t"}
    return ", ".join(f"{k}={v}" for k, v in e.items() if k not in skip and v not in (None, "", [], {}))[:300]


def run_session(exp: ExperimentSpec, opts: UiOptions) -> RunResult:
    """Deploy, serve the UI until the session ends, then tear down and report like ``run_experiment``."""
    with exp.plugin_scope.active():  # faults, checks and runtimes as its system's plugins registered them
        return _run_session(exp, opts)


def _run_session(exp: ExperimentSpec, opts: UiOptions) -> RunResult:
    system = exp.target
    runtime_factory = runtime_for(exp, opts.defect, opts.runtime)
    seed = exp.seed if opts.seed is None else opts.seed
    ev = opts.events
    guard = InterruptGuard(ignore_after=opts.ignore_signals_after)
    session_id = uuid.uuid4().hex[:12]
    chaos = ChaosSession(exp, session_id)
    commands = Commands()
    control = ControlServer(chaos, commands)
    with guard.installed():
        run_dir = prepare_run_dir(opts.out or default_run_dir(exp, opts.defect))
        result = RunResult(experiment=exp.name, system=system.name, run_dir=run_dir, seed=seed, runtime=opts.runtime,
                           defect=opts.defect, started=time.time(), experiment_path=str(exp.path))
        parts = RunParts()
        with runstate.tracking(session_id, run_dir) as parts.state:
            try:
                try:
                    guard.raising = True
                    journal = parts.journal = JournalWriter(run_dir / "journal.jsonl")
                    journal.write("run_started", experiment=exp.name, experiment_path=str(exp.path), system=system.name,
                                  defect=opts.defect, seed=seed, runtime=opts.runtime, mode="ui",
                                  steady_state={"warmup": exp.steady_state.warmup, "settle": exp.steady_state.settle},
                                  load=exp.load.model_dump(), faults=[f.model_dump() for f in exp.faults])
                    _sweep_dead_runs(journal, ev)
                    _phase(journal, ev, "setup")
                    deployment = parts.deployment = runtime_factory(DeployRequest(
                        system=system, run_dir=run_dir, journal=journal, events=ev, defect=opts.defect,
                        metrics_needed=reads_metrics(exp)))
                    timeline = parts.timeline = FaultTimeline(exp, deployment, journal, ev)
                    chaos.attach(timeline, journal, deployment)
                    parts.sampler = start_sampling(deployment, run_dir / "logs" / "toxiproxy.log")
                    control.start()
                    locustfile = (exp.path.parent / exp.load.locustfile) if exp.load.locustfile else system.locustfile_path
                    load = parts.load = UiLoadProcess(
                        web_host=opts.web_host, web_port=opts.web_port, control=control.url,
                        locustfile=locustfile, host=deployment.entry_url, users=exp.load.users,
                        spawn_rate=exp.load.spawn_rate, user_classes=exp.load.user_classes, seed=seed,
                        out_dir=run_dir / REQUESTS_DIR, log_path=run_dir / "logs" / "locust.log",
                        env=deployment.load_env(), record_bodies=exp.load.record_bodies,
                        workers=exp.load.workers if opts.workers is None else opts.workers)
                    _phase(journal, ev, "load")
                    load.start()
                    t0 = load.wait_started(timeout=60.0)
                    for rec in load.drain():
                        journal.write_record(rec)
                    timeline.begin(t0)
                    if opts.on_ready is not None:
                        opts.on_ready(f"http://{_url_host(opts.web_host)}:{opts.web_port}/", control.url)
                    result.status = _serve(chaos, commands, deployment, load, timeline, journal, ev, guard, parts)
                    guard.raising = False
                except BaseException as exc:  # noqa: BLE001 - every ending gets a status, then the same clean-up
                    guard.raising = False
                    if isinstance(exc, InputError) and exc.file is None:
                        exc.file = system.manifest_name
                    _record_ending(result, exc, parts.journal, ev)
            except RunInterrupted as exc:
                _record_ending(result, exc, parts.journal, ev)
            finally:
                guard.shielded = True
                chaos.stop.set()
                commands.refuse_pending("the session is ending")
                _phase(parts.journal, ev, "teardown")
                tear_down(parts, exp, guard, ev, completed=lambda: result.status == "completed",
                          collect=_collect, drain_events=_drain_events, drain_sampler=_drain_sampler)
                chaos.collect_events()
                with contextlib.suppress(Exception):
                    control.stop()
                conclude(exp, result, parts, guard, ev)
    return result


def _serve(chaos: ChaosSession, commands: Commands, deployment: Deployment, load: UiLoadProcess, timeline: FaultTimeline,
           journal: JournalWriter, ev: RunEvents, guard: InterruptGuard, parts: RunParts) -> Status:
    """The session's loop, until Stop, a signal, a crashed service or Locust's exit."""
    status: Status = "completed"
    try:
        while not chaos.stop.is_set():
            for rec in load.drain():
                journal.write_record(rec)
            _drain_events(deployment, journal, ev)
            _drain_sampler(parts.sampler, journal)
            crashed = deployment.check_alive()
            if crashed:
                for service in crashed:
                    journal.write("service_crashed", service=service)
                raise SystemCrashed(f"service(s) {', '.join(crashed)} exited on their own during the session; "
                                    "see logs/ in the run folder")
            commands.run_pending()
            timeline.tick(time.time())
            chaos.collect_events()
            flush_notices(guard, ev)
            code = load.poll()
            if code is not None:
                raise EnvironmentProblem(f"Locust's web UI exited with code {code}; last lines of its log:\n"
                                         + load.log_tail(15))
            time.sleep(TICK_S)
        # The answer to POST /chaos/stop travels back through the Locust process: let it arrive
        # before that process is stopped (on a busy machine the teardown would otherwise win).
        time.sleep(STOP_GRACE_S)
        journal.write("session_ended", by=chaos.stopped_by or "stop")
    except RunInterrupted as exc:
        if guard.forced:
            raise
        # The first Ctrl-C / SIGTERM is how a session ends: not an interruption of anything.
        guard.received = None
        journal.write("session_ended", by=exc.signal_name)
    return status


def _url_host(host: str) -> str:
    return LOOPBACK if host in ("", "0.0.0.0") else host  # noqa: S104 - shown as the address to open
