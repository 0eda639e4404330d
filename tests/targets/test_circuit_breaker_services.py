"""The circuit-breaker target as real processes: orders -> payments (no Toxiproxy here).

Faults are made without Toxiproxy: payments is killed, or orders is pointed at a stub
that hangs (accepts TCP, never answers) or answers 503. Time bounds are generous: the
machine has 2 noisy cores.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "targets" / "circuit-breaker"
SHARED = ROOT / "targets" / "_shared"
EVENT_PREFIX = "@harness-event "


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """One target service as a subprocess, its output collected line by line."""

    def __init__(self, script: str, port: int, **env: str):
        self.name, self.port, self.url = script, port, f"http://127.0.0.1:{port}"
        full_env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "PYTHONPATH": str(SHARED),
                    "PYTHONUNBUFFERED": "1", **env}
        self.proc = subprocess.Popen(
            [sys.executable, f"{script}.py"], cwd=TARGET, env=full_env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_healthy(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._reader.join(2)
                pytest.fail(f"{self.name} exited {self.proc.returncode}:\n" + "\n".join(self.lines))
            try:
                r = httpx.get(self.url + "/health", timeout=1.0)
                # Check the name too: the free port may have been taken by someone else.
                if r.status_code == 200 and r.json().get("service") == self.name:
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.05)
        pytest.fail(f"{self.name} not healthy after {timeout}s:\n" + "\n".join(self.lines))

    def events(self, type: str = "breaker_state") -> list[dict]:
        found = [json.loads(line[len(EVENT_PREFIX):]) for line in list(self.lines) if line.startswith(EVENT_PREFIX)]
        return [e for e in found if e["type"] == type]

    def wait_events(self, n: int, timeout: float = 5.0) -> list[dict]:
        # The line is flushed before the answer is sent, but our reader thread may lag.
        deadline = time.monotonic() + timeout
        while len(self.events()) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.events()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(5)
        self.proc.stdout.close()


class Services:
    """Starts services and always stops every one of them."""

    def __init__(self):
        self.started: list[Service] = []

    def start(self, script: str, port: int | None = None, **env: str) -> Service:
        svc = Service(script, port or free_port(), **env)
        self.started.append(svc)
        svc.wait_healthy()
        return svc

    def stop_all(self) -> None:
        for svc in reversed(self.started):
            svc.stop()


@pytest.fixture
def services():
    s = Services()
    try:
        yield s
    finally:
        s.stop_all()


@pytest.fixture
def hanging_upstream():
    """A TCP listener that never accepts: connects succeed, answers never come."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(128)
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def failing_upstream():
    """An HTTP server that answers 503 to everything."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def place_order(orders: Service, client: httpx.Client, **fields) -> tuple[dict, float]:
    started = time.monotonic()
    r = client.post(orders.url + "/orders", json={"amount": 42.5, **fields})
    elapsed = time.monotonic() - started
    assert r.status_code == 200, r.text
    return r.json(), elapsed


def test_paid_then_breaker_opens_when_payments_dies_and_closes_when_it_returns(services):
    payments = services.start("payments")
    orders = services.start("orders", PAYMENTS_URL=payments.url, BREAKER_FAILURE_THRESHOLD="5",
                            BREAKER_RESET_TIMEOUT="2", RECONCILE_INTERVAL="600")
    with httpx.Client(timeout=10) as client:
        order, _ = place_order(orders, client)
        assert order["status"] == "paid" and order["charge_id"]
        assert client.get(f"{orders.url}/orders/{order['order_id']}").json()["status"] == "paid"
        assert orders.events() == []

        payments.proc.kill()
        payments.proc.wait(10)
        reasons = [place_order(orders, client)[0].get("reason") for _ in range(8)]
        # Sequential calls: exactly the threshold reaches payments, then it fails fast.
        assert reasons == ["payments-unavailable"] * 5 + ["breaker-open"] * 3
        order, _ = place_order(orders, client)
        assert order["status"] == "pending" and order["degraded"] is True
        assert client.get(f"{orders.url}/orders/{order['order_id']}").json()["status"] == "pending"

        events = orders.wait_events(1)
        assert [(e["previous"], e["state"], e["breaker"]) for e in events] == [("closed", "open", "payments")]
        assert isinstance(events[0]["t"], float) and abs(events[0]["t"] - time.time()) < 60
        metrics = client.get(orders.url + "/metrics").text
        assert 'circuit_breaker_state{breaker="payments",circuit_breaker_state="open"} 1.0' in metrics

        # payments comes back on the same port; after the reset timeout a probe closes it.
        services.start("payments", port=payments.port)
        deadline = time.monotonic() + 15
        while (order := place_order(orders, client)[0])["status"] != "paid":
            assert order["reason"] == "breaker-open"
            assert time.monotonic() < deadline, "breaker did not close after payments returned"
            time.sleep(0.1)
        states = [(e["previous"], e["state"]) for e in orders.wait_events(3)]
        assert states == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_open_breaker_fails_fast_when_payments_hangs(services, hanging_upstream):
    orders = services.start("orders", PAYMENTS_URL=hanging_upstream, PAYMENTS_TIMEOUT="1.0",
                            BREAKER_FAILURE_THRESHOLD="3", BREAKER_RESET_TIMEOUT="30", RECONCILE_INTERVAL="600")
    with httpx.Client(timeout=10) as client:
        slow = [place_order(orders, client) for _ in range(3)]
        fast = [place_order(orders, client) for _ in range(5)]
    for order, elapsed in slow:
        assert order["reason"] == "payments-unavailable"
        assert 0.9 <= elapsed < 5.0  # waited out PAYMENTS_TIMEOUT, and no longer
    for order, elapsed in fast:
        assert order["reason"] == "breaker-open"
        assert elapsed < 0.5, f"open breaker answered in {elapsed:.3f}s"
    assert [e["state"] for e in orders.wait_events(1)] == ["open"]


def test_5xx_answers_count_as_failures(services, failing_upstream):
    orders = services.start("orders", PAYMENTS_URL=failing_upstream, BREAKER_FAILURE_THRESHOLD="2",
                            BREAKER_RESET_TIMEOUT="30", RECONCILE_INTERVAL="600")
    with httpx.Client(timeout=10) as client:
        reasons = [place_order(orders, client)[0]["reason"] for _ in range(4)]
    assert reasons == ["payments-unavailable"] * 2 + ["breaker-open"] * 2
    assert [e["state"] for e in orders.wait_events(1)] == ["open"]


def test_breaker_disabled_defect_waits_on_every_call_and_emits_nothing(services, hanging_upstream):
    orders = services.start("orders", PAYMENTS_URL=hanging_upstream, PAYMENTS_TIMEOUT="0.5",
                            BREAKER_ENABLED="false", BREAKER_FAILURE_THRESHOLD="3", RECONCILE_INTERVAL="600")
    with httpx.Client(timeout=10) as client:
        results = [place_order(orders, client) for _ in range(6)]
        metrics = client.get(orders.url + "/metrics").text
    for order, elapsed in results:
        assert order["status"] == "pending" and order["reason"] == "payments-unavailable"
        assert elapsed >= 0.45  # every call waited for payments: nothing failed fast
    time.sleep(0.5)  # give a (wrong) late event line time to show up
    assert orders.events() == [] and not any(line.startswith(EVENT_PREFIX) for line in orders.lines)
    assert "circuit_breaker_state{" not in metrics


@pytest.fixture
def lossy_proxy():
    """An HTTP relay to payments that, while ``lossy`` is set, forwards the charge and then holds
    its answer for 2 s: the charge is made, the caller gives up on it first."""

    class Relay:
        target = ""
        lossy = False

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            answer = httpx.post(Relay.target + self.path, content=body, headers={"content-type": "application/json"})
            if Relay.lossy:
                time.sleep(2)
            self.send_response(answer.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Relay, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_resent_order_is_answered_not_charged_again(services):
    payments = services.start("payments")
    orders = services.start("orders", PAYMENTS_URL=payments.url)
    with httpx.Client(timeout=10) as client:
        first, _ = place_order(orders, client, order_id="o-1")
        again, _ = place_order(orders, client, order_id="o-1")
        assert first["status"] == "paid" and again == first
        r = client.post(orders.url + "/orders", json={"order_id": "o-1", "amount": 1.0})
        assert r.status_code == 409
        audit = client.get(payments.url + "/audit").json()
    assert [c["order_id"] for c in audit["charges"]] == ["o-1"]
    assert [c[1:] for c in audit["calls"] if c[2] == "/charge"] == [["POST", "/charge"]]


def test_pending_orders_are_charged_later_exactly_once_even_when_the_first_charge_landed(services, lossy_proxy):
    relay, relay_url = lossy_proxy
    payments = services.start("payments")
    relay.target = payments.url
    orders = services.start("orders", PAYMENTS_URL=relay_url, PAYMENTS_TIMEOUT="0.5", BREAKER_FAILURE_THRESHOLD="50",
                            RECONCILE_INTERVAL="0.5")
    with httpx.Client(timeout=10) as client:
        relay.lossy = True
        lost = [place_order(orders, client, order_id=f"lost-{i}")[0] for i in range(3)]
        assert [o["status"] for o in lost] == ["pending"] * 3
        # payments made each charge even though orders gave up on it.
        assert len(client.get(payments.url + "/audit").json()["charges"]) == 3
        relay.lossy = False
        deadline = time.monotonic() + 15
        while any(client.get(f"{orders.url}/orders/lost-{i}").json()["status"] != "paid" for i in range(3)):
            assert time.monotonic() < deadline, "pending orders were never charged"
            time.sleep(0.2)
        paid = [client.get(f"{orders.url}/orders/lost-{i}").json() for i in range(3)]
        charges = client.get(payments.url + "/audit").json()["charges"]
    assert sorted(c["order_id"] for c in charges) == ["lost-0", "lost-1", "lost-2"]  # once each
    assert {o["charge_id"] for o in paid} == {c["charge_id"] for c in charges}


def test_payments_keeps_its_charges_across_a_crash(services, tmp_path):
    ledger = tmp_path / "ledger.jsonl"
    payments = services.start("payments", PAYMENTS_LEDGER=str(ledger))
    with httpx.Client(timeout=10) as client:
        first = client.post(payments.url + "/charge", json={"order_id": "o-9", "amount": 5.5}).json()
        payments.proc.kill()
        payments.proc.wait(10)
        payments = services.start("payments", port=payments.port, PAYMENTS_LEDGER=str(ledger))
        again = client.post(payments.url + "/charge", json={"order_id": "o-9", "amount": 5.5}).json()
        audit = client.get(payments.url + "/audit").json()
    assert again == first
    assert [(c["order_id"], c["charge_id"]) for c in audit["charges"]] == [("o-9", first["charge_id"])]


def test_locustfile_drives_orders_without_failures(services, tmp_path):
    payments = services.start("payments")
    orders = services.start("orders", PAYMENTS_URL=payments.url)
    # Locust in its own process: importing it here would gevent-patch the test run.
    run = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "locustfile.py", "--headless", "-u", "5", "-r", "5",
         "-t", "3s", "--host", orders.url, "--csv", str(tmp_path / "run"), "--only-summary",
         "--exit-code-on-error", "0"],
        cwd=TARGET, capture_output=True, text=True, timeout=90,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    rows = (tmp_path / "run_stats.csv").read_text().splitlines()
    row = next(r.split(",") for r in rows if ",Aggregated," in r)
    header = rows[0].split(",")
    requests, failures = int(row[header.index("Request Count")]), int(row[header.index("Failure Count")])
    failure_detail = (tmp_path / "run_failures.csv").read_text()
    assert requests > 20 and failures == 0, f"{requests} requests, {failures} failed:\n{failure_detail}\n{output}"
