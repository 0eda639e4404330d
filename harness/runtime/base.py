"""What a runtime provides: a deployed system whose edges all pass through Toxiproxy.

A runtime (local processes, Docker, ...) turns a ``SystemSpec`` into a ``Deployment``. The
runner talks only to this surface, so a new runtime never reshapes the run.

The base holds what every runtime shares: bring-up that tears a half-started system down,
idempotent stop, the service actions process faults use (kill, stop, start, pause, resume,
restart: a registry, with the bookkeeping of which services are down on purpose), and the
crash check built on it. A runtime supplies the primitives: how to start one service (again),
kill, stop, pause and resume it, and whether it has exited. That is the one place that knows
how a service runs, so a service the harness does not start (a system already running) or one
with an image of its own changes a runtime's primitives, not the run or the faults.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from ..events import RunEvents
from ..faults.toxiproxy import ToxiproxyClient
from ..journal import JournalWriter, Record
from ..registry import Registry
from ..system import SystemSpec
from .logtail import EventTail


@dataclass
class DeployRequest:
    system: SystemSpec
    run_dir: Path
    journal: JournalWriter
    events: RunEvents
    defect: str | None = None
    metrics_needed: bool = False
    """Some check reads metrics (PromQL): wait until Prometheus scrapes before load starts.
    Without such a check Prometheus still runs (when installed) but nobody waits for it."""


class Deployment(ABC):
    """A running system. Also the fault context: faults reach edges and services through it."""

    system: SystemSpec
    toxiproxy: ToxiproxyClient

    def __init__(self, req: DeployRequest) -> None:
        self.req = req
        self.system = req.system
        self.logs_dir = req.run_dir / "logs"
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.tails: dict[str, EventTail] = {}
        """Per service, the reader of its log's ``@harness-event`` lines (every runtime keeps logs as files)."""
        self._expected_down: set[str] = set()
        """Services a fault took down: their exit is not a crash."""
        self._stopped = False

    # -- bring-up and tear-down ------------------------------------------------------------
    def start(self) -> Self:
        """Bring the system up. A half-started deployment tears itself down before raising."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Remove every fault, stop everything started. Idempotent; never raises."""
        if self._stopped:
            return
        self._stopped = True
        self._teardown()

    @abstractmethod
    def _start(self) -> None:
        """Toxiproxy, a proxy per edge, every service in start order (healthy), Prometheus if there is one."""

    @abstractmethod
    def _teardown(self) -> None:
        """Stop whatever ``_start`` got to, in reverse; record each stop in the journal; never raise."""

    # -- the running system ----------------------------------------------------------------
    def proxy_for_edge(self, edge: str) -> str:
        """The Toxiproxy proxy name for an edge: every runtime names proxies after their edges."""
        return edge

    @abstractmethod
    def service_url(self, service: str) -> str:
        """A URL the harness (and Locust) can reach the service at directly."""

    @property
    def entry_url(self) -> str:
        return self.service_url(self.system.entry)

    def drain_events(self) -> list[Record]:
        """Target events reported since the last call, as journal records, in time order."""
        out: list[Record] = []
        for tail in self.tails.values():
            out.extend(tail.drain())
        out.sort(key=lambda r: r["t"])
        return out

    def check_alive(self) -> list[str]:
        """Names of services that exited when nobody asked them to."""
        return [name for name in self._launched_services()
                if name not in self._expected_down and self._has_exited(name)]

    def service_action(self, service: str, action: str) -> None:
        """Process-level fault actions: kill, pause, resume, restart, stop, start."""
        service_actions.get(action)(self, service)
        self.req.journal.write("service_action", service=service, action=action, **self._action_fields(service))

    def audit(self) -> dict[str, Any]:
        """Each service's own account of its state (manifest ``audit:`` path), fetched at the end."""
        import httpx

        out: dict[str, Any] = {}
        for name, svc in self.system.services.items():
            if not svc.audit:
                continue
            try:
                resp = httpx.get(self.service_url(name) + svc.audit, timeout=10.0)
                resp.raise_for_status()
                out[name] = resp.json()
            except Exception as exc:  # an audit that fails is recorded, and its checks say unknown
                out[name] = {"audit_error": f"{type(exc).__name__}: {exc}"}
        return out

    def load_env(self) -> dict[str, str]:
        """Environment for the load generator: every service's direct URL."""
        return {f"HARNESS_URL_{name.upper().replace('-', '_')}": self.service_url(name) for name in self.system.services}

    # -- what each runtime supplies for its services ---------------------------------------
    @abstractmethod
    def _start_service(self, name: str) -> None:
        """Start (or start again) one service and wait until it is healthy; journal ``service_started``."""

    @abstractmethod
    def _kill_service(self, name: str) -> None:
        """Kill it at once, as a crash would; return once it is gone."""

    @abstractmethod
    def _stop_service(self, name: str) -> None:
        """Stop it gracefully (its ``stop_timeout``, then killed)."""

    @abstractmethod
    def _pause_service(self, name: str) -> None:
        """Freeze it: connections stay open, nothing answers."""

    @abstractmethod
    def _resume_service(self, name: str) -> None:
        """Undo ``_pause_service``."""

    @abstractmethod
    def _launched_services(self) -> list[str]:
        """The services this runtime started (the ones that can crash)."""

    @abstractmethod
    def _has_exited(self, name: str) -> bool:
        """Whether a launched service is no longer running."""

    def _action_fields(self, service: str) -> dict[str, Any]:
        """What a runtime adds to a ``service_action`` record (a container id, ...)."""
        return {}

    def _service_started(self, name: str, ready_s: float, **fields: Any) -> None:
        """Journal and announce that a service answers its health check."""
        url = self.service_url(name)
        self.req.journal.write("service_started", service=name, url=url, **fields, ready_s=round(ready_s, 3))
        self.req.events.service_started.fire(service=name, url=url)


RuntimeFactory = Callable[[DeployRequest], Deployment]
runtimes: Registry[RuntimeFactory] = Registry("runtime")

ServiceAction = Callable[[Deployment, str], None]
service_actions: Registry[ServiceAction] = Registry("service action")
"""What ``Deployment.service_action`` can do; process faults name these as ``on_apply``/``on_remove``."""


def _kill(dep: Deployment, service: str) -> None:
    dep._expected_down.add(service)
    dep._kill_service(service)


def _stop(dep: Deployment, service: str) -> None:
    dep._expected_down.add(service)
    dep._stop_service(service)


def _start(dep: Deployment, service: str) -> None:
    dep._start_service(service)
    dep._expected_down.discard(service)


def _restart(dep: Deployment, service: str) -> None:
    _stop(dep, service)
    _start(dep, service)


service_actions.register("kill", _kill)
service_actions.register("stop", _stop)
service_actions.register("start", _start)
service_actions.register("restart", _restart)
service_actions.register("pause", lambda dep, service: dep._pause_service(service))
service_actions.register("resume", lambda dep, service: dep._resume_service(service))
