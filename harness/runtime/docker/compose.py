"""Generate the demo stack (docker-compose.yml) from the manifests, so it cannot drift from them.

    python -m harness.runtime.docker.compose            # print docker-compose.yml
    python -m harness.runtime.docker.compose --write    # write docker-compose.yml and docker/compose/*

The stack: Toxiproxy (every edge of every system as a proxy, from docker/compose/toxiproxy.json),
Prometheus (scraping every service's metrics and Toxiproxy's, docker/compose/prometheus.yml,
rendered by the same ``render_config`` the runtimes use), and one Compose profile per target
system with its services and a Locust web UI pointed at its entry service. Services are named
``<system>-<service>`` and built from the same image and placeholder mapping as the Docker
runtime (``harness.runtime.docker.layout``).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from ...metrics.prometheus_config import ScrapeTarget, render_config
from ...system import SystemSpec, load_system
from . import layout

HEADER = """\
# GENERATED from targets/*/system.yaml by `python -m harness.runtime.docker.compose --write`
# (`make compose`); do not edit by hand: a test fails when this file and the manifests disagree.
#
#   docker compose --profile circuit-breaker up --build     # one target system, its Locust UI
#   docker compose --profile all up --build                 # every target system
#
# Images: HARNESS_TARGET_IMAGE, HARNESS_BASE_IMAGE, HARNESS_TOXIPROXY_IMAGE (ours, with the HTTP
# toxics; built with HARNESS_GO_IMAGE when missing), HARNESS_PROMETHEUS_IMAGE.
#
# On 127.0.0.1:  Toxiproxy's API :8474   Prometheus :9090
"""
TOXIPROXY_CONFIG = "docker/compose/toxiproxy.json"
PROMETHEUS_CONFIG = "docker/compose/prometheus.yml"
FIRST_ENTRY_PORT = 8100
FIRST_LOCUST_PORT = 8089
SCRAPE_INTERVAL = 5.0


def systems(root: Path) -> list[SystemSpec]:
    """The catalogue's own target systems (not $HARNESS_TARGETS: the file must not depend on who runs it)."""
    return [load_system(p) for p in sorted((root / "targets").glob("*/system.yaml"))]


def generate(specs: list[SystemSpec]) -> dict[str, str]:
    """Relative path -> content, for docker-compose.yml and the two config files it mounts."""
    services: dict[str, Any] = {}
    proxies: list[dict[str, Any]] = []
    scrape = [ScrapeTarget(job="toxiproxy", address=f"toxiproxy:{layout.TOXIPROXY_API_PORT}")]
    next_port = layout.FIRST_PROXY_PORT
    for index, system in enumerate(specs):
        ports = layout.proxy_ports(system, first=next_port)
        next_port += len(ports)
        for edge in system.edges.values():
            target = _name(system, edge.target)
            proxies.append({"name": f"{system.name}.{edge.name}", "listen": f"{layout.LISTEN_HOST}:{ports[edge.name]}",
                            "upstream": f"{target}:{layout.service_port(system, edge.target)}", "enabled": True})
        for name in system.start_order():
            spec = layout.service_container(system, name, proxy_host="toxiproxy", ports=ports)
            svc = system.services[name]
            if spec.mounts:
                raise ValueError(f"system {system.name} is outside targets/; the demo stack holds only built-in ones")
            entry: dict[str, Any] = {
                "profiles": [system.name, "all"],
                "image": f"${{{layout.TARGET_IMAGE_ENV}:-{layout.TARGET_IMAGE}}}",
                "build": _build(),
                "command": spec.argv,
                "working_dir": spec.workdir,
                "environment": spec.env,
                "healthcheck": _healthcheck(svc.health.type, svc.health.path, spec.port),
                "depends_on": {"toxiproxy": {"condition": "service_started"},
                               **{_name(system, up.service): {"condition": "service_healthy"} for up in svc.upstreams}},
            }
            if svc.image:  # an image of its own: its own command unless the manifest gives one
                entry.update(image=svc.image, command=spec.argv or None)
                entry.pop("build")
                entry = {k: v for k, v in entry.items() if v is not None}
            if name == system.entry:
                entry["ports"] = [f"127.0.0.1:{FIRST_ENTRY_PORT + index}:{spec.port}"]
            services[_name(system, name)] = entry
            if svc.metrics:
                scrape.append(ScrapeTarget(job=_name(system, name), address=f"{_name(system, name)}:{spec.port}",
                                           metrics_path=svc.metrics))
        services[f"{system.name}-locust"] = _locust(system, index)
    head: dict[str, Any] = {
        "toxiproxy": {
            # Ours (HTTP toxics): built from source with the Go image when it is not there.
            "image": f"${{{layout.TOXIPROXY_IMAGE_ENV}:-{layout.TOXIPROXY_LOCAL_IMAGE}}}",
            "build": {"context": ".", "dockerfile": "docker/toxiproxy.Dockerfile",
                      "args": {"GO_IMAGE": "${HARNESS_GO_IMAGE:-golang:1.23-bookworm}"}},
            "command": [f"-host={layout.LISTEN_HOST}", f"-port={layout.TOXIPROXY_API_PORT}", "-proxy-metrics",
                        "-config=/etc/toxiproxy/proxies.json"],
            "volumes": [f"./{TOXIPROXY_CONFIG}:/etc/toxiproxy/proxies.json:ro"],
            "ports": [f"127.0.0.1:{layout.TOXIPROXY_API_PORT}:{layout.TOXIPROXY_API_PORT}"],
        },
        "prometheus": {
            "image": f"${{{layout.PROMETHEUS_IMAGE_ENV}:-{layout.PROMETHEUS_PUBLIC_IMAGE}}}",
            "command": ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"],
            "volumes": [f"./{PROMETHEUS_CONFIG}:/etc/prometheus/prometheus.yml:ro"],
            "ports": ["127.0.0.1:9090:9090"],
        },
    }
    compose = {"services": {**head, **services}}
    table = "".join(f"#   {s.name:22} entry ({s.entry}) :{FIRST_ENTRY_PORT + i}   Locust UI :{FIRST_LOCUST_PORT + i}\n"
                    for i, s in enumerate(specs))
    return {
        "docker-compose.yml": HEADER + table + yaml.safe_dump(compose, sort_keys=False, width=120),
        TOXIPROXY_CONFIG: json.dumps(proxies, indent=2) + "\n",
        PROMETHEUS_CONFIG: "# GENERATED with docker-compose.yml; do not edit by hand.\n"
                           + render_config(scrape, scrape_interval=SCRAPE_INTERVAL),
    }


