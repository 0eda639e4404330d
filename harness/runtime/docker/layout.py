"""How a manifest's service becomes a container: image, paths, and its placement for ``launch_spec``.

Shared by the Docker runtime and the generated docker-compose.yml, so the two cannot drift
from each other or from the manifests; the command and environment come from the same
``harness.runtime.launch.launch_spec`` the local runtime uses. Pure: no Docker calls here.

Inside the targets image (docker/targets.Dockerfile, built from a catalogue such as the
repository's checkout) the catalogue's ``targets/`` tree is at ``/app/targets`` and a venv with
the harness package at ``/opt/venv``. The manifest's
placeholders map to container paths:

    {python}   /opt/venv/bin/python          {dir}      /app/targets/<system dir>
    {host}     0.0.0.0 (listen everywhere)   {port}     the manifest's ``port``, else 8000
    {run_dir}  /harness/run                  {service}  the service's name
    {edges[E]} Toxiproxy's address for edge E, as seen from the containers

A system in a catalogue's ``targets/`` (``harness.catalog``: the nearest directory above it
with a ``targets/``) runs from the image's copy of that tree, so the image must be built from
that catalogue (``make images`` in the checkout). Any other system (a user's own manifest) is
bind-mounted read-only at ``/harness/system``, so ``{dir}`` works for it too.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ...catalog import catalog_of
from ...system import SystemSpec
from ..launch import Placement, launch_spec

TARGET_IMAGE_ENV = "HARNESS_TARGET_IMAGE"
TARGET_IMAGE = "harness/targets:latest"
TOXIPROXY_IMAGE_ENV = "HARNESS_TOXIPROXY_IMAGE"
TOXIPROXY_PUBLIC_IMAGE = "ghcr.io/shopify/toxiproxy:2.12.0"
TOXIPROXY_LOCAL_IMAGE = "harness/toxiproxy:2.12.0"  # ours, with HTTP toxics: docker/toxiproxy.Dockerfile, make images
PROMETHEUS_IMAGE_ENV = "HARNESS_PROMETHEUS_IMAGE"
PROMETHEUS_PUBLIC_IMAGE = "prom/prometheus:v2.53.0"
SOURCE_LABEL = "io.harness.source"  # digest of harness/ + targets/ an image was built from

APP_DIR = PurePosixPath("/app")
PYTHON = "/opt/venv/bin/python"
RUN_DIR = "/harness/run"
MOUNTED_SYSTEM_DIR = "/harness/system"
DEFAULT_PORT = 8000
LISTEN_HOST = "0.0.0.0"
TOXIPROXY_API_PORT = 8474
TARPIT_CONTROL_PORT = 8475  # the tarpit helper's API, in Toxiproxy's network namespace (harness.faults.tarpit)
FIRST_PROXY_PORT = 10000
FIRST_LOAD_PORT = 20000  # load-path edges (load->SERVICE): published to the host, where Locust runs


@dataclass
class ServiceContainer:
    """What to run for one service: everything ``docker run`` or a Compose service needs."""

    name: str
    argv: list[str]
    env: dict[str, str]
    workdir: str
    port: int
    mounts: dict[str, str] = field(default_factory=dict)  # host path -> container path (read-only)


def image_catalog(system: SystemSpec) -> Path | None:
    """The catalogue whose ``targets/`` holds the system (then it runs from the image's copy), else None."""
    directory = system.directory.resolve()
    root = catalog_of(directory)
    return root if root is not None and directory.is_relative_to(root / "targets") else None


def system_dir(system: SystemSpec) -> tuple[PurePosixPath, Path | None]:
    """Where the system's directory is inside the container, and the host dir to mount (if any)."""
    directory = system.directory.resolve()
    root = image_catalog(system)
    if root is not None:
        return APP_DIR / "targets" / directory.relative_to(root / "targets").as_posix(), None
    return PurePosixPath(MOUNTED_SYSTEM_DIR), directory


def service_port(system: SystemSpec, name: str) -> int:
    return system.services[name].port or DEFAULT_PORT


def proxy_ports(system: SystemSpec, first: int = FIRST_PROXY_PORT) -> dict[str, int]:
    """A listen port inside the Toxiproxy container for each edge, in manifest order."""
    return {edge: first + i for i, edge in enumerate(system.edges)}


def service_container(system: SystemSpec, name: str, *, proxy_host: str, ports: dict[str, int],
                      defect: str | None = None) -> ServiceContainer:
    """The container for one service; its upstreams point at ``proxy_host:<that edge's proxy port>``."""
    cdir, mount = system_dir(system)
    placement = Placement(python=PYTHON, host=LISTEN_HOST, port=service_port(system, name), directory=cdir,
                          run_dir=RUN_DIR, proxy_host=proxy_host, proxy_ports=ports)
    spec = launch_spec(system, name, placement, defect)
    mounts = {str(mount): MOUNTED_SYSTEM_DIR} if mount else {}
    return ServiceContainer(name=name, argv=spec.argv, env=spec.env, workdir=str(spec.cwd), port=spec.port, mounts=mounts)


def target_image() -> str:
    return os.environ.get(TARGET_IMAGE_ENV) or TARGET_IMAGE


def toxiproxy_candidates() -> list[str]:
    """Toxiproxy images in order of preference: an explicit choice, else our build (it has the HTTP
    toxics), else the public one (stock: every fault but the HTTP ones), the last one pulled if none is there."""
    named = os.environ.get(TOXIPROXY_IMAGE_ENV)
    return [named] if named else [TOXIPROXY_LOCAL_IMAGE, TOXIPROXY_PUBLIC_IMAGE]


def source_digest(catalog: Path) -> str:
    """A digest of what the targets image copies in, to spot a stale image: the harness package
    (the one installed here; in a checkout's editable install, its harness/) and ``catalog``'s targets/."""
    import harness

    h = hashlib.sha256()
    for top, base in (("harness", Path(harness.__file__).resolve().parent), ("targets", catalog / "targets")):
        for path in sorted(base.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                h.update(f"{top}/{path.relative_to(base).as_posix()}".encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


if __name__ == "__main__":  # scripts/build-images.sh labels the image with this: python -m ... [CATALOG]
    import sys

    print(source_digest(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()))
