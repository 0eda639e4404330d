"""What a runtime provides: a deployed system whose edges all pass through Toxiproxy.

A runtime (local processes, Docker, ...) turns a ``SystemSpec`` into a ``Deployment``. The
runner talks only to this surface, so a new runtime never reshapes the run.

The base holds what every runtime shares: bring-up that tears a half-started system down,
idempotent stop, the service actions process faults use (kill, stop, start, pause, resume,
restart: a registry, with the bookkeeping of which services are down on purpose), the crash
check built on it, and what callers see of a service that is down (``DeathMode``): its edges
*refuse* connections, or are a *black hole* where a connect hangs (``harness.faults.tarpit``).
A runtime supplies the primitives: how to start one service (again), kill, stop, pause and
resume it, whether it has exited, and where it can hold a proxy's address silent. That is the
one place that knows how a service runs, so a service the harness does not start (a system
already running) or one with an image of its own changes a runtime's primitives, not the run
or the faults.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

from ..events import RunEvents
from ..faults.process import DeathMode
from ..faults.tarpit import Tarpits
from ..faults.toxiproxy import ToxiproxyClient
from ..journal import JournalWriter, Record
from ..load.dependencies import LoadPaths, load_paths
from ..registry import Registry
from ..system import Edge, SystemSpec
from .logtail import EventTail

CUTTING_ACTIONS = frozenset({"kill", "stop", "restart"})
"""Actions that take a service down, so its edges behave as a DeathMode while it is down."""


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
    load_edges: frozenset[str] = frozenset()
    """Load-path edges (``load->SERVICE``) to interpose besides those the manifest declares
    (``load_edge: true``): the runner passes the ones the experiment's faults name."""


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
        self._cut: dict[str, tuple[DeathMode, list[Edge]]] = {}
        """Services whose edges the harness made refuse or black-holed while they are down."""
        self._stopped = False
        self.load_deps = LoadPaths()
        """Where the locustfile's own imports come from (load.requirements / load.python)."""

    # -- bring-up and tear-down ------------------------------------------------------------
    def start(self) -> Self:
        """Bring the system up. A half-started deployment tears itself down before raising."""
        # The locustfile's own dependencies first: a requirement pip cannot install is bad input,
        # found before any service starts (a cached set costs one stat).
        self.load_deps = load_paths(self.system, install=True)
        if self.load_deps.paths:
            self.req.journal.write("load_dependencies", paths=self.load_deps.paths, installed=self.load_deps.installed)
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
        """An HTTP URL the harness reaches the service at directly (health, audits: never through a faulted edge)."""

    @property
    def load_edges(self) -> list[str]:
        """The load-path edges this deployment interposes (each a Toxiproxy proxy, like any edge)."""
        wanted = self.req.load_edges | self.system.declared_load_edges
        return [edge for edge in self.system.load_edges if edge in wanted]

    @property
    def proxied_edges(self) -> list[str]:
        """Every edge with a proxy: service-to-service edges, then the interposed load-path edges."""
        return [*self.system.edges, *self.load_edges]

    def load_address(self, service: str) -> tuple[str, int]:
        """Where Locust reaches a service: its load-path proxy when interposed, else the service itself.
        A runtime that interposes load edges overrides this; the default is the service's direct URL."""
        from urllib.parse import urlsplit

        url = urlsplit(self.service_url(service))
        return url.hostname or "127.0.0.1", url.port or 80

    def load_url(self, service: str) -> str:
        """The service's address for Locust, in the form its manifest declares (``url:``, default http://)."""
        from .launch import expand

        host, port = self.load_address(service)
        shown = f"[{host}]" if ":" in host else host
        return expand(self.system.services[service].url, {"host": shown, "port": str(port), "service": service},
                      f"services.{service}.url")

    @property
    def entry_url(self) -> str:
        """The load's host: the entry service's address for Locust."""
        return self.load_url(self.system.entry)

    def unfaultable(self) -> list[str]:
        """What this deployment cannot put a fault on, in words (announced at start, journalled)."""
        return [f"the calls '{name}' makes itself (it is already running at {svc.address}; its own configuration "
                "names its upstreams), and any traffic to it that does not come through the harness's edges"
                for name, svc in self.system.services.items() if svc.external]

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

    def service_action(self, service: str, action: str, mode: DeathMode | None = None) -> None:
        """Process-level fault actions: kill, pause, resume, restart, stop, start.

        ``mode`` says what callers see while kill, stop or restart has the service down; None is
        what this runtime gives by itself (``natural_death``).
        """
        run = service_actions.get(action)
        fields = self._action_fields(service)
        if action in CUTTING_ACTIONS:
            fields |= {"mode": mode or self.natural_death, "natural": mode is None}
        run(self, service, mode)
        self.req.journal.write("service_action", service=service, action=action, **fields)

    # -- what callers see of a service that is down ------------------------------------------
    natural_death: ClassVar[DeathMode] = "refuse"
    """What callers see of a service this runtime killed, when the fault names no mode."""

    def _natural_cut(self) -> DeathMode | None:
        """What the harness does to the edges for ``natural_death``: None when the runtime gives it unaided."""
        return None

    def prepare_death(self, mode: DeathMode | None) -> None:
        """Get ready, before load starts, for a service to go down in ``mode`` (a black hole needs a tarpit)."""
        if (mode or self._natural_cut()) == "blackhole":
            self._tarpits()

    def _tarpits(self) -> Tarpits:
        """Where this runtime holds a proxy's address silent (``harness.faults.tarpit``)."""
        raise NotImplementedError(f"{type(self).__name__} cannot black-hole an address")

    def _proxy_address(self, edge: str) -> tuple[str, int]:
        """The address the edge's proxy listens on, as a tarpit must bind it."""
        raise NotImplementedError(f"{type(self).__name__} does not say where its proxies listen")

    def _cut_off(self, service: str, mode: DeathMode | None) -> None:
        """Make every edge into the service refuse, or hang at connect, until ``_reconnect``.

        Before the service goes down: a proxy disabled while its server dials a dead container
        waits for that dial (Toxiproxy's accept loop dials upstream itself, without a timeout).
        Disabling closes the proxy's open connections, as the dying service's kernel would.
        """
        if mode is None or service in self._cut:
            return
        edges = [e for e in self.system.edges.values() if e.target == service]
        self._cut[service] = (mode, [])
        for edge in edges:
            self.toxiproxy.set_enabled(self.proxy_for_edge(edge.name), False)
            self._cut[service][1].append(edge)
            if mode == "blackhole":
                self._tarpits().hold(*self._proxy_address(edge.name))

    def _reconnect(self, service: str) -> None:
        """Undo ``_cut_off`` once the service is back: its proxies listen (and dial it) again."""
        mode, edges = self._cut.pop(service, ("refuse", []))
        for edge in edges:
            if mode == "blackhole":
                self._tarpits().release(self._proxy_address(edge.name)[1])
            self.toxiproxy.set_enabled(self.proxy_for_edge(edge.name), True)

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
        """Environment for the load generator: every service's URL as Locust reaches it (through its
        ``load->SERVICE`` proxy when that edge is interposed), in the form its manifest declares."""
        urls = {f"HARNESS_URL_{name.upper().replace('-', '_')}": self.load_url(name) for name in self.system.services}
        return {**urls, **self.load_deps.env()}

    # -- what each runtime supplies for its services ---------------------------------------
    def _start_service(self, name: str) -> None:
        """Start (or start again) one service and wait until it is healthy; journal ``service_started``."""
        self._launch_service(name)()

    def _start_services(self) -> None:
        """Bring every service up, wave by wave (:meth:`SystemSpec.start_waves`): a wave's services are
        launched together and then awaited, so independent services boot in parallel and bring-up
        takes the longest readiness of each wave instead of the sum of all of them."""
        for wave in self.system.start_waves():
            ready = [self._launch_service(name) for name in wave]
            for wait in ready:
                wait()

    def _launch_service(self, name: str) -> Callable[[], None]:
        """Start one service without waiting; return what waits until it is healthy and journals
        ``service_started`` (its ``ready_s`` counted from the launch). Every runtime that uses
        ``_start_services`` implements it (one that overrides ``_start_service`` alone need not)."""
        raise NotImplementedError(f"{type(self).__name__} cannot launch a service without waiting for it")

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

