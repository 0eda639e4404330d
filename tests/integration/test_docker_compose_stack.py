"""The generated demo stack comes up with Debian's docker-compose and works: orders answers, an
edge can be faulted through Toxiproxy's API (an HTTP fault too) and the breaker opens, Prometheus scrapes every target,
the Locust UI answers; `down` leaves no container, network or volume. The local images stand in for the public ones."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from dockerkit import docker_ready, skip_or_fail  # noqa: F401  (fixture)
from harness.net import port_is_open
from harness.runtime.docker import layout

pytestmark = [pytest.mark.integration, pytest.mark.docker]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROJECT = "harness-compose-test"


def published(service: str) -> int:
    """The loopback port the generated file publishes a service on (ports move as systems are added)."""
    with open(os.path.join(ROOT, "docker-compose.yml")) as f:
        spec = yaml.safe_load(f)["services"][service]
    return int(spec["ports"][0].split(":")[1])


ORDERS, LOCUST = published("circuit-breaker-orders"), published("circuit-breaker-locust")
PORTS = {"orders": ORDERS, "toxiproxy": 8474, "prometheus": 9090, "locust": LOCUST}
TOXIPROXY_IMAGE = os.environ.get(layout.TOXIPROXY_IMAGE_ENV) or layout.TOXIPROXY_LOCAL_IMAGE


def compose(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARNESS_TOXIPROXY_IMAGE": TOXIPROXY_IMAGE,
           "HARNESS_PROMETHEUS_IMAGE": "harness/prometheus:latest"}
    return subprocess.run(["docker-compose", "-p", PROJECT, "--profile", "circuit-breaker", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def stack(docker_ready: Any) -> Iterator[None]:
    if shutil.which("docker-compose") is None:
        skip_or_fail("docker-compose (Debian's v1) is not installed")
    for name in (TOXIPROXY_IMAGE, "harness/prometheus:latest"):
        if subprocess.run(["docker", "image", "inspect", name], capture_output=True).returncode != 0:
            skip_or_fail(f"image {name} missing: run `make images`")
    busy = [f"{n} ({p})" for n, p in PORTS.items() if port_is_open("127.0.0.1", p, timeout=0.5)]
    if busy:
        skip_or_fail(f"the stack's fixed loopback ports are taken: {', '.join(busy)}")
    up = compose("up", "-d")
    try:
        assert up.returncode == 0, up.stderr
        yield
    finally:
        down = compose("down", "-v", "--remove-orphans")
        assert down.returncode == 0, down.stderr
        for listing in (["ps", "-a"], ["network", "ls"], ["volume", "ls"]):
            left = subprocess.run(["docker", *listing, "-q", "--filter", f"label=com.docker.compose.project={PROJECT}"],
                                  capture_output=True, text=True, timeout=60)
            assert left.stdout.strip() == "", f"docker {' '.join(listing)}: {left.stdout}"


def wait_ok(url: str, timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            resp = httpx.get(url, timeout=5)
            if resp.status_code < 400:
                return resp
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{url} did not answer within {timeout}s"
        time.sleep(0.5)


def test_the_circuit_breaker_profile_runs_faults_and_is_scraped(stack: None) -> None:
    orders = f"http://127.0.0.1:{ORDERS}"
    wait_ok(orders + "/health")
    assert httpx.post(orders + "/orders", json={"amount": 10}, timeout=10).json()["status"] == "paid"
    # An HTTP fault: the stack's Toxiproxy is ours. payments "answers" 500, and orders falls back.
    edge = "http://127.0.0.1:8474/proxies/circuit-breaker.orders-%3Epayments/toxics"
    status = httpx.post(edge, json={"name": "payments-500", "type": "http_status", "stream": "upstream",
                                    "attributes": {"status": 500}}, timeout=10)
    assert status.status_code == 200, status.text
    assert httpx.post(orders + "/orders", json={"amount": 10}, timeout=10).json()["reason"] == "payments-unavailable"
    assert httpx.delete(edge + "/payments-500", timeout=10).status_code == 204
    assert httpx.post(orders + "/orders", json={"amount": 10}, timeout=10).json()["status"] == "paid"
    toxic = httpx.post("http://127.0.0.1:8474/proxies/circuit-breaker.orders-%3Epayments/toxics",
                       json={"type": "latency", "attributes": {"latency": 2000}}, timeout=10)
    assert toxic.status_code == 200, toxic.text
    reasons = [httpx.post(orders + "/orders", json={"amount": 10}, timeout=10).json().get("reason")
               for _ in range(8)]
    assert "breaker-open" in reasons, reasons  # five slow calls, then the breaker answers at once
    deadline = time.monotonic() + 30
    while True:
        up = httpx.get("http://127.0.0.1:9090/api/v1/query", params={"query": "up == 1"}, timeout=5).json()
        jobs = {r["metric"]["job"] for r in up["data"]["result"]}
        if jobs >= {"toxiproxy", "circuit-breaker-orders", "circuit-breaker-payments"} or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert jobs >= {"toxiproxy", "circuit-breaker-orders", "circuit-breaker-payments"}, jobs
    assert wait_ok(f"http://127.0.0.1:{LOCUST}/").status_code == 200  # the Locust web UI