def _name(system: SystemSpec, service: str) -> str:
    return f"{system.name}-{service}"


def _build() -> dict[str, Any]:
    return {"context": ".", "dockerfile": "docker/targets.Dockerfile",
            "args": {"BASE_IMAGE": "${HARNESS_BASE_IMAGE:-python:3.11-slim}"}}


def _healthcheck(kind: str, path: str, port: int) -> dict[str, Any]:
    if kind == "tcp":
        probe = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2).close()"
    else:
        probe = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}{path}', timeout=2)"
    return {"test": ["CMD", layout.PYTHON, "-c", probe], "interval": "2s", "timeout": "3s", "retries": 30}


def _locust(system: SystemSpec, index: int) -> dict[str, Any]:
    cdir, _ = layout.system_dir(system)
    port = FIRST_LOCUST_PORT + index
    entry = _name(system, system.entry)
    env = {f"HARNESS_URL_{n.upper().replace('-', '_')}": f"http://{_name(system, n)}:{layout.service_port(system, n)}"
           for n in system.services}
    return {
        "profiles": [system.name, "all"],
        "image": f"${{{layout.TARGET_IMAGE_ENV}:-{layout.TARGET_IMAGE}}}",
        "build": _build(),
        "command": ["/opt/venv/bin/locust", "-f", str(system.locustfile_path.relative_to(system.directory)),
                    "--host", f"http://{entry}:{layout.service_port(system, system.entry)}",
                    "--web-host", layout.LISTEN_HOST, "--web-port", str(port)],
        "working_dir": str(cdir),
        "environment": env,
        "ports": [f"127.0.0.1:{port}:{port}"],
        "depends_on": {entry: {"condition": "service_healthy"}},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.runtime.docker.compose", description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="write the files into the catalogue instead of printing")
    ap.add_argument("--catalog", type=Path, default=Path.cwd(), metavar="DIR",
                    help="the catalogue (a checkout) whose targets/ the stack holds, and where it is written (default: .)")
    args = ap.parse_args(argv)
    files = generate(systems(args.catalog))
    if not args.write:
        sys.stdout.write(files["docker-compose.yml"])
        return 0
    for rel, content in files.items():
        path = args.catalog / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
