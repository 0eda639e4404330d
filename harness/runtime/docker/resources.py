"""The Docker daemon, from the harness's side: connect, label, create a network, clean up.

Every container, network and volume a run creates carries ``io.harness.run=<run id>`` (and
the harness's pid and host), so a run removes exactly what it made, and what a killed
harness left behind can be found and removed later:

    python -m harness.runtime.docker.resources            # list what harness runs left behind
    python -m harness.runtime.docker.resources --remove   # ...and remove it
"""
from __future__ import annotations

import argparse
import os
import socket
import sys
from typing import TYPE_CHECKING, Any

from ...errors import EnvironmentProblem

if TYPE_CHECKING:
    import docker

RUN_LABEL = "io.harness.run"
PID_LABEL = "io.harness.pid"
HOST_LABEL = "io.harness.host"
SERVICE_LABEL = "io.harness.service"

DAEMON_HINT = ("start the Docker daemon (`sudo systemctl start docker`, or as root `dockerd >/var/log/dockerd.log 2>&1 &`), "
               "or point DOCKER_HOST at one; `docker info` must answer")


def connect() -> "docker.DockerClient":
    """A client for the daemon named by the environment (DOCKER_HOST, ...), or EnvironmentProblem."""
    import docker
    import requests

    unreachable = _socket_unreachable(os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock")
    if unreachable:
        # Checked first: docker.from_env() leaks its socket when the daemon is not there.
        raise EnvironmentProblem(f"no Docker daemon answers: {unreachable}", hint=DAEMON_HINT)
    try:
        # One connection per followed log stream, plus calls: more than the default pool of 10.
        client = docker.from_env(timeout=60, max_pool_size=64)
    except docker.errors.DockerException as exc:
        raise EnvironmentProblem(f"no Docker daemon answers: {_short(exc)}", hint=DAEMON_HINT) from exc
    try:
        client.ping()
    except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
        client.close()
        raise EnvironmentProblem(f"no Docker daemon answers: {_short(exc)}", hint=DAEMON_HINT) from exc
    return client


def _socket_unreachable(host: str) -> str | None:
    """Why nothing listens at a unix:// or tcp:// DOCKER_HOST, or None (also for schemes not checked here)."""
    from urllib.parse import urlsplit

    url = urlsplit(host)
    try:
        if url.scheme == "unix":
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(5)
                sock.connect(url.path)
        elif url.scheme == "tcp" and url.hostname:
            with socket.create_connection((url.hostname, url.port or 2375), timeout=5):
                pass
    except OSError as exc:
        return f"{host}: {exc.strerror or exc}"
    return None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def run_labels(run_id: str, **extra: str) -> dict[str, str]:
    return {RUN_LABEL: run_id, PID_LABEL: str(os.getpid()), HOST_LABEL: socket.gethostname(), **extra}


def create_network(client: "docker.DockerClient", name: str, labels: dict[str, str]) -> tuple[Any, str, str]:
    """A bridge network with a subnet of its own; returns (network, subnet, gateway).

    The subnet is one the daemon picked as free, declared explicitly so containers can have
    fixed addresses: a service keeps its address across a kill and a start, and Toxiproxy
    reaches upstreams by address, never by a name lookup that a stopped container would send
    on to the host's resolver.
    """
    import docker
    from docker.types import IPAMConfig, IPAMPool

    last: Exception | None = None
    for _ in range(3):  # another network may take the subnet between the probe and the create
        probe = client.networks.create(name, driver="bridge", labels=labels)
        try:
            config = probe.attrs["IPAM"]["Config"][0]
            subnet = config["Subnet"]
            gateway = config.get("Gateway") or address_in(subnet, 1)
        finally:
            probe.remove()
        try:
            ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=subnet, gateway=gateway)])
            return client.networks.create(name, driver="bridge", ipam=ipam, labels=labels), subnet, gateway
        except docker.errors.APIError as exc:
            last = exc
    raise EnvironmentProblem(f"could not create the run's Docker network {name}: {_short(last or Exception())}",
                             hint="`docker network ls`: too many networks? `docker network prune` removes unused ones")


def address_in(subnet: str, index: int) -> str:
    """The ``index``-th address of an IPv4 subnet ("172.18.0.0/16", 2 -> "172.18.0.2")."""
    import ipaddress

    net = ipaddress.ip_network(subnet, strict=False)
    return str(net.network_address + index)


def remove_labelled(client: "docker.DockerClient", filters: dict[str, Any]) -> list[str]:
    """Remove every container, then network and volume matching the label filters. Never raises."""
    removed: list[str] = []
    for kind in ("containers", "networks", "volumes"):
        try:
            collection = getattr(client, kind)
            items = collection.list(all=True, filters=filters) if kind == "containers" else collection.list(filters=filters)
        except Exception:
            continue
        for item in items:
            try:
                if kind == "containers":
                    if item.status == "paused":
                        item.unpause()
                    item.remove(force=True, v=True)
                else:
                    item.remove()
                removed.append(f"{kind[:-1]} {item.name}")
            except Exception:
                pass  # gone already, or in use by something that goes next; the caller reports leftovers
    return removed


def leftovers(client: "docker.DockerClient", run_id: str | None = None) -> list[str]:
    """Names of containers, networks and volumes of one run (or of every harness run) still there."""
    label = f"{RUN_LABEL}={run_id}" if run_id else RUN_LABEL
    found = [f"container {c.name}" for c in client.containers.list(all=True, filters={"label": label})]
    found += [f"network {n.name}" for n in client.networks.list(filters={"label": label})]
    found += [f"volume {v.name}" for v in client.volumes.list(filters={"label": label})]
    return found


def remove_orphans(client: "docker.DockerClient") -> list[str]:
    """Remove what runs of a harness process that no longer exists (on this host) left behind."""
    host = socket.gethostname()
    dead: set[str] = set()
    for c in client.containers.list(all=True, filters={"label": [RUN_LABEL, f"{HOST_LABEL}={host}"]}):
        pid = c.labels.get(PID_LABEL, "")
        if pid.isdigit() and not _pid_alive(int(pid)):
            dead.add(c.labels[RUN_LABEL])
    for n in client.networks.list(filters={"label": [RUN_LABEL, f"{HOST_LABEL}={host}"]}):
        pid = (n.attrs.get("Labels") or {}).get(PID_LABEL, "")
        if pid.isdigit() and not _pid_alive(int(pid)):
            dead.add(n.attrs["Labels"][RUN_LABEL])
    removed: list[str] = []
    for run_id in sorted(dead):
        removed += remove_labelled(client, {"label": f"{RUN_LABEL}={run_id}"})
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.runtime.docker.resources",
                                 description="list (or remove) Docker resources that harness runs left behind")
    ap.add_argument("--remove", action="store_true", help="remove them")
    args = ap.parse_args(argv)
    try:
        client = connect()
    except EnvironmentProblem as exc:
        sys.stderr.write(f"{exc}\n")
        return 3
    try:
        found = leftovers(client)
        if args.remove:
            remove_labelled(client, {"label": RUN_LABEL})
            still = leftovers(client)
            print(f"removed {len(found) - len(still)}; left: {', '.join(still) or 'nothing'}")
            return 1 if still else 0
        print("\n".join(found) or "nothing left behind")
        return 0
    finally:
        client.close()


if __name__ == "__main__":
    raise SystemExit(main())