ServiceAction = Callable[[Deployment, str, "DeathMode | None"], None]
service_actions: Registry[ServiceAction] = Registry("service action")
"""What ``Deployment.service_action`` can do; process faults name these as ``on_apply``/``on_remove``."""


def _kill(dep: Deployment, service: str, mode: DeathMode | None) -> None:
    dep._expected_down.add(service)
    dep._cut_off(service, mode or dep._natural_cut())
    dep._kill_service(service)


def _stop(dep: Deployment, service: str, mode: DeathMode | None) -> None:
    dep._expected_down.add(service)
    dep._cut_off(service, mode or dep._natural_cut())
    dep._stop_service(service)


def _start(dep: Deployment, service: str, mode: DeathMode | None) -> None:
    dep._start_service(service)  # healthy (asked directly, not through its edges) before callers get it back
    dep._reconnect(service)
    dep._expected_down.discard(service)


def _restart(dep: Deployment, service: str, mode: DeathMode | None) -> None:
    _stop(dep, service, mode)
    _start(dep, service, mode)


service_actions.register("kill", _kill)
service_actions.register("stop", _stop)
service_actions.register("start", _start)
service_actions.register("restart", _restart)
service_actions.register("pause", lambda dep, service, mode: dep._pause_service(service))
service_actions.register("resume", lambda dep, service, mode: dep._resume_service(service))
