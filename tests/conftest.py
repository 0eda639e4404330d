"""Shared fixtures: a tiny upstream HTTP server and a real toxiproxy-server, both on loopback."""
from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from harness.faults import Proxy, ToxiproxyClient, ToxiproxyServer
from harness.net import free_port
from slots import experiment_slot, slot_count


class _Handler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.0: one connection per request, so every request meets the proxy's current
    # state (Toxiproxy decides toxicity per connection, and `down` closes connections).
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


@dataclass
class Upstream:
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="upstream", daemon=True)
    thread.start()
    try:
        yield Upstream("127.0.0.1", server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def toxiproxy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ToxiproxyServer]:
    log = tmp_path_factory.mktemp("toxiproxy") / "toxiproxy-server.log"
    with ToxiproxyServer(log) as server:
        yield server


@pytest.fixture
def toxiproxy(toxiproxy_server: ToxiproxyServer) -> Iterator[ToxiproxyClient]:
    """The shared server's client; every proxy a test made is deleted after it."""
    client = toxiproxy_server.client
    yield client
    client.reset()
    for name in client.proxies():
        client.delete_proxy(name)


@pytest.fixture
def edge_proxy(toxiproxy: ToxiproxyClient, upstream: Upstream) -> Proxy:
    """A proxy named like an edge (its '>' must survive URL quoting) in front of `upstream`."""
    return toxiproxy.create_proxy("orders->payments", f"127.0.0.1:{free_port()}", upstream.address)



@pytest.fixture(autouse=True)
def _experiment_slot(request: pytest.FixtureRequest) -> Iterator[None]:
    """Real experiments wait for one of the machine's experiment slots (see tests/slots.py); a test
    marked ``exclusive`` (a contention experiment) holds them all."""
    if request.node.get_closest_marker("integration") is None:
        yield
        return
    with experiment_slot(weight=slot_count() if request.node.get_closest_marker("exclusive") else 1):
        yield
