"""The sidecar target as real processes: app -> sidecar -> inventory (or a stub upstream).

No Toxiproxy here: faults are stubs (an upstream that answers 503 a few times, one that
never answers) or a sidecar that is not there. Time bounds are generous: 2 noisy cores.
"""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from edge_services import Procs, free_port

pytestmark = pytest.mark.integration

SIDECAR_HEALTH = "/_sidecar/health"


class Group:
    """The sidecar target's services by script name; every one is stopped after the test."""

    def __init__(self) -> None:
        self.procs = Procs("sidecar")

    def start(self, script: str, health: str = "/health", **env: str):
        return self.procs.start(f"{script}.py", script, health=health, **env)


@pytest.fixture
def group() -> Iterator[Group]:
    g = Group()
    try:
        yield g
    finally:
        g.procs.stop_all()


class FlakyUpstream:
    """HTTP/1.1 with keep-alive: answers 503 ``failures`` times, then 200; counts TCP connections."""

    def __init__(self, failures: int):
        self.failures, self.requests, self.connections = failures, 0, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                outer.connections += 1

            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests += 1
                failing = outer.requests <= outer.failures
                body = b'{"error":"busy"}' if failing else b'{"id":1,"name":"item-1","stock":7}'
                self.send_response(503 if failing else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FlakyUpstream:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def hanging_upstream() -> Iterator[str]:
    """A TCP listener that never accepts: connects succeed, answers never come."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(128)
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


def timed_get(url: str, timeout: float = 10.0) -> tuple[httpx.Response, float]:
    began = time.monotonic()
    r = httpx.get(url, timeout=timeout)
    return r, time.monotonic() - began


def test_the_app_answers_a_product_through_sidecar_and_inventory(group: Group) -> None:
    inventory = group.start("inventory")
    sidecar = group.start("sidecar", SIDECAR_HEALTH, UPSTREAM_URL=inventory.url)
    app = group.start("app", SIDECAR_URL=sidecar.url)
    r, _ = timed_get(app.url + "/products/7")
    assert r.status_code == 200
    assert r.json() == {"id": "7", "name": "item-7", "stock": 510, "in_stock": True, "attempts": 1}
    assert timed_get(app.url + "/products/0")[0].status_code == 404
    # The event says the sidecar started, and nothing of its configuration: no record may tell
    # which defect is switched on.
    [started] = sidecar.events("sidecar_started")
    assert set(started) == {"t", "type"}
    assert 'sidecar_tries_total{outcome="200"}' in httpx.get(sidecar.url + "/_sidecar/metrics").text


def test_a_reservation_goes_through_once_and_inventory_audits_it(group: Group) -> None:
    inventory = group.start("inventory")
    sidecar = group.start("sidecar", SIDECAR_HEALTH, UPSTREAM_URL=inventory.url)
    app = group.start("app", SIDECAR_URL=sidecar.url)
    r = httpx.post(app.url + "/products/7/reservations", json={"ref": "r1", "qty": 2}, timeout=10)
    assert r.status_code == 201 and r.json() == {"ref": "r1", "product": "7", "qty": 2, "reserved": True}
    assert timed_get(app.url + "/products/7")[0].json()["stock"] == 508
    short = httpx.post(app.url + "/products/7/reservations", json={"ref": "r2", "qty": 10_000}, timeout=10)
    assert short.status_code == 409 and short.json() == {"error": "out of stock"}
    assert httpx.post(app.url + "/products/0/reservations", json={"ref": "r3"}, timeout=10).status_code == 404
    audit = httpx.get(inventory.url + "/audit?quiet=0.2").json()
    assert [(x["ref"], x["item"], x["qty"]) for x in audit["reservations"]] == [("r1", 7, 2)]
    assert audit["stock"] == {"7": {"initial": 510, "reserved": 2}}
    assert [c[1:] for c in audit["calls"] if c[1] == "POST"] == [["POST", "/items/7/reservations"]] * 2 + [
        ["POST", "/items/0/reservations"]]


def test_the_app_answers_its_catalog_without_the_sidecar(group: Group) -> None:
    app = group.start("app", SIDECAR_URL=f"http://127.0.0.1:{free_port()}")
    r, took = timed_get(app.url + "/products/42/info")
    assert r.status_code == 200 and r.json() == {"id": "42", "name": "item-42", "price": 43.49}
    assert timed_get(app.url + "/products/0/info")[0].status_code == 404


def test_a_reservation_is_unknown_not_failed_when_the_sidecar_gives_up(group: Group, hanging_upstream: str) -> None:
    sidecar = group.start("sidecar", SIDECAR_HEALTH, UPSTREAM_URL=hanging_upstream)
    app = group.start("app", SIDECAR_URL=sidecar.url)
    r = httpx.post(app.url + "/products/7/reservations", json={"ref": "r1"}, timeout=10)
    assert r.status_code == 503 and r.json()["degraded"] is True
    assert "may not have been made" in r.json()["detail"]


def test_each_retry_goes_out_on_a_fresh_connection(group: Group) -> None:
    with FlakyUpstream(failures=2) as upstream:
        sidecar = group.start("sidecar", SIDECAR_HEALTH, UPSTREAM_URL=upstream.url)
        r, _ = timed_get(sidecar.url + "/items/1")
        assert r.status_code == 200 and r.headers["x-sidecar-attempts"] == "3"
        # A keep-alive server: had the sidecar reused its connection, it would have counted 1.
        assert (upstream.requests, upstream.connections) == (3, 3)


def test_without_retries_the_first_failure_is_final(group: Group) -> None:
    with FlakyUpstream(failures=1) as upstream:
        sidecar = group.start("sidecar", SIDECAR_HEALTH, UPSTREAM_URL=upstream.url, SIDECAR_RETRIES="false")
        r, _ = timed_get(sidecar.url + "/items/1")
        assert r.status_code == 503 and r.headers["x-sidecar-attempts"] == "1"


def test_a_post_is_never_retried(group: Group) -> None:
    with FlakyUpstream(failures=1) as upstream:
        sidecar = group.start("sidecar", SIDECAR_HEALTH, UPSTREAM_URL=upstream.url)
        r = httpx.post(sidecar.url + "/items/1", content=b"{}", timeout=10)
        assert r.status_code == 503 and r.headers["x-sidecar-attempts"] == "1" and upstream.requests == 1


def test_a_hanging_upstream_is_cut_within_the_budget(group: Group, hanging_upstream: str) -> None:
    sidecar = group.start("sidecar", SIDECAR_HEALTH, UPSTREAM_URL=hanging_upstream,
                          SIDECAR_TRY_TIMEOUT="0.2", SIDECAR_BUDGET="1.0")
    r, took = timed_get(sidecar.url + "/items/1")
    assert r.status_code == 504
    body = r.json()
    assert body["error"] == "upstream_unavailable" and body["reason"] in ("timeout", "budget")
    assert body["attempts"] >= 4 or body["reason"] == "budget"
    assert 0.75 <= took < 2.0, took


def test_without_timeouts_the_sidecar_waits_on_a_hanging_upstream(group: Group, hanging_upstream: str) -> None:
    sidecar = group.start("sidecar", SIDECAR_HEALTH, UPSTREAM_URL=hanging_upstream, SIDECAR_TIMEOUTS="false")
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(sidecar.url + "/items/1", timeout=2.5)


def test_the_app_fails_fast_when_its_sidecar_is_gone(group: Group) -> None:
    app = group.start("app", SIDECAR_URL=f"http://127.0.0.1:{free_port()}")
    r, took = timed_get(app.url + "/products/1")
    assert r.status_code == 503
    assert r.json()["error"] == "sidecar_unavailable" and r.json()["degraded"] is True
    assert took < 0.5, took


def test_the_waiting_app_defect_holds_each_request_while_the_sidecar_is_gone(group: Group) -> None:
    app = group.start("app", SIDECAR_URL=f"http://127.0.0.1:{free_port()}", APP_SIDECAR_WAIT="1.0")
    r, took = timed_get(app.url + "/products/1")
    assert r.status_code == 503 and r.json()["error"] == "sidecar_unavailable"
    assert 1.0 <= took < 3.0, took


def test_the_app_degrades_cleanly_when_the_sidecar_gives_up(group: Group, hanging_upstream: str) -> None:
    sidecar = group.start("sidecar", SIDECAR_HEALTH, UPSTREAM_URL=hanging_upstream, SIDECAR_BUDGET="0.5")
    app = group.start("app", SIDECAR_URL=sidecar.url)
    r, took = timed_get(app.url + "/products/1")
    assert r.status_code == 503 and took < 2.0
    assert r.json() == {"error": "inventory_unavailable", "degraded": True, "detail": "sidecar answered 504",
                        "attempts": r.json()["attempts"]}
