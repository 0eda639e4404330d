"""For tests that need Docker: a daemon and the images, or a skip that says why (a failure in CI)."""
from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import EnvironmentProblem
from harness.journal import read_journal
from harness.runtime.docker import layout
from harness.runtime.docker.resources import RUN_LABEL, connect


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (in CI the Docker tests must run: .ci/run starts dockerd and builds the images)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_ready() -> Iterator[Any]:
    """A client for a daemon that has the targets image and a Toxiproxy image."""
    import docker

    try:
        client = connect()
    except EnvironmentProblem as exc:
        skip_or_fail(f"no Docker daemon: {exc}")
    try:
        def present(name: str) -> bool:
            try:
                client.images.get(name)
                return True
            except docker.errors.ImageNotFound:
                return False

        if not present(layout.target_image()) or not any(present(n) for n in layout.toxiproxy_candidates()):
            skip_or_fail(f"images missing ({layout.target_image()}, one of {layout.toxiproxy_candidates()}): "
                         "run `make images`")
        yield client
    finally:
        client.close()


def run_id_of(run_dir: Path) -> str:
    record = read_journal(run_dir / "journal.jsonl").first("docker_deployment")
    assert record, "the run recorded no docker_deployment"
    return str(record["run_id"])


def assert_nothing_left(run_dir: Path) -> None:
    """`docker ps -a`, `docker network ls`, `docker volume ls` filtered by the run's label are empty."""
    label = f"label={RUN_LABEL}={run_id_of(run_dir)}"
    for listing in (["ps", "-a"], ["network", "ls"], ["volume", "ls"]):
        proc = subprocess.run(["docker", *listing, "-q", "--filter", label], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "", f"docker {' '.join(listing)} --filter {label}: {proc.stdout}"
