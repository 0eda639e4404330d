"""The target switches the HTTP fault experiments need, as real processes without the harness:
the gateway retries a replica's 5xx on its twin (RETRY_ON_5XX=false relays it), and orders'
breaker counts payments' 5xx as failures (BREAKER_COUNTS_5XX=false lets them through)."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from edge_services import Procs

pytestmark = pytest.mark.integration


@contextmanager
def answering(status: int) -> Iterator[str]:
    """An upstream that answers every request with `status` (and counts them)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            server.requests += 1  # type: ignore[attr-defined]
            body = b'{"error": "injected"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.requests = 0  # type: ignore[attr-defined]
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def procs() -> Iterator[Procs]:
    p = Procs("api-gateway")
    try:
        yield p
    finally:
        p.stop_all()


def gateway_over(procs: Procs, a1: str, **env: str):
    a2 = procs.start("backend.py", "backend-a2", BACKEND="a")
    return procs.start("gateway.py", "gateway", ROUTES="a=backend-a1,backend-a2", BACKEND_A1_URL=a1,
                       BACKEND_A2_URL=a2.url, FAILURE_THRESHOLD="1000", **env)


def test_a_replica_answering_503_is_retried_on_its_twin(procs: Procs) -> None:
    with answering(503) as a1:
        gw = gateway_over(procs, a1)
        with httpx.Client(timeout=10) as client:
            answers = [client.get(f"{gw.url}/a/items/{i}") for i in range(6)]
    assert [r.status_code for r in answers] == [200] * 6
    assert {r.json()["replica"] for r in answers} == {"backend-a2"}
    assert sorted(r.headers["x-gateway-attempts"] for r in answers) == ["1", "1", "1", "2", "2", "2"]


def test_without_retry_on_5xx_the_gateway_relays_the_replicas_503(procs: Procs) -> None:
    with answering(503) as a1:
        gw = gateway_over(procs, a1, RETRY_ON_5XX="false")
        with httpx.Client(timeout=10) as client:
            codes = [client.get(f"{gw.url}/a/items/{i}").status_code for i in range(6)]
    assert codes == [503, 200] * 3  # round robin starts at a1; its 503 goes to the client
    assert gw.events("replica_state") == []  # and a1 never counts as failing


@pytest.fixture
def breaker_procs() -> Iterator[Procs]:
    p = Procs("circuit-breaker")
    try:
        yield p
    finally:
        p.stop_all()


def orders_against(procs: Procs, payments: str, **env: str):
    return procs.start("orders.py", "orders", PAYMENTS_URL=payments, BREAKER_FAILURE_THRESHOLD="3",
                       BREAKER_RESET_TIMEOUT="30", **env)


def test_the_breaker_opens_on_payments_answering_500(breaker_procs: Procs) -> None:
    with answering(500) as payments:
        orders = orders_against(breaker_procs, payments)
        with httpx.Client(timeout=10) as client:
            answers = [client.post(f"{orders.url}/orders", json={"amount": 5}) for _ in range(6)]
    assert [r.status_code for r in answers] == [200] * 6
    assert [r.json()["reason"] for r in answers] == ["payments-unavailable"] * 3 + ["breaker-open"] * 3
    assert [e["state"] for e in orders.events("breaker_state")] == ["open"]


def test_a_breaker_that_ignores_5xx_never_opens_and_users_see_the_errors(breaker_procs: Procs) -> None:
    with answering(500) as payments:
        orders = orders_against(breaker_procs, payments, BREAKER_COUNTS_5XX="false")
        with httpx.Client(timeout=10) as client:
            answers = [client.post(f"{orders.url}/orders", json={"amount": 5}) for _ in range(6)]
    assert [r.status_code for r in answers] == [502] * 6
    assert all(r.json()["upstream_status"] == 500 for r in answers)
    assert orders.events("breaker_state") == []
