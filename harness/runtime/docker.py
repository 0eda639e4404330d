"""The Docker runtime: the same manifests, every service in a container (``--runtime docker``).

For each run: a bridge network of its own; Toxiproxy in a container on it (its API published
on 127.0.0.1 only); a container per service from the targets image, its upstreams pointing
at Toxiproxy, its port published on a loopback port the harness and Locust use. Containers
have fixed addresses on the network, so a killed service comes back where Toxiproxy expects
it. Logs are copied into ``logs/<service>.log``, where target events are read as for local
processes. Service faults act on containers: kill, stop, start, pause (``docker pause``),
resume (unpause), restart. Everything carries ``io.harness.run=<run id>`` and is removed
whatever ends the run; a half-started deployment tears itself down before raising.
"""
from __future__ import annotations

import uuid
from typing import Any

from ..errors import EnvironmentProblem, InputError, ToxiproxyError
from ..faults.toxiproxy import ToxiproxyClient
from ..net import free_port
from . import containers as layout
from . import docker_images as images
from . import docker_prometheus
from .base import Deployment, DeployRequest
from .docker_health import wait_ready
from .docker_logs import LogFollower
from .docker_resources import (SERVICE_LABEL, address_in, connect, create_network, remove_labelled, remove_orphans,
                               run_labels, RUN_LABEL)
from .local import SERVICE_ACTIONS
from .logtail import EventTail

HOST = "127.0.0.1"
TOXIPROXY = "toxiproxy"


