"""The committed demo stack is exactly what the manifests generate, and Compose accepts it."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
import yaml

from harness.catalog import REPO_ROOT
from harness.runtime.docker.compose import generate, systems


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return generate(systems())


def test_the_committed_files_equal_what_the_manifests_generate(files: dict[str, str]) -> None:
    for rel, content in files.items():
        committed = (REPO_ROOT / rel).read_text() if (REPO_ROOT / rel).exists() else None
        assert committed == content, f"{rel} is stale: regenerate with `make compose`"


def test_every_service_of_every_system_is_in_its_profile_and_every_edge_is_a_proxy(files: dict[str, str]) -> None:
    stack = yaml.safe_load(files["docker-compose.yml"])["services"]
    proxies = {p["name"]: p for p in json.loads(files["docker/compose/toxiproxy.json"])}
    for system in systems():
        for name in system.services:
            svc = stack[f"{system.name}-{name}"]
            assert svc["profiles"] == [system.name, "all"]
        for edge in system.edges.values():
            proxy = proxies[f"{system.name}.{edge.name}"]
            assert proxy["upstream"].startswith(f"{system.name}-{edge.target}:")
            port = proxy["listen"].rsplit(":", 1)[1]
            assert f"toxiproxy:{port}" in stack[f"{system.name}-{edge.source}"]["environment"][edge.env]
        locust = stack[f"{system.name}-locust"]
        assert f"http://{system.name}-{system.entry}:" in " ".join(locust["command"])
    assert len({p["listen"] for p in proxies.values()}) == len(proxies), "two edges share a proxy port"


def test_prometheus_scrapes_toxiproxy_and_every_service_that_declares_metrics(files: dict[str, str]) -> None:
    config = yaml.safe_load(files["docker/compose/prometheus.yml"])
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert jobs["toxiproxy"]["static_configs"][0]["targets"] == ["toxiproxy:8474"]
    for system in systems():
        for name, svc in system.services.items():
            assert (f"{system.name}-{name}" in jobs) == bool(svc.metrics)


def test_compose_accepts_the_stack_with_every_profile() -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("docker-compose is missing in CI: .ci/run installs Debian's docker-compose")
        pytest.skip("docker-compose (Debian's v1) is not installed: apt-get install -y docker-compose")
    proc = subprocess.run([tool, "--profile", "all", "config", "--services"], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    services = set(proc.stdout.split())
    assert {"toxiproxy", "prometheus"} <= services
    assert {f"{s.name}-{n}" for s in systems() for n in s.services} <= services
