"""``query_range`` against a stand-in for Prometheus's HTTP API (a thread on loopback).

The real Prometheus is exercised by tests/metrics/test_prometheus_server.py and the
integration runs; here: what is sent, what comes back, and how errors read.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from urllib.parse import parse_qs, urlparse

import pytest

from harness.metrics.query import QueryError, query_range
from harness.net import free_port


class FakePrometheus(BaseHTTPRequestHandler):
    answer: tuple[int, dict[str, Any]] = (200, {})
    seen: list[dict[str, list[str]]] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        type(self).seen.append(parse_qs(urlparse(self.path).query))
        status, body = type(self).answer
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def prometheus() -> Iterator[tuple[str, type[FakePrometheus]]]:
    handler = type("Handler", (FakePrometheus,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_range_query_sends_whole_seconds_around_the_window_and_returns_plain_lists(prometheus) -> None:
    url, handler = prometheus
    handler.answer = (200, {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"job": "orders"}, "values": [[100, "0.5"], [101, "NaN"], [102, "2"]]}]}})
    series = query_range(url, "sum(x)", 100.4, 102.2, 1.0)
    assert series == [{"labels": {"job": "orders"}, "values": [[100.0, 0.5], [102.0, 2.0]], "dropped_non_finite": 1}]
    [sent] = handler.seen
    assert sent["query"] == ["sum(x)"] and sent["start"] == ["100"] and sent["end"] == ["103"] and sent["step"] == ["1"]


def test_a_rejected_query_names_prometheus_own_error(prometheus) -> None:
    url, handler = prometheus
    handler.answer = (400, {"status": "error", "errorType": "bad_data",
                            "error": "1:5: parse error: unexpected \"by\" in aggregation"})
    with pytest.raises(QueryError) as err:
        query_range(url, "sum by", 100, 110, 1.0)
    assert str(err.value) == 'Prometheus refused the query: 1:5: parse error: unexpected "by" in aggregation'


def test_no_prometheus_listening_is_a_query_error_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(QueryError, match=f"Prometheus at {url} did not answer"):
        query_range(url, "up", 100, 110, 1.0, timeout=2)