class DockerDeployment(Deployment):
    def __init__(self, req: DeployRequest):
        self.req = req
        self.system = req.system
        self.run_id = uuid.uuid4().hex[:12]
        self.logs_dir = req.run_dir / "logs"
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.client: Any = None
        self.network: Any = None
        self.containers: dict[str, Any] = {}  # service (or "toxiproxy") -> docker Container
        self.followers: dict[str, LogFollower] = {}
        self.tails: dict[str, EventTail] = {}
        self.host_ports: dict[str, int] = {}
        self.addresses: dict[str, str] = {}
        self._expected_down: set[str] = set()
        self._paused: set[str] = set()
        self._stopped = False

    # -- bring-up --------------------------------------------------------------------------
    def start(self) -> "DockerDeployment":
        import docker
        import requests

        try:
            self._start()
        except (docker.errors.DockerException, requests.RequestException) as exc:
            self.stop()
            raise EnvironmentProblem(f"Docker refused to set up the run: {str(exc).strip()[:500]}",
                                     hint="see `docker info`; `make docker-clean` removes what earlier runs left") from exc
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        reserved = sorted({TOXIPROXY, docker_prometheus.NAME} & set(self.system.services))
        if reserved:
            raise InputError(f"services.{reserved[0]}: the Docker runtime runs its own '{reserved[0]}' container; "
                             "rename the service", file=str(self.system.directory / "system.yaml"))
        self.client = connect()
        for gone in remove_orphans(self.client):
            self._notice(f"removed {gone}, left behind by a harness run that no longer exists")
        image = images.target_image(self.client, self._notice)
        toxiproxy_image = images.toxiproxy_image(self.client)
        self.network, subnet, _ = create_network(self.client, f"harness-{self.run_id}", run_labels(self.run_id))
        self.addresses[TOXIPROXY] = address_in(subnet, 2)
        for i, name in enumerate(self.system.services, start=3):
            self.addresses[name] = address_in(subnet, i)
        self.addresses[docker_prometheus.NAME] = address_in(subnet, 3 + len(self.system.services))
        self.req.journal.write("docker_deployment", run_id=self.run_id, network=self.network.name, subnet=subnet,
                               image=image, toxiproxy_image=toxiproxy_image, label=f"{RUN_LABEL}={self.run_id}")
        # Prometheus first: it takes about 5 s to load its targets, time the others' start-up can use.
        prometheus = docker_prometheus.launch(self)
        self._start_toxiproxy(toxiproxy_image)
        ports = layout.proxy_ports(self.system)
        for edge in self.system.edges.values():
            upstream = f"{self.addresses[edge.target]}:{layout.service_port(self.system, edge.target)}"
            listen = f"{layout.LISTEN_HOST}:{ports[edge.name]}"
            self.toxiproxy.create_proxy(edge.name, listen=listen, upstream=upstream)
            self.req.journal.write("proxy_created", edge=edge.name, listen=listen, upstream=upstream)
        for name in self.system.start_order():
            spec = layout.service_container(self.system, name, proxy_host=self.addresses[TOXIPROXY], ports=ports,
                                            defect=self.req.defect)
            volumes = {str(self.req.run_dir): {"bind": layout.RUN_DIR, "mode": "rw"},
                       **{host: {"bind": path, "mode": "ro"} for host, path in spec.mounts.items()}}
            self._create(name, image, command=spec.argv, environment=spec.env, working_dir=spec.workdir,
                         port=spec.port, volumes=volumes, init=True)
            self._start_service(name)
        if prometheus and docker_prometheus.ready(self, prometheus) and self.req.metrics_needed:
            docker_prometheus.wait_scraping(self)

    def _create(self, name: str, image: str, *, port: int, **options: Any) -> None:
        self.host_ports[name] = free_port(HOST)
        container = self.client.containers.create(
            image, name=f"harness-{self.run_id}-{name}", detach=True,
            labels=run_labels(self.run_id, **{SERVICE_LABEL: name}),
            ports={f"{port}/tcp": (HOST, self.host_ports[name])},
            network=self.network.name,
            networking_config={self.network.name: self.client.api.create_endpoint_config(
                ipv4_address=self.addresses[name], aliases=[name])},
            **options)
        self.containers[name] = container
        log_path = self.logs_dir / f"{name}.log"
        cid = container.id

        def open_stream(since: int | None) -> Any:
            return self.client.api.logs(cid, stream=True, follow=True, timestamps=True, since=since)

        self.followers[name] = LogFollower(open_stream, log_path)

    def _start_toxiproxy(self, image: str) -> None:
        self._create(TOXIPROXY, image, port=layout.TOXIPROXY_API_PORT, environment={"LOG_LEVEL": "info"},
                     command=[f"-host={layout.LISTEN_HOST}", f"-port={layout.TOXIPROXY_API_PORT}", "-proxy-metrics"])
        self.containers[TOXIPROXY].start()
        self.followers[TOXIPROXY].follow()
        api = f"http://{HOST}:{self.host_ports[TOXIPROXY]}"
        self.toxiproxy = ToxiproxyClient(api)
        try:
            self.toxiproxy.wait_ready(timeout=30.0)
        except ToxiproxyError as exc:
            raise EnvironmentProblem(f"Toxiproxy ({image}) did not answer at {api}: {exc}; last log lines:\n"
                                     f"{self.followers[TOXIPROXY].tail()}",
                                     hint="is the image a Toxiproxy server with ENTRYPOINT /toxiproxy?") from exc
        self.req.journal.write("toxiproxy_started", api=api, container=self.containers[TOXIPROXY].short_id,
                               address=self.addresses[TOXIPROXY])

    def _start_service(self, name: str) -> None:
        container = self.containers[name]
        container.start()
        self.followers[name].follow()
        self.tails.setdefault(name, EventTail(name, self.followers[name].path))
        took = wait_ready(name, self.host_ports[name], self.system.services[name].health,
                          exited=lambda: self._exit_code(name), log_tail=self.followers[name].tail)
        url = self.service_url(name)
        self.req.journal.write("service_started", service=name, url=url, container=container.short_id,
                               address=self.addresses[name], ready_s=round(took, 3))
        self.req.events.service_started.fire(service=name, url=url)

    def _exit_code(self, name: str) -> int | None:
        container = self.containers[name]
        container.reload()
        if container.status in ("exited", "dead"):
            return int(container.attrs["State"].get("ExitCode", -1))
        return None

    # -- the running system ----------------------------------------------------------------
    def service_url(self, service: str) -> str:
        return f"http://{HOST}:{self.host_ports[service]}"

    def check_alive(self) -> list[str]:
        # A follower's stream ends when its container stops: only then ask the daemon.
        return [n for n in self.system.services if n in self.followers and n not in self._expected_down
                and self.followers[n].ended.is_set() and self._exit_code(n) is not None]

    def service_action(self, service: str, action: str) -> None:
        import docker
        import requests

        try:
            self._service_action(service, action)
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise EnvironmentProblem(f"docker could not {action} the container of '{service}': {exc}",
                                     hint="see `docker info` and the service's log in the run folder") from exc

    def _service_action(self, service: str, action: str) -> None:
        container = self.containers[service]
        timeout = int(max(1, self.system.services[service].stop_timeout))
        if action == "kill":
            self._expected_down.add(service)
            container.kill()  # returns once the daemon has reaped it; the fault's time is when it was asked
        elif action == "stop":
            self._expected_down.add(service)
            container.stop(timeout=timeout)
        elif action == "pause":
            container.pause()
            self._paused.add(service)
        elif action == "resume":
            container.unpause()
            self._paused.discard(service)
        elif action in ("restart", "start"):
            if action == "restart":
                self._expected_down.add(service)
                container.stop(timeout=timeout)
            self.followers[service].stop()
            self._start_service(service)
            self._expected_down.discard(service)
        else:
            raise ValueError(f"unknown service action '{action}'; known: {', '.join(SERVICE_ACTIONS)}")
        self.req.journal.write("service_action", service=service, action=action, container=container.short_id)

    # -- tear-down -------------------------------------------------------------------------
    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.client is None:
            return
        for name in reversed(list(self.containers)):
            self._remove(name)
        if getattr(self, "toxiproxy", None) is not None:
            self.toxiproxy.close()
        if self.network is not None:
            try:
                self.network.remove()
            except Exception:
                pass  # the sweep below tries again and reports what is left
        remove_labelled(self.client, {"label": f"{RUN_LABEL}={self.run_id}"})
        for follower in self.followers.values():
            follower.stop()
        try:
            from .docker_resources import leftovers

            left = leftovers(self.client, self.run_id)
        except Exception as exc:
            left = [f"(could not list: {exc})"]
        self.req.journal.write("docker_removed", run_id=self.run_id, left=left)
        if left:
            self._notice(f"Docker resources left behind: {', '.join(left)} "
                         "(`python -m harness.runtime.docker_resources --remove` removes them)")
        self.client.close()

    def _remove(self, name: str) -> None:
        """Stop gracefully (its last log lines and exit code are kept), then remove with its volumes."""
        container = self.containers[name]
        service = self.system.services.get(name)  # None for Toxiproxy and Prometheus
        kind = "service_stopped" if service else f"{name}_stopped"
        fields: dict[str, Any] = {"service": name} if service else {}
        try:
            container.reload()
            if container.status == "paused":
                container.unpause()
            if container.status in ("running", "paused"):
                container.stop(timeout=int(max(1, service.stop_timeout)) if service else 2)
            container.reload()
            code = container.attrs["State"].get("ExitCode")
            container.remove(force=True, v=True)
            self.req.journal.write(kind, **fields, returncode=code)
        except Exception as exc:  # keep removing the others; the label sweep tries again
            self.req.journal.write(kind, **fields, error=str(exc))

    def _notice(self, message: str) -> None:
        self.req.events.notice.fire(message=message)


def deploy_docker(req: DeployRequest) -> Deployment:
    return DockerDeployment(req).start()

