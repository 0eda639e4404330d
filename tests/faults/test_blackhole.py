"""The blackhole fault on a real Toxiproxy: connect succeeds at the proxy, then nothing passes either
way on new or open connections; when it ends, what was held is delivered (late, as across a healed
partition)."""
from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from caller_view import caller_sees
from harness.faults import ActiveFault, SimpleFaultContext, ToxiproxyClient, fault_type
from harness.faults.blackhole import toxic_names
from harness.net import free_port


class KeepAlive(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # connections stay open between requests, as in a client's pool
    seen: list[str] = []

    def do_GET(self) -> None:
        KeepAlive.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # answers to callers that gave up (closed) break the pipe: expected here


@pytest.fixture
def edge(toxiproxy: ToxiproxyClient) -> Iterator[tuple[SimpleFaultContext, int]]:
    server = QuietServer(("127.0.0.1", 0), KeepAlive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    KeepAlive.seen = []
    port = free_port()
    toxiproxy.create_proxy("front->back", f"127.0.0.1:{port}", f"127.0.0.1:{server.server_address[1]}")
    try:
        yield SimpleFaultContext(toxiproxy, {"front->back": "front->back"}), port
    finally:
        server.shutdown()
        server.server_close()


def ask(sock: socket.socket, path: str) -> None:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: back\r\n\r\n".encode())


def answer(sock: socket.socket, timeout: float) -> bytes | None:
    """One whole response (headers and the 2-byte body), or None if nothing came in time. The
    server writes headers and body separately, so one recv can return just the headers; reading
    to the end keeps a late body from being mistaken for an answer to the next request."""
    sock.settimeout(timeout)
    received = b""
    deadline = time.monotonic() + timeout
    try:
        while not (b"\r\n\r\n" in received and received.endswith(b"ok")):
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
    except TimeoutError:
        pass
    return received or None


@pytest.mark.integration
def test_connect_succeeds_then_nothing_answers_on_new_or_open_connections(
        edge: tuple[SimpleFaultContext, int]) -> None:
    ctx, port = edge
    pooled = socket.create_connection(("127.0.0.1", port), timeout=2)
    with pooled:
        held_then_delivered(ctx, port, pooled)


def held_then_delivered(ctx: SimpleFaultContext, port: int, pooled: socket.socket) -> None:
    ask(pooled, "/before")
    assert (answer(pooled, 2) or b"").startswith(b"HTTP/1.1 200")
    fault = ActiveFault.create("back-silent", "blackhole", "front->back")
    fault.kind.apply(ctx, fault)
    try:
        assert caller_sees("127.0.0.1", port, timeout=0.5) == "no answer"  # not refused, not closed
        ask(pooled, "/during")
        assert answer(pooled, 0.5) is None
        assert KeepAlive.seen == ["/before"]  # the request is held, not delivered
    finally:
        fault.kind.remove(ctx, fault)
    assert (answer(pooled, 2) or b"").startswith(b"HTTP/1.1 200")  # delivered when the fault ended
    assert KeepAlive.seen[0] == "/before" and "/during" in KeepAlive.seen
    assert caller_sees("127.0.0.1", port) == "answered"


@pytest.mark.integration
def test_a_request_the_caller_gave_up_on_still_reaches_the_dependency_when_it_ends(
        edge: tuple[SimpleFaultContext, int]) -> None:
    ctx, port = edge
    fault = ActiveFault.create("back-silent", "blackhole", "front->back")
    fault.kind.apply(ctx, fault)
    try:
        caller = socket.create_connection(("127.0.0.1", port), timeout=2)
        ask(caller, "/given-up")
        assert answer(caller, 0.3) is None
        caller.close()  # the caller's timeout
        time.sleep(0.2)
        assert KeepAlive.seen == []
    finally:
        fault.kind.remove(ctx, fault)
    deadline = time.monotonic() + 3
    while not KeepAlive.seen and time.monotonic() < deadline:
        time.sleep(0.05)
    assert KeepAlive.seen == ["/given-up"]


@pytest.mark.integration
def test_it_is_two_toxics_one_per_stream_and_removal_leaves_none(
        edge: tuple[SimpleFaultContext, int], toxiproxy: ToxiproxyClient) -> None:
    ctx, _ = edge
    fault = ActiveFault.create("back-silent", "blackhole", "front->back")
    fault.kind.apply(ctx, fault)
    toxics = {t.name: t for t in toxiproxy.toxics("front->back")}
    assert set(toxics) == set(toxic_names("back-silent").values()) == {"back-silent:upstream",
                                                                         "back-silent:downstream"}
    assert {(t.stream, t.toxicity) for t in toxics.values()} == {("upstream", 1.0), ("downstream", 1.0)}
    fault.kind.remove(ctx, fault)
    fault.kind.remove(ctx, fault)  # removing again (a retried teardown) is harmless
    assert toxiproxy.toxics("front->back") == []


def test_it_takes_the_whole_edge_no_stream_toxicity_or_attributes() -> None:
    assert fault_type("blackhole").target_kind == "edge"
    with pytest.raises(ValueError, match="takes no stream or toxicity"):
        ActiveFault.create("x", "blackhole", "a->b", toxicity=0.5)
    with pytest.raises(ValidationError, match="unknown field 'timeout'"):
        ActiveFault.create("x", "blackhole", "a->b", {"timeout": 0})
