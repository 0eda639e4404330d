"""Which images a Docker run uses, and what to do when one is missing.

    targets     $HARNESS_TARGET_IMAGE, else harness/targets:latest (built from a catalogue, e.g. the
                checkout; a notice when its io.harness.source label says it is older than the code)
    toxiproxy   $HARNESS_TOXIPROXY_IMAGE, else our harness/toxiproxy:2.12.0 (with the HTTP toxics)
                or ghcr.io/shopify/toxiproxy:2.12.0, whichever is there first; else the public one is pulled
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ...errors import EnvironmentProblem
from . import layout


def target_image(client: Any, notice: Callable[[str], None], catalog: Path | None = None) -> str:
    """The targets image's name; with ``catalog`` (the system runs from the image's copy of it), a
    notice when the image was built from other sources than that catalogue and this harness."""
    import docker

    name = layout.target_image()
    try:
        found = client.images.get(name)
    except docker.errors.ImageNotFound:
        raise EnvironmentProblem(
            f"the targets image {name} is not there",
            hint="build it: `make images` (scripts/build-images.sh), or with a normal Docker install "
                 f"`docker build -f docker/targets.Dockerfile -t {layout.TARGET_IMAGE} .`; "
                 f"or name another image in ${layout.TARGET_IMAGE_ENV}") from None
    built_from = (found.labels or {}).get(layout.SOURCE_LABEL)
    if built_from and catalog is not None and built_from != layout.source_digest(catalog):
        notice(f"image {name} was built from other sources than {catalog}/targets/ and this harness: "
               "rebuild it (`make images`) to run the code you see")
    return name


def toxiproxy_image(client: Any) -> str:
    import docker

    candidates = layout.toxiproxy_candidates()
    for name in candidates:
        try:
            client.images.get(name)
            return name
        except docker.errors.ImageNotFound:
            continue
    pullable = candidates[-1]  # the public one (ours is built, not pulled), or the one named
    try:
        client.images.pull(pullable)
        return pullable
    except docker.errors.DockerException as exc:
        raise EnvironmentProblem(
            f"no Toxiproxy image: none of {', '.join(candidates)} is there, and pulling {pullable} failed "
            f"({str(exc).splitlines()[0][:200]})",
            hint=f"build {layout.TOXIPROXY_LOCAL_IMAGE}: `make images`; or name one in ${layout.TOXIPROXY_IMAGE_ENV}"
        ) from None


def service_image(client: Any, service: str, name: str) -> None:
    """A service's own image (``image:`` in the manifest) is there, or pulled; else say how to build it."""
    import docker

    try:
        client.images.get(name)
        return
    except docker.errors.ImageNotFound:
        pass
    try:
        client.images.pull(name)
    except docker.errors.DockerException as exc:
        raise EnvironmentProblem(
            f"services.{service}.image: {name} is not there and could not be pulled "
            f"({str(exc).splitlines()[0][:200]})",
            hint=f"build it first (`docker build -t {name} .`; docs/your-own-system.md shows a Dockerfile "
                 "for your own binaries), or name an image `docker images` lists") from None
