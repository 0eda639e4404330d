"""A small app the harness starts: GET /hit increments a counter in Redis (which it does not start).

It reads its Redis address from CACHE_URL (redis://HOST:PORT/0), speaks RESP over a plain socket
(no client library), and answers /health without touching Redis.
"""
from __future__ import annotations

import http.server
import os
import socket
import threading
from urllib.parse import urlsplit

_local = threading.local()


def _redis() -> socket.socket:
    sock = getattr(_local, "sock", None)
    if sock is None:
        url = urlsplit(os.environ["CACHE_URL"])
        sock = socket.create_connection((url.hostname, url.port), timeout=2.0)
        _local.sock = sock
    return sock


def incr(key: str) -> int:
    try:
        sock = _redis()
        sock.sendall(f"*2\r\n$4\r\nINCR\r\n${len(key)}\r\n{key}\r\n".encode())
        reply = sock.recv(64)
    except OSError:
        _local.sock = None
        raise
    if not reply.startswith(b":"):
        raise OSError(f"unexpected reply {reply!r}")
    return int(reply[1:].split(b"\r\n")[0])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(200, b"ok")
            return
        try:
            self._send(200, str(incr("hits")).encode())
        except OSError as exc:
            self._send(503, str(exc).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    server = http.server.ThreadingHTTPServer((os.environ["HOST"], int(os.environ["PORT"])), Handler)
    server.daemon_threads = True
    server.serve_forever()
