"""Applies and removes an experiment's faults on schedule, writing the actual times.

Planned times are offsets from the start of load; the journal gets the moment each fault
really took effect, which is what checks measure from.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import EnvironmentProblem, HarnessError
from ..events import RunEvents
from ..journal import JournalWriter
from .capabilities import STOCK_SERVER_HINT, has_http_toxics
from .registry import ActiveFault

if TYPE_CHECKING:
    from ..experiment import ExperimentSpec, FaultSpec
    from ..runtime.base import Deployment


@dataclass
class Scheduled:
    spec: "FaultSpec"
    fault: ActiveFault
    start: float
    end: float
    applied_at: float | None = None
    removed_at: float | None = None
    traffic_before: dict[str, Any] | None = None  # counters that already existed under this fault's name
    by: str = "timeline"
    """Who asked for it: the experiment's timeline, or a client of ``harness ui``'s Chaos API."""

    @property
    def active(self) -> bool:
        return self.applied_at is not None and self.removed_at is None


class FaultTimeline:
    def __init__(self, exp: "ExperimentSpec", deployment: "Deployment", journal: JournalWriter, events: RunEvents):
        self.deployment, self.journal, self.events = deployment, journal, events
        self.t0: float | None = None
        self.items: list[Scheduled] = []
        for spec in exp.faults:
            target = spec.edge if spec.edge is not None else spec.service
            assert spec.name is not None and target is not None, "experiment was not validated"
            fault = ActiveFault(name=spec.name, type=spec.type, target=target, attributes=spec.parsed_attributes,
                                stream=spec.stream, toxicity=spec.toxicity)
            self.items.append(Scheduled(spec, fault, spec.start, exp.fault_end(spec)))
        self._check_server()
        for item in self.items:
            try:
                item.fault.kind.prepare(deployment, item.fault)
            except (HarnessError, OSError) as exc:
                raise EnvironmentProblem(f"could not prepare fault '{item.fault.name}' ({item.fault.type} on "
                                         f"{item.fault.target}): {exc}") from exc

    def _check_server(self) -> None:
        """Refuse, before load starts, faults the run's toxiproxy-server cannot carry out."""
        needy = [s.fault.name for s in self.items if s.fault.kind.needs_http_toxics]
        if not needy:
            return
        version = self.deployment.toxiproxy.version()
        if not has_http_toxics(version):
            raise EnvironmentProblem(
                f"fault(s) {', '.join(needy)} need HTTP toxics, but this run's toxiproxy-server "
                f"({self.deployment.toxiproxy.base_url}, version {version}) is a stock one", hint=STOCK_SERVER_HINT)

    def begin(self, t0: float) -> None:
        self.t0 = t0

    def first_start(self) -> float | None:
        return min((s.start for s in self.items), default=None)

    def active_names(self) -> list[str]:
        return [s.fault.name for s in self.items if s.active]

    def tick(self, now: float) -> None:
        """Remove what is due, then apply what is due (a fault ending as another starts)."""
        assert self.t0 is not None
        offset = now - self.t0
        for item in self.items:
            if item.active and offset >= item.end:
                self._remove(item)
        for item in self.items:
            if item.applied_at is None and item.removed_at is None and offset >= item.start:
                self._apply(item)

    def _apply(self, item: Scheduled) -> None:
        f = item.fault
        # The fault's time is when we asked for it: its effects cannot come earlier, so an
        # event caused by the fault never appears to precede it. `took_ms` says how long
        # the runtime took to carry it out.
        if f.kind.needs_http_toxics:
            # A long-lived server (the Compose stack) may have counted a toxic of this name before.
            item.traffic_before = self._traffic(item)
        asked = time.time()
        try:
            f.kind.apply(self.deployment, f)
        except (HarnessError, OSError, ValueError) as exc:
            self.journal.write("fault_error", fault=f.name, action="apply", error=str(exc))
            raise EnvironmentProblem(f"could not apply fault '{f.name}' ({f.type} on {f.target}): {exc}") from exc
        rec = self.journal.write("fault_applied", t=asked, fault=f.name, type=f.type, target=f.target, stream=f.stream,
                                 toxicity=f.toxicity, attributes=f.attributes.model_dump(), planned_s=item.start,
                                 took_ms=round((time.time() - asked) * 1000, 3), by=item.by)
        item.applied_at = rec["t"]
        self.events.fault_applied.fire(fault=f.name, type=f.type, target=f.target, at_s=item.applied_at - (self.t0 or 0))

    def apply_item(self, item: Scheduled) -> None:
        """Apply one item now, whatever its planned time (``harness ui``); EnvironmentProblem if it fails."""
        self._apply(item)

    def remove_item(self, item: Scheduled, by: str | None = None) -> bool:
        """Remove one applied item now (``harness ui``); False (and a ``fault_error`` record) if that failed."""
        return self._remove(item, by)

    def _remove(self, item: Scheduled, by: str | None = None) -> bool:
        f = item.fault
        asked = time.time()
        try:
            f.kind.remove(self.deployment, f)
        except Exception as exc:  # noqa: BLE001 - removal must never stop the other removals
            self.journal.write("fault_error", fault=f.name, action="remove", error=f"{type(exc).__name__}: {exc}")
            return False
        planned = item.end if item.end != float("inf") else None  # JSON has no infinity
        rec = self.journal.write("fault_removed", t=asked, fault=f.name, planned_s=planned,
                                 took_ms=round((time.time() - asked) * 1000, 3), by=by or item.by)
        item.removed_at = rec["t"]
        self.events.fault_removed.fire(fault=f.name, at_s=item.removed_at - (self.t0 or 0))
        self._record_traffic(item)
        return True

    def _traffic(self, item: Scheduled) -> dict[str, Any] | None:
        try:
            return item.fault.kind.traffic(self.deployment, item.fault)
        except Exception as exc:  # noqa: BLE001 - a missing count never stops the run
            return {"error": f"{type(exc).__name__}: {exc}"}

    def _record_traffic(self, item: Scheduled) -> None:
        """What the fault saw, when its type can say: a fault that could not bite must show."""
        f = item.fault
        seen = self._traffic(item)
        if seen is None:
            return
        if "error" in seen:
            self.journal.write("fault_traffic", fault=f.name, error=seen["error"])
            return
        before = item.traffic_before or {}
        if "error" not in before:
            seen = {key: value - before.get(key, 0) for key, value in seen.items()}
        self.journal.write("fault_traffic", fault=f.name, **seen)
        if seen.get("not_http_connections"):
            error = (f"{seen['not_http_connections']} connection(s) on {f.target} were not HTTP/1.x: {f.type} "
                     "passed their traffic through unfaulted (the reason is in logs/toxiproxy.log)")
            self.journal.write("fault_error", fault=f.name, action="traffic", error=error)
            self.events.notice.fire(message=f"fault {f.name}: {error}")
        elif (idle := f.kind.idle(f, seen)) is not None:
            self.events.notice.fire(message=f"fault {f.name}: {idle}")

    def remove_all(self) -> None:
        """Heal everything, whatever happened. Falls back to Toxiproxy's reset if a removal fails."""
        failed = [item for item in self.items if item.active and not self._remove(item)]
        if failed:
            try:
                self.deployment.toxiproxy.reset()
            except Exception as exc:  # noqa: BLE001
                self.journal.write("fault_error", fault="*", action="reset", error=str(exc))
                return
            for item in failed:
                planned = item.end if item.end != float("inf") else None
                rec = self.journal.write("fault_removed", fault=item.fault.name, via="reset", planned_s=planned)
                item.removed_at = rec["t"]

    def summary(self) -> list[dict[str, Any]]:
        return [{"fault": s.fault.name, "applied": s.applied_at, "removed": s.removed_at} for s in self.items]
