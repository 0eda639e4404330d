"""What a runtime provides: a deployed system whose edges all pass through Toxiproxy.

A runtime (local processes, Docker, ...) turns a ``SystemSpec`` into a ``Deployment``. The
runner talks only to this surface, so a new runtime never reshapes the run.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..events import RunEvents
from ..faults.toxiproxy import ToxiproxyClient
from ..journal import JournalWriter, Record
from ..registry import Registry
from .logtail import EventTail
from ..system import SystemSpec


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

    tails: dict[str, EventTail]
    """Per service, the reader of its log's ``@harness-event`` lines (every runtime keeps logs as files)."""

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

    @abstractmethod
    def service_action(self, service: str, action: str) -> None:
        """Process-level fault actions: kill, pause, resume, restart, stop, start."""

    @abstractmethod
    def check_alive(self) -> list[str]:
        """Names of services that exited when nobody asked them to."""

    @abstractmethod
    def stop(self) -> None:
        """Remove every fault, stop everything started. Idempotent; never raises."""

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


RuntimeFactory = Callable[[DeployRequest], Deployment]
runtimes: Registry[RuntimeFactory] = Registry("runtime")
