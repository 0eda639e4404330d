"""Tearing a run down, whatever ended it: heal every fault, stop every process, keep the record.

Two ways, one order (faults first, always):

    graceful   remove each fault; stop Locust (it writes its last records) and the edge
               sampler; read the targets' last events; audit (after a completed method),
               collect live evidence (invariants' audits, Prometheus series); stop the runtime; then SIGKILL whatever the run's state file says still runs
               and remove the temporary directories it recorded.
    fast       after a second signal: one Toxiproxy reset heals every network fault at once,
               then every process the run started is SIGKILLed (its state file knows them
               all, also those of a runtime that never finished starting), then the runtime
               stops (containers), and the same final sweep.

Every step is isolated: one that fails is written to the journal and the next still runs.
Steps are idempotent, so a second signal in the middle of a graceful step can restart the
rest of the teardown the fast way without undoing or repeating harm.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .errors import ForcedExit
from .events import RunEvents
from .journal import JournalWriter, Record

if TYPE_CHECKING:
    from .experiment import ExperimentSpec
    from .faults.timeline import FaultTimeline
    from .load.generator import LoadGenerator
    from .runstate import RunState
    from .runtime.base import Deployment
    from .signals import InterruptGuard
    from .traffic.sampler import EdgeSampler


@dataclass
class RunParts:
    """What a run has brought up so far; each part is None until it exists."""

    journal: JournalWriter | None = None
    deployment: Deployment | None = None
    timeline: FaultTimeline | None = None
    load: LoadGenerator | None = None
    sampler: EdgeSampler | None = None
    state: RunState | None = None
    done: set[str] = field(default_factory=set)
    """Steps finished: a teardown restarted after a second signal skips them."""


Collect = Callable[["ExperimentSpec", "Deployment", JournalWriter, RunEvents, bool], None]
DrainEvents = Callable[["Deployment", JournalWriter, RunEvents], None]
DrainSampler = Callable[["EdgeSampler | None", JournalWriter], None]


def tear_down(parts: RunParts, exp: ExperimentSpec, guard: InterruptGuard, ev: RunEvents, *, completed: Callable[[], bool],
              collect: Collect, drain_events: DrainEvents, drain_sampler: DrainSampler) -> None:
    """Heal and stop everything. Never raises: a second signal switches to the fast way."""
    if not guard.forced:
        try:
            guard.raising = True  # only a second signal raises here (ForcedExit); a first one is noted
            _graceful(parts, exp, guard, ev, completed, collect, drain_events, drain_sampler)
            guard.raising = False
        except ForcedExit:
            pass  # the handler switched raising off as it raised
    flush_notices(guard, ev)
    if guard.forced:
        _fast(parts, ev)
    _final_sweep(parts, ev)
    flush_notices(guard, ev)


def _step(parts: RunParts, name: str, ev: RunEvents, fn: Callable[[], object]) -> None:
    """Run one teardown step once; a failure is recorded and the teardown goes on."""
    if name in parts.done:
        return
    try:
        fn()
    except ForcedExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - one broken step must not leave the rest undone
        if parts.journal is not None:
            _write(parts.journal, "teardown_error", step=name, error=f"{type(exc).__name__}: {exc}",
                   traceback=traceback.format_exc(limit=8))
        ev.notice.fire(message=f"teardown step '{name}' failed: {type(exc).__name__}: {exc}")
    parts.done.add(name)


def _graceful(parts: RunParts, exp: ExperimentSpec, guard: InterruptGuard, ev: RunEvents, completed: Callable[[], bool],
              collect: Collect, drain_events: DrainEvents, drain_sampler: DrainSampler) -> None:
    journal = parts.journal
    if parts.timeline is not None:
        _step(parts, "heal", ev, parts.timeline.remove_all)
    flush_notices(guard, ev)
    if parts.load is not None:
        load = parts.load
        _step(parts, "stop-load", ev, load.stop)
        if journal is not None:
            _step(parts, "drain-load", ev, lambda: _drain_load(load, journal))
    if parts.sampler is not None:
        sampler = parts.sampler
        _step(parts, "stop-sampler", ev, sampler.stop)
        if journal is not None:
            _step(parts, "drain-sampler", ev, lambda: drain_sampler(sampler, journal))
    flush_notices(guard, ev)
    if parts.deployment is not None and journal is not None:
        deployment = parts.deployment
        _step(parts, "events", ev, lambda: drain_events(deployment, journal, ev))
        if completed():
            _step(parts, "audit", ev, lambda: _audit(deployment, journal))
        _step(parts, "collect", ev, lambda: collect(exp, deployment, journal, ev, completed()))
    flush_notices(guard, ev)
    if parts.deployment is not None:
        _step(parts, "stop-runtime", ev, parts.deployment.stop)
    flush_notices(guard, ev)


def _fast(parts: RunParts, ev: RunEvents) -> None:
    ev.notice.fire(message="fast exit: resetting Toxiproxy, then killing every process of the run")
    if parts.deployment is not None and parts.timeline is not None:
        _step(parts, "heal-fast", ev, lambda: _reset_faults(parts))
    if parts.sampler is not None:
        _step(parts, "stop-sampler", ev, parts.sampler.stop)
    if parts.state is not None:
        state = parts.state
        _step(parts, "kill", ev, state.kill_survivors)
    if parts.load is not None:
        load = parts.load
        _step(parts, "stop-load", ev, load.stop)  # killed already: this only reaps it and closes its files
        if parts.journal is not None:
            journal = parts.journal
            _step(parts, "drain-load", ev, lambda: _drain_load(load, journal))
    if parts.deployment is not None:
        _step(parts, "stop-runtime", ev, parts.deployment.stop)


def _final_sweep(parts: RunParts, ev: RunEvents) -> None:
    """Belt and braces: what the runtime did not stop (or never got to own) dies here."""
    if parts.state is None:
        return
    state = parts.state
    try:
        killed = state.kill_survivors()
        removed = state.remove_paths()
    except OSError as exc:
        ev.notice.fire(message=f"the final sweep of the run failed: {exc}")
        return
    if killed and parts.journal is not None:
        _write(parts.journal, "processes_killed", processes=[f"{pid} {what}" for pid, what in killed.items()])
    if removed and parts.journal is not None:
        _write(parts.journal, "directories_removed", paths=removed)
    if killed:
        ev.notice.fire(message=f"killed {len(killed)} process(es) the runtime had not stopped")
    left = state.leftovers()
    if left:  # kept on record: the sweep of a later run (once this harness is gone) tries again
        if parts.journal is not None:
            _write(parts.journal, "leftovers", items=left)
        ev.notice.fire(message=f"could not remove: {', '.join(left)}")


def _reset_faults(parts: RunParts) -> None:
    """One call heals every network fault; a process fault (paused, killed) ends with the kill."""
    assert parts.deployment is not None and parts.timeline is not None
    active = [item for item in parts.timeline.items if item.active]
    if not active:
        return
    parts.deployment.toxiproxy.reset()
    for item in active:
        if parts.journal is not None:
            rec = _write(parts.journal, "fault_removed", fault=item.fault.name, via="reset",
                         planned_s=item.end if item.end != float("inf") else None)  # harness ui: until removed
            item.removed_at = rec["t"] if rec else None


def _drain_load(load: LoadGenerator, journal: JournalWriter) -> None:
    for rec in load.drain():
        journal.write_record(rec)


def _audit(deployment: Deployment, journal: JournalWriter) -> None:
    for service, state in deployment.audit().items():
        journal.write("audit", service=service, state=state)


def flush_notices(guard: InterruptGuard, ev: RunEvents) -> None:
    for message in guard.take_notices():
        ev.notice.fire(message=message)


def _write(journal: JournalWriter, kind: str, **fields: Any) -> Record | None:
    try:
        return journal.write(kind, **fields)
    except (OSError, ValueError):  # a full disk must not stop the healing
        return None
