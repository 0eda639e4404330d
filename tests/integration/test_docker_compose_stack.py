"""The generated demo stack comes up with Debian's docker-compose and works: orders answers, an
edge can be faulted through Toxiproxy's API (an HTTP fault too) and the breaker opens, Prometheus scrapes every target,
the Locust UI answers; `down` leaves no container, network or volume. The local images stand in for the public ones.

Every other profile too: each system's services become healthy and one request of its happy path
through its entry (through Toxiproxy's edges to its upstreams) succeeds; `all` (every system at once)
only under `make test-full`. The stack's ports are fixed, so these tests run one after another
(a machine-wide lock, across workers and sessions) while other Docker tests run beside them."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import yaml

from dockerkit import docker_ready, skip_or_fail  # noqa: F401  (fixture)
from harness.net import port_is_open
from harness.runtime.docker import layout

# The stack's loopback ports are fixed: its tests run one after another (stack_lock below).
STACK = [pytest.mark.integration, pytest.mark.docker]


def on_the_stack(test: Callable[..., None]) -> Callable[..., None]:
    for mark in STACK:
        test = mark(test)
    return test

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# One project per test session: two sessions on one daemon (CI jobs, developers) that shared a
# name would race to create its network, and Docker keeps both ("ambiguous", every later `up` fails).
# A second session's stack still collides on the fixed ports, which is caught before `up`.
PROJECT = f"harness-compose-test-{os.getpid()}"


def published(service: str) -> int:
    """The loopback port the generated file publishes a service on (ports move as systems are added)."""
    with open(os.path.join(ROOT, "docker-compose.yml")) as f:
        spec = yaml.safe_load(f)["services"][service]
    return int(spec["ports"][0].split(":")[1])


def entries() -> dict[str, str]:
    """profile (system) -> its entry service, as the generated file names it (the one published besides Locust)."""
    with open(os.path.join(ROOT, "docker-compose.yml")) as f:
        services = yaml.safe_load(f)["services"]
    out = {}
    for name, spec in services.items():
        profiles = [p for p in spec.get("profiles") or [] if p != "all"]
        if profiles and spec.get("ports") and not name.endswith("-locust"):
            out[profiles[0]] = name
    return out


ORDERS, LOCUST = published("circuit-breaker-orders"), published("circuit-breaker-locust")
TOXIPROXY_IMAGE = os.environ.get(layout.TOXIPROXY_IMAGE_ENV) or layout.TOXIPROXY_LOCAL_IMAGE


def compose(*args: str, profile: str = "circuit-breaker", timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARNESS_TOXIPROXY_IMAGE": TOXIPROXY_IMAGE,
           "HARNESS_PROMETHEUS_IMAGE": "harness/prometheus:latest"}
    return subprocess.run(["docker-compose", "-p", PROJECT, "--profile", profile, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@contextlib.contextmanager
def stack_lock() -> Iterator[None]:
    """One stack at a time on this machine: a flock the kernel releases if the holder dies.

    An xdist group did not keep these tests on one worker under pytest 9.2 with pytest-xdist 3.8
    (checked with a two-test file: the group's tests went to both workers), so two stacks raced
    for the fixed ports (CI stop 17); a lock also holds across test sessions."""
    with open(os.path.join(tempfile.gettempdir(), "harness-compose-stack.lock"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextlib.contextmanager
def brought_up(profile: str) -> Iterator[None]:
    """`up -d` one profile; `down -v` whatever happens, and nothing of the project is left."""
    with stack_lock():
        with _brought_up(profile):
            yield


@contextlib.contextmanager
def _brought_up(profile: str) -> Iterator[None]:
    if shutil.which("docker-compose") is None:
        skip_or_fail("docker-compose (Debian's v1) is not installed")
    for name in (TOXIPROXY_IMAGE, "harness/prometheus:latest"):
        if subprocess.run(["docker", "image", "inspect", name], capture_output=True).returncode != 0:
            skip_or_fail(f"image {name} missing: run `make images`")
    ports = {"toxiproxy": 8474, "prometheus": 9090}
    for system, entry in entries().items():
        if profile in (system, "all"):
            ports |= {entry: published(entry), f"{system}-locust": published(f"{system}-locust")}
    busy = [f"{n} ({p})" for n, p in ports.items() if port_is_open("127.0.0.1", p, timeout=0.5)]
    if busy:
        holders = subprocess.run(["docker", "ps", "--format", "{{.Names}} {{.Ports}}"], capture_output=True, text=True,
                                 timeout=60).stdout.strip()
        skip_or_fail(f"the stack's fixed loopback ports are taken: {', '.join(busy)} "
                     f"(containers running: {holders or 'none'})")
    up = compose("up", "-d", profile=profile, timeout=600)
    try:
        assert up.returncode == 0, up.stderr
        yield
    finally:
        down = compose("down", "-v", "--remove-orphans", profile=profile)
        assert down.returncode == 0, down.stderr
        for listing in (["ps", "-a"], ["network", "ls"], ["volume", "ls"]):
            left = subprocess.run(["docker", *listing, "-q", "--filter", f"label=com.docker.compose.project={PROJECT}"],
                                  capture_output=True, text=True, timeout=60)
            assert left.stdout.strip() == "", f"docker {' '.join(listing)}: {left.stdout}"


@pytest.fixture
def stack(docker_ready: Any) -> Iterator[None]:
    with brought_up("circuit-breaker"):
        yield


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


@on_the_stack
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



# --- every profile: healthy, and one request of its happy path through the entry -------------------

Request = Callable[[httpx.Client], bool]


def _card(path: str) -> Request:
    return lambda c: (r := c.get(path)).status_code == 200 and r.json().get("partial") is False


HAPPY: dict[str, Request] = {
    "aggregator": _card("/dashboard/42"),
    "anti-corruption-layer": lambda c: (r := c.get("/customers/123/standing")).status_code == 200
    and r.json()["customer"]["id"] == "123",
    "api-gateway": lambda c: all(c.get(f"/{b}/items/3").json().get("backend") == b for b in ("a", "b")),
    "bff": _card("/web/products/5"),
    "circuit-breaker": lambda c: c.post("/orders", json={"amount": 10}).json().get("status") == "paid",
    "cqrs": lambda c: c.post(f"/accounts/acct-{uuid.uuid4().hex[:6]}/deposits", json={"amount": 5}).status_code == 200,
    "database-per-service": lambda c: (r := c.post("/orders", json={"user_id": 4, "product_id": 5, "quantity": 2}))
    .status_code == 200 and r.json()["total_cents"] > 0,
    "event-sourcing": lambda c: c.post("/accounts/7/deposits", json={"command_id": uuid.uuid4().hex,
                                                                      "amount_cents": 100}).status_code == 200,
    "saga": lambda c: c.post("/orders", json={"customer": "c1", "sku": "sku-0", "qty": 1, "amount_cents": 100,
                                              "address": "1 Main Street"}).json().get("state") == "completed",
    "sidecar": lambda c: (r := c.get("/products/5")).status_code == 200 and r.json()["id"] == "5"
    and isinstance(r.json()["stock"], int),
}


def containers_healthy(profile: str, timeout: float = 180) -> list[str]:
    """Wait until every container of the project runs and each with a healthcheck is healthy; their names."""
    deadline = time.monotonic() + timeout
    while True:
        ids = compose("ps", "-q", profile=profile).stdout.split()
        states = json.loads(subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True,
                                           timeout=60).stdout or "[]")
        unwell = [f"{s['Name']}: {s['State']['Status']}/{(s['State'].get('Health') or {}).get('Status', '-')}"
                  for s in states
                  if s["State"]["Status"] != "running" or (s["State"].get("Health") or {}).get("Status", "healthy")
                  != "healthy"]
        if ids and not unwell:
            return [s["Name"].lstrip("/") for s in states]
        assert time.monotonic() < deadline, f"not healthy within {timeout}s: {unwell or 'no containers'}"
        time.sleep(1)


def happy_request(system: str, entry: str, timeout: float = 60) -> None:
    """The entry's happy path, retried while the stack settles (e.g. Toxiproxy's edges, the first connections)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=f"http://127.0.0.1:{published(entry)}", timeout=10) as client:
        while True:
            try:
                if HAPPY[system](client):
                    return
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                pass
            assert time.monotonic() < deadline, f"{system}: no happy answer through {entry} within {timeout}s"
            time.sleep(1)


def test_every_system_has_a_happy_request() -> None:
    assert set(HAPPY) == set(entries())


@on_the_stack
@pytest.mark.parametrize("system", sorted(HAPPY))
def test_each_profile_comes_up_healthy_and_answers_through_its_entry(system: str, docker_ready: Any) -> None:
    entry = entries()[system]
    with brought_up(system):
        names = containers_healthy(system)
        assert any(n.endswith(entry) or f"_{entry}_" in n for n in names), names
        assert {"toxiproxy", "prometheus"} <= {n.split("_")[1] for n in names if "_" in n}, names
        happy_request(system, entry)


@on_the_stack
@pytest.mark.full  # every system at once: ~35 containers
def test_the_all_profile_comes_up_healthy_and_every_entry_answers(docker_ready: Any) -> None:
    with brought_up("all"):
        containers_healthy("all", timeout=300)
        for system, entry in sorted(entries().items()):
            happy_request(system, entry)
