"""The embedded default runtime: every service a local process on loopback.

Toxiproxy runs as a child process on 127.0.0.1; every edge of the manifest becomes a proxy
on a free loopback port, and the calling service's environment points at the proxy, never
at the service itself. A half-started deployment tears itself down before raising.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .. import runstate
from ..errors import EnvironmentProblem
from ..faults.server import ToxiproxyServer
from ..faults.tarpit import Tarpit
from ..faults.toxiproxy import ToxiproxyClient
from ..lifecycle import ChildProcess
from ..metrics.prometheus_config import ScrapeTarget
from ..metrics.prometheus_server import PrometheusServer
from ..net import free_port
from .base import Deployment, DeployRequest, runtimes
from .health import wait_healthy
from ..allowlist import parse_address
from ..system import load_edge_name
from .launch import Placement, launch_spec
from .logtail import EventTail

HOST = "127.0.0.1"


class LocalDeployment(Deployment):
    def __init__(self, req: DeployRequest):
        super().__init__(req)
        self.server = ToxiproxyServer(log_path=self.logs_dir / "toxiproxy.log")
        self.hosts: dict[str, str] = {}
        """Where each service listens: loopback for those started here, the declared host for one already running."""
        self.ports: dict[str, int] = {}
        self.proxy_ports: dict[str, int] = {}
        self.processes: dict[str, ChildProcess] = {}
        self.prometheus = PrometheusServer(config_path=req.run_dir / "prometheus.yml",
                                           log_path=self.logs_dir / "prometheus.log")
        self.tarpit = Tarpit()  # the proxies listen on this machine's loopback: hold their ports from here

    # -- bring-up --------------------------------------------------------------------------
    def _start(self) -> None:
        self.server.start()
        self.toxiproxy: ToxiproxyClient = self.server.client
        self.req.journal.write("toxiproxy_started", api=self.server.api_url, pid=self.server.pid)
        for name, svc in self.system.services.items():
            if svc.address is not None:  # already running: validated as loopback or allowlisted
                address = parse_address(svc.address)
                self.hosts[name], self.ports[name] = address.host, address.port
            else:
                self.hosts[name], self.ports[name] = HOST, free_port(HOST)
        targets = {edge.name: edge.target for edge in self.system.edges.values()}
        targets.update({edge: self.system.load_edges[edge] for edge in self.load_edges})
        for edge, target in targets.items():
            listen_port = free_port(HOST)
            self.proxy_ports[edge] = listen_port
            upstream = self._address(target)
            self.toxiproxy.create_proxy(edge, listen=f"{HOST}:{listen_port}", upstream=upstream)
            self.req.journal.write("proxy_created", edge=edge, listen=f"{HOST}:{listen_port}", upstream=upstream)
        for line in self.unfaultable():
            self.req.journal.write("unfaultable", what=line)
            self.req.events.notice.fire(message=f"cannot fault {line}")
        # Before the services: Prometheus's first scrape comes ~5 s after it starts; overlap that.
        self.prometheus.start_for_run(self._scrape_targets(), self.req.journal,
                                      notice=lambda m: self.req.events.notice.fire(message=m))
        self._start_services()
        if self.req.metrics_needed:
            self.prometheus.wait_scraping(self.req.journal)

    def _address(self, service: str) -> str:
        host = self.hosts[service]
        return f"[{host}]:{self.ports[service]}" if ":" in host else f"{host}:{self.ports[service]}"

    def _scrape_targets(self) -> list[ScrapeTarget]:
        targets = [ScrapeTarget(name, self._address(name), svc.metrics)
                   for name, svc in self.system.services.items() if svc.metrics]
        # Toxiproxy runs with -proxy-metrics: bytes through each edge, seen from the network.
        return targets + [ScrapeTarget("toxiproxy", f"{HOST}:{self.server.port}")]

    def _placement(self, name: str) -> Placement:
        return Placement(python=sys.executable, host=HOST, port=self.ports[name], directory=self.system.directory,
                         run_dir=str(self.req.run_dir), proxy_host=HOST, proxy_ports=self.proxy_ports)

    def _launch_service(self, name: str) -> Callable[[], None]:
        svc = self.system.services[name]
        if svc.external:
            return self._await_external(name)
        spec = launch_spec(self.system, name, self._placement(name), self.req.defect)
        log_path = self.logs_dir / f"{name}.log"
        proc = ChildProcess(name, spec.argv, cwd=Path(spec.cwd), env={**os.environ, **spec.env, **runstate.child_env()},
                            log_path=log_path, stop_timeout=svc.stop_timeout)
        try:
            proc.start()
        except OSError as exc:
            raise EnvironmentProblem(f"cannot start service '{name}': {spec.argv[0]}: {exc}",
                                     hint=f"check services.{name}.command in {self.system.directory / 'system.yaml'}") from exc
        launched = time.monotonic()
        self.processes[name] = proc
        self.tails.setdefault(name, EventTail(name, log_path))

        def ready() -> None:
            wait_healthy(name, HOST, self.ports[name], svc.health, exited=proc.poll, log_tail=proc.log_tail)
            self._service_started(name, time.monotonic() - launched, pid=proc.pid)
        return ready

    def _await_external(self, name: str) -> Callable[[], None]:
        """A service already running is not started: it must answer its health check, like one started here."""
        svc = self.system.services[name]
        asked = time.monotonic()
        self.tails.setdefault(name, EventTail(name, self.logs_dir / f"{name}.log"))  # no log: no events

        def ready() -> None:
            wait_healthy(name, self.hosts[name], self.ports[name], svc.health, exited=lambda: None,
                         log_tail=lambda: f"(not started by the harness: already running at {svc.address})")
            self._service_started(name, time.monotonic() - asked, external=True, address=svc.address)
        return ready

    # -- the running system ----------------------------------------------------------------
    def service_url(self, service: str) -> str:
        return f"http://{self._address(service)}"

    def load_address(self, service: str) -> tuple[str, int]:
        edge = load_edge_name(service)
        if edge in self.proxy_ports:
            return HOST, self.proxy_ports[edge]
        return self.hosts[service], self.ports[service]

    def _launched_services(self) -> list[str]:
        return list(self.processes)

    # A killed process's port refuses Toxiproxy's dial, and the proxy closes the caller's connection
    # at once: fail-fast without touching the proxies (natural_death "refuse", no cut).
    def _tarpits(self) -> Tarpit:
        return self.tarpit

    def _proxy_address(self, edge: str) -> tuple[str, int]:
        return HOST, self.proxy_ports[edge]

    def _has_exited(self, name: str) -> bool:
        return self.processes[name].poll() is not None

    def _kill_service(self, name: str) -> None:
        self.processes[name].kill()

    def _stop_service(self, name: str) -> None:
        self.processes[name].stop()

    def _pause_service(self, name: str) -> None:
        self.processes[name].pause()

    def _resume_service(self, name: str) -> None:
        self.processes[name].resume()

    # -- tear-down -------------------------------------------------------------------------
    def _teardown(self) -> None:
        if self.prometheus.stop():
            self.req.journal.write("prometheus_stopped")
        for name in reversed(list(self.processes)):
            proc = self.processes[name]
            try:
                code = proc.stop()
                self.req.journal.write("service_stopped", service=name, returncode=code)
            except Exception as exc:  # keep stopping the others
                self.req.journal.write("service_stopped", service=name, error=str(exc))
        self.tarpit.close()
        self.server.stop()
        self.req.journal.write("toxiproxy_stopped")


def deploy_local(req: DeployRequest) -> Deployment:
    return LocalDeployment(req).start()


runtimes.register("local", deploy_local)
