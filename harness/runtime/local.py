"""The embedded default runtime: every service a local process on loopback.

Toxiproxy runs as a child process on 127.0.0.1; every edge of the manifest becomes a proxy
on a free loopback port, and the calling service's environment points at the proxy, never
at the service itself. A half-started deployment tears itself down before raising.
"""
from __future__ import annotations

import os
import sys
from typing import Any

from ..errors import EnvironmentProblem, InputError
from ..faults.server import ToxiproxyServer
from ..faults.toxiproxy import ToxiproxyClient
from ..metrics.prometheus_config import ScrapeTarget
from ..metrics.prometheus_server import PrometheusServer
from ..net import free_port
from ..params import ParamValues
from ..registry import UnknownEntry
from .base import Deployment, DeployRequest, runtimes
from .health import wait_healthy
from .logtail import EventTail
from .process import ManagedProcess

HOST = "127.0.0.1"
SERVICE_ACTIONS = ("kill", "pause", "resume", "restart", "stop", "start")


class LocalDeployment(Deployment):
    def __init__(self, req: DeployRequest):
        self.req = req
        self.system = req.system
        self.logs_dir = req.run_dir / "logs"
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.server = ToxiproxyServer(log_path=self.logs_dir / "toxiproxy.log")
        self.ports: dict[str, int] = {}
        self.proxy_ports: dict[str, int] = {}
        self.processes: dict[str, ManagedProcess] = {}
        self.tails: dict[str, EventTail] = {}
        self._expected_down: set[str] = set()
        self._stopped = False
        self.prometheus = PrometheusServer(config_path=req.run_dir / "prometheus.yml",
                                           log_path=self.logs_dir / "prometheus.log")

    # -- bring-up --------------------------------------------------------------------------
    def start(self) -> "LocalDeployment":
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.server.start()
        self.toxiproxy: ToxiproxyClient = self.server.client
        self.req.journal.write("toxiproxy_started", api=self.server.api_url, pid=self.server.pid)
        for name in self.system.services:
            self.ports[name] = free_port(HOST)
        for edge in self.system.edges.values():
            listen_port = free_port(HOST)
            self.proxy_ports[edge.name] = listen_port
            upstream = f"{HOST}:{self.ports[edge.target]}"
            self.toxiproxy.create_proxy(edge.name, listen=f"{HOST}:{listen_port}", upstream=upstream)
            self.req.journal.write("proxy_created", edge=edge.name, listen=f"{HOST}:{listen_port}", upstream=upstream)
        # Before the services: Prometheus's first scrape comes ~5 s after it starts; overlap that.
        self.prometheus.start_for_run(self._scrape_targets(), self.req.journal,
                                      notice=lambda m: self.req.events.notice.fire(message=m))
        for name in self.system.start_order():
            self._start_service(name)
        if self.req.metrics_needed:
            self.prometheus.wait_scraping(self.req.journal)

    def _scrape_targets(self) -> list[ScrapeTarget]:
        targets = [ScrapeTarget(name, f"{HOST}:{self.ports[name]}", svc.metrics)
                   for name, svc in self.system.services.items() if svc.metrics]
        # Toxiproxy runs with -proxy-metrics: bytes through each edge, seen from the network.
        return targets + [ScrapeTarget("toxiproxy", f"{HOST}:{self.server.port}")]

    def _env_for(self, name: str) -> dict[str, str]:
        svc = self.system.services[name]
        values = self._template_values(name)
        env = dict(os.environ)
        env.update({"HOST": HOST, "PORT": str(self.ports[name]), "HARNESS_SERVICE": name, "PYTHONUNBUFFERED": "1"})
        for edge in self.system.edges.values():
            if edge.source == name:
                env[edge.env] = _expand(edge.url, {**values, "host": HOST, "port": str(self.proxy_ports[edge.name])},
                                        f"upstream url of {name}")
        for key, value in svc.env.items():
            env[key] = _expand(value, values, f"services.{name}.env.{key}")
        if self.req.defect:
            for key, value in self.system.defects[self.req.defect].env.get(name, {}).items():
                env[key] = _expand(value, values, f"defects.{self.req.defect}.env.{name}.{key}")
        return env

    def _template_values(self, name: str) -> dict[str, Any]:
        return {"python": sys.executable, "host": HOST, "port": str(self.ports[name]), "service": name,
                "dir": str(self.system.directory), "run_dir": str(self.req.run_dir),
                "edges": EdgeAddresses({e: f"{HOST}:{p}" for e, p in self.proxy_ports.items()}),
                "params": ParamValues(self.system.params)}

    def _start_service(self, name: str) -> None:
        svc = self.system.services[name]
        values = self._template_values(name)
        argv = [_expand(a, values, f"services.{name}.command") for a in svc.command]
        cwd = (self.system.directory / svc.cwd) if svc.cwd else self.system.directory
        log_path = self.logs_dir / f"{name}.log"
        proc = ManagedProcess(name, argv, cwd=cwd, env=self._env_for(name), log_path=log_path, stop_timeout=svc.stop_timeout)
        try:
            proc.start()
        except OSError as exc:
            raise EnvironmentProblem(f"cannot start service '{name}': {argv[0]}: {exc}",
                                     hint=f"check services.{name}.command in {self.system.directory / 'system.yaml'}") from exc
        self.processes[name] = proc
        self.tails.setdefault(name, EventTail(name, log_path))
        took = wait_healthy(name, HOST, self.ports[name], svc.health, exited=proc.poll, log_tail=proc.log_tail)
        url = self.service_url(name)
        self.req.journal.write("service_started", service=name, url=url, pid=proc.pid, ready_s=round(took, 3))
        self.req.events.service_started.fire(service=name, url=url)

    # -- the running system ----------------------------------------------------------------
    def service_url(self, service: str) -> str:
        return f"http://{HOST}:{self.ports[service]}"

    def check_alive(self) -> list[str]:
        return [n for n, p in self.processes.items() if n not in self._expected_down and p.poll() is not None]

    def service_action(self, service: str, action: str) -> None:
        proc = self.processes[service]
        if action == "kill":
            self._expected_down.add(service)
            proc.kill()
        elif action == "stop":
            self._expected_down.add(service)
            proc.stop()
        elif action == "pause":
            proc.pause()
        elif action == "resume":
            proc.resume()
        elif action in ("restart", "start"):
            if action == "restart":
                proc.stop()
            self._start_service(service)
            self._expected_down.discard(service)
        else:
            raise ValueError(f"unknown service action '{action}'; known: {', '.join(SERVICE_ACTIONS)}")
        self.req.journal.write("service_action", service=service, action=action)

    # -- tear-down -------------------------------------------------------------------------
    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.prometheus.stop():
            self.req.journal.write("prometheus_stopped")
        for name in reversed(list(self.processes)):
            proc = self.processes[name]
            try:
                code = proc.stop()
                self.req.journal.write("service_stopped", service=name, returncode=code)
            except Exception as exc:  # keep stopping the others
                self.req.journal.write("service_stopped", service=name, error=str(exc))
        self.server.stop()
        self.req.journal.write("toxiproxy_stopped")


class EdgeAddresses(dict[str, str]):
    """``{edges[catalog->db]}``: the proxy address (host:port) of any edge. Lets a defect route a
    service over another service's edge (e.g. onto one shared database), so a fault there spreads."""

    def __missing__(self, key: str) -> str:
        raise UnknownEntry("edge", key, sorted(self))


def _expand(template: str, values: dict[str, Any], where: str) -> str:
    try:
        return template.format(**values)
    except UnknownEntry as exc:
        raise InputError(f"{where}: {exc} in {template!r}") from None
    except KeyError as exc:
        raise InputError(f"{where}: unknown placeholder {{{exc.args[0]}}} in {template!r}; "
                         f"known: {', '.join('{' + k + '}' for k in sorted(values))}") from None
    except (IndexError, ValueError) as exc:
        raise InputError(f"{where}: malformed placeholder in {template!r} ({exc}); write '{{{{' for a literal brace") from None


def deploy_local(req: DeployRequest) -> Deployment:
    return LocalDeployment(req).start()


runtimes.register("local", deploy_local)
