"""The Docker runtime: the same manifests, every service in a container (``--runtime docker``).

For each run: a bridge network of its own; Toxiproxy in a container on it (its API published
on 127.0.0.1 only); a container per service from the targets image, its upstreams pointing
at Toxiproxy, its port published on a loopback port the harness and Locust use. Containers
have fixed addresses on the network, so a killed service comes back where Toxiproxy expects
it. Logs are copied into ``logs/<service>.log``, where target events are read as for local
processes. Service faults act on containers: kill, stop, start, pause (``docker pause``),
resume (unpause), restart. Everything carries ``io.harness.run=<run id>`` and is removed
whatever ends the run; a half-started deployment tears itself down before raising.

A container that is down is a black hole to its callers (``natural_death``): its address
stops answering, and a connect to it hangs. Through Toxiproxy that would show as a connection
the proxy accepts and then holds while its accept loop waits on a dial to the dead address
(one dial at a time, and API calls on that proxy hang meanwhile), so the harness renders it
the way a direct caller sees it: the proxies in front of the service are disabled and their
addresses held by a tarpit helper (``harness.faults.tarpit``) that runs in Toxiproxy's network
namespace, started before load when an experiment will take a service down.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ...errors import EnvironmentProblem, InputError, ToxiproxyError
from ...faults.process import DeathMode
from ...faults.tarpit import TarpitClient, TarpitError
from ...faults.toxiproxy import ToxiproxyClient
from ...net import free_port
from ...system import load_edge_name
from ..base import Deployment, DeployRequest
from ..logtail import EventTail
from . import images, layout
from . import prometheus as prom
from .health import wait_container_healthy, wait_ready
from .logs import LogFollower
from .resources import (RUN_LABEL, SERVICE_LABEL, address_in, connect, create_network, leftovers, remove_labelled,
                        remove_orphans, run_labels)

HOST = "127.0.0.1"
TOXIPROXY = "toxiproxy"
TARPIT = "tarpit"


class DockerDeployment(Deployment):
    def __init__(self, req: DeployRequest):
        super().__init__(req)
        self.run_id = uuid.uuid4().hex[:12]
        self.client: Any = None
        self.network: Any = None
        self.containers: dict[str, Any] = {}  # service (or "toxiproxy", "prometheus") -> docker Container
        self.followers: dict[str, LogFollower] = {}
        self.host_ports: dict[str, int] = {}
        self.addresses: dict[str, str] = {}
        self.load_ports: dict[str, int] = {}
        """Load-path edge -> its listener's port inside the Toxiproxy container."""
        self.tarpit: TarpitClient | None = None
        self._image = ""

    # -- bring-up --------------------------------------------------------------------------
    def _start(self) -> None:
        with self._docker_errors("Docker refused to set up the run",
                                 "see `docker info`; `make docker-clean` removes what earlier runs left"):
            self._bring_up()

    def _bring_up(self) -> None:
        reserved = sorted({TOXIPROXY, prom.NAME} & set(self.system.services))
        if reserved:
            raise InputError(f"services.{reserved[0]}: the Docker runtime runs its own '{reserved[0]}' container; "
                             "rename the service", file=str(self.system.directory / "system.yaml"))
        running = self.system.external_services
        if running:
            # Containers reach the host's loopback only through the host's own network namespace.
            raise InputError(f"services.{running[0]}.address: a service already running on this machine cannot be "
                             "reached from the run's containers; run this system with --runtime local",
                             file=str(self.system.directory / "system.yaml"))
        self.client = connect()
        for gone in remove_orphans(self.client):
            self.notice(f"removed {gone}, left behind by a harness run that no longer exists")
        own = {name: svc.image for name, svc in self.system.services.items() if svc.image}
        # The targets image only when some service runs in it (one with an image of its own does not);
        # else the tarpit helper looks for it the first time a black hole needs it.
        image = self._image = images.target_image(self.client, self.notice, layout.image_catalog(self.system)) \
            if len(own) < len(self.system.services) else ""
        for name, ref in own.items():
            images.service_image(self.client, name, ref)
        toxiproxy_image = images.toxiproxy_image(self.client)
        self.network, subnet, _ = create_network(self.client, f"harness-{self.run_id}", run_labels(self.run_id))
        self.addresses[TOXIPROXY] = address_in(subnet, 2)
        for i, name in enumerate(self.system.services, start=3):
            self.addresses[name] = address_in(subnet, i)
        self.addresses[prom.NAME] = address_in(subnet, 3 + len(self.system.services))
        self.req.journal.write("docker_deployment", run_id=self.run_id, network=self.network.name, subnet=subnet,
                               image=image, images=own, toxiproxy_image=toxiproxy_image,
                               label=f"{RUN_LABEL}={self.run_id}")
        # Prometheus first: it takes about 5 s to load its targets, time the others' start-up can use.
        prometheus_image = prom.launch(self)
        self._start_toxiproxy(toxiproxy_image)
        ports = layout.proxy_ports(self.system)
        self._wire_edges(ports)
        for name in self.system.start_order():
            self._create_service(name, image, ports)
        self._start_services()
        if prometheus_image and prom.ready(self, prometheus_image) and self.req.metrics_needed:
            prom.wait_scraping(self)

    def _wire_edges(self, ports: dict[str, int]) -> None:
        """A proxy per edge in the Toxiproxy container; load-path edges on their published ports."""
        targets = {edge.name: edge.target for edge in self.system.edges.values()}
        targets.update({edge: self.system.load_edges[edge] for edge in self.load_edges})
        for edge, target in targets.items():
            upstream = f"{self.addresses[target]}:{layout.service_port(self.system, target)}"
            port = self.load_ports[edge] if edge in self.load_ports else self._edge_listen_port(edge, target, ports)
            listen = f"{self._edge_listen_host(edge)}:{port}"
            self.toxiproxy.create_proxy(edge, listen=listen, upstream=upstream)
            self.req.journal.write("proxy_created", edge=edge, listen=listen, upstream=upstream)

    def _edge_listen_host(self, edge: str) -> str:
        return layout.LISTEN_HOST

    def _edge_listen_port(self, edge: str, target: str, ports: dict[str, int]) -> int:
        return ports[edge]

    def _create_service(self, name: str, image: str, ports: dict[str, int]) -> None:
        """The service's container (created, not started): the manifest's command in the targets image, or its own image."""
        spec = layout.service_container(self.system, name, proxy_host=self.addresses[TOXIPROXY], ports=ports,
                                        defect=self.req.defect)
        volumes = {str(self.req.run_dir): {"bind": layout.RUN_DIR, "mode": "rw"},
                   **{host: {"bind": path, "mode": "ro"} for host, path in spec.mounts.items()}}
        svc = self.system.services[name]
        # An image of its own runs its own command and working directory unless the manifest gives them.
        options: dict[str, Any] = {"command": spec.argv or None}
        if svc.image is None or svc.cwd is not None:
            options["working_dir"] = spec.workdir
        self.create_container(name, svc.image or image, environment=spec.env, port=spec.port, volumes=volumes,
                              init=True, **options)

    def create_container(self, name: str, image: str, *, port: int, extra_ports: tuple[int, ...] = (),
                         aliases: list[str] | None = None, **options: Any) -> None:
        """``extra_ports`` are published too, at ``host_ports["<name>:<port>"]``; ``aliases``: the
        container's names on the run's network (default: the service's name)."""
        self.host_ports[name] = free_port(HOST)
        published = {f"{port}/tcp": (HOST, self.host_ports[name])}
        for extra in extra_ports:
            self.host_ports[f"{name}:{extra}"] = free_port(HOST)
            published[f"{extra}/tcp"] = (HOST, self.host_ports[f"{name}:{extra}"])
        container = self.client.containers.create(
            image, name=f"harness-{self.run_id}-{name}", detach=True,
            labels=run_labels(self.run_id, **{SERVICE_LABEL: name}),
            ports=published,
            network=self.network.name,
            networking_config={self.network.name: self.client.api.create_endpoint_config(
                ipv4_address=self.addresses[name], aliases=[name] if aliases is None else aliases)},
            **options)
        self._follow(name, container)

    def _follow(self, name: str, container: Any) -> None:
        self.containers[name] = container
        cid = container.id

        def open_stream(since: int | None) -> Any:
            return self.client.api.logs(cid, stream=True, follow=True, timestamps=True, since=since)

        self.followers[name] = LogFollower(open_stream, self.logs_dir / f"{name}.log")

    def _start_toxiproxy(self, image: str) -> None:
        # Load-path edges listen in the Toxiproxy container on ports published to the host, where Locust
        # runs; the tarpit helper's port too: it shares this container's network namespace.
        for i, edge in enumerate(self.load_edges):
            self.load_ports[edge] = layout.FIRST_LOAD_PORT + i
        self.create_container(TOXIPROXY, image, port=layout.TOXIPROXY_API_PORT, environment={"LOG_LEVEL": "info"},
                              extra_ports=(layout.TARPIT_CONTROL_PORT, *self.load_ports.values()),
                              command=[f"-host={layout.LISTEN_HOST}", f"-port={layout.TOXIPROXY_API_PORT}",
                                       "-proxy-metrics"])
        self._before_toxiproxy_starts()
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

    def _before_toxiproxy_starts(self) -> None:
        """Where a subclass joins Toxiproxy to more networks (its listeners bind to addresses there)."""

    def _launch_service(self, name: str) -> Callable[[], None]:
        container = self.containers[name]
        self.followers[name].stop()  # a restarted service: the old stream has ended; one continuous log
        container.start()
        launched = time.monotonic()
        self.followers[name].follow()
        self.tails.setdefault(name, EventTail(name, self.followers[name].path))

        def ready() -> None:
            health = self.system.services[name].health
            if health.type == "container":
                wait_container_healthy(name, container, health, exited=lambda: self._exit_code(name),
                                       log_tail=self.followers[name].tail)
            else:
                wait_ready(name, self.host_ports[name], health, exited=lambda: self._exit_code(name),
                           log_tail=self.followers[name].tail)
            self._service_started(name, time.monotonic() - launched, container=container.short_id,
                                  address=self.addresses[name])
        return ready

    def _exit_code(self, name: str) -> int | None:
        container = self.containers[name]
        container.reload()
        if container.status in ("exited", "dead"):
            return int(container.attrs["State"].get("ExitCode", -1))
        return None

    # -- the running system ----------------------------------------------------------------
    def service_url(self, service: str) -> str:
        return f"http://{HOST}:{self.host_ports[service]}"

    def load_address(self, service: str) -> tuple[str, int]:
        edge = load_edge_name(service)
        if edge in self.load_ports:
            return HOST, self.host_ports[f"{TOXIPROXY}:{self.load_ports[edge]}"]
        return HOST, self.host_ports[service]

    def _launched_services(self) -> list[str]:
        return [n for n in self.system.services if n in self.followers]

    def _has_exited(self, name: str) -> bool:
        # A follower's stream ends when its container stops: only then ask the daemon.
        return self.followers[name].ended.is_set() and self._exit_code(name) is not None

    def service_action(self, service: str, action: str, mode: DeathMode | None = None) -> None:
        with self._docker_errors(f"docker could not {action} the container of '{service}'",
                                 "see `docker info` and the service's log in the run folder"):
            super().service_action(service, action, mode)

    # -- a service that is down: a black hole, as a dead container's address is -----------------
    natural_death = "blackhole"

    def _natural_cut(self) -> DeathMode | None:
        return "blackhole"

    def _proxy_address(self, edge: str) -> tuple[str, int]:
        return layout.LISTEN_HOST, layout.proxy_ports(self.system)[edge]

    def _tarpits(self) -> TarpitClient:
        """The tarpit helper: the targets image's Python, in the Toxiproxy container's network namespace."""
        if self.tarpit is not None:
            return self.tarpit
        with self._docker_errors("Docker could not start the tarpit helper", "see `docker info`"):
            container = self.client.containers.create(
                self._image or images.target_image(self.client, self.notice, layout.image_catalog(self.system)),
                name=f"harness-{self.run_id}-{TARPIT}", detach=True, init=True,
                labels=run_labels(self.run_id, **{SERVICE_LABEL: TARPIT}),
                network_mode=f"container:{self.containers[TOXIPROXY].id}",
                command=[layout.PYTHON, "-m", "harness.faults.tarpit",
                         f"--control={layout.LISTEN_HOST}:{layout.TARPIT_CONTROL_PORT}"])
            self._follow(TARPIT, container)
            container.start()
            self.followers[TARPIT].follow()
        client = TarpitClient(f"http://{HOST}:{self.host_ports[f'{TOXIPROXY}:{layout.TARPIT_CONTROL_PORT}']}")
        try:
            client.wait_ready(timeout=30.0)
        except TarpitError as exc:
            client.close()
            raise EnvironmentProblem(f"{exc}; its log:\n{self.followers[TARPIT].tail()}",
                                     hint="rebuild the targets image (`make images`): it needs harness.faults.tarpit"
                                     ) from exc
        self.tarpit = client
        self.req.journal.write("tarpit_started", container=container.short_id)
        return client

    def _action_fields(self, service: str) -> dict[str, Any]:
        return {"container": self.containers[service].short_id}

    def _kill_service(self, name: str) -> None:
        self.containers[name].kill()  # returns once the daemon has reaped it; the fault's time is when it was asked

    def _stop_service(self, name: str) -> None:
        self.containers[name].stop(timeout=self._stop_timeout(name))

    def _pause_service(self, name: str) -> None:
        self.containers[name].pause()

    def _resume_service(self, name: str) -> None:
        self.containers[name].unpause()

    def _stop_timeout(self, name: str) -> int:
        return int(max(1, self.system.services[name].stop_timeout))

    @contextmanager
    def _docker_errors(self, what: str, hint: str) -> Iterator[None]:
        """The Docker SDK's errors (and its HTTP library's) as EnvironmentProblem, saying ``what`` failed."""
        import docker
        import requests

        try:
            yield
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise EnvironmentProblem(f"{what}: {str(exc).strip()[:500]}", hint=hint) from exc

    # -- tear-down -------------------------------------------------------------------------
    def _teardown(self) -> None:
        if self.client is None:
            return
        for name in reversed(list(self.containers)):
            self._remove(name)
        if getattr(self, "toxiproxy", None) is not None:
            self.toxiproxy.close()
        if self.tarpit is not None:
            self.tarpit.close()
        if self.network is not None:
            try:
                self.network.remove()
            except Exception:
                pass  # the sweep below tries again and reports what is left
        remove_labelled(self.client, {"label": f"{RUN_LABEL}={self.run_id}"})
        for follower in self.followers.values():
            follower.stop()
        try:
            left = leftovers(self.client, self.run_id)
        except Exception as exc:
            left = [f"(could not list: {exc})"]
        self.req.journal.write("docker_removed", run_id=self.run_id, left=left)
        if left:
            self.notice(f"Docker resources left behind: {', '.join(left)} "
                         "(`python -m harness.runtime.docker.resources --remove` removes them)")
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
                container.stop(timeout=self._stop_timeout(name) if service else 2)
            container.reload()
            code = container.attrs["State"].get("ExitCode")
            container.remove(force=True, v=True)
            self.req.journal.write(kind, **fields, returncode=code)
        except Exception as exc:  # keep removing the others; the label sweep tries again
            self.req.journal.write(kind, **fields, error=str(exc))

    def notice(self, message: str) -> None:
        """Something a person should see (a stale image, leftovers removed), through the run's events."""
        self.req.events.notice.fire(message=message)


def deploy_docker(req: DeployRequest) -> Deployment:
    if req.system.compose is not None:
        from .team_compose import ComposeDeployment

        return ComposeDeployment(req).start()
    return DockerDeployment(req).start()
