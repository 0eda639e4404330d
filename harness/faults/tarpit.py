"""Addresses that go silent the way a dead host's do: a ``connect`` to them hangs.

A killed container's address (or a crashed host's, or one behind a partition) does not refuse
connections: nothing answers the SYN, so a caller waits out its *connect* timeout (or the
kernel's SYN retries, about two minutes). Toxiproxy cannot show that: its listener completes
every handshake itself before it dials the upstream. So while a service is dead in ``blackhole``
mode, each proxy in front of it is disabled (its open connections close, as a dying kernel
closes them) and its address is taken by a *tarpit*: a listening socket whose accept queue
has no room (``listen(0)``, filled by one connection of our own), so the kernel drops every
further SYN. Callers' connects hang; when the service is back the tarpit lets go, the proxy
listens again, and a caller still connecting gets through at its next SYN retransmission
(1, 3, 7 s ...), as with a host that comes back.

Two ways to hold one: ``Tarpit`` in this process (the local runtime: the proxies listen on
this machine's loopback), or ``TarpitClient`` talking to ``python -m harness.faults.tarpit
--control HOST:PORT`` running in the network namespace of a Toxiproxy container (Docker).
"""
from __future__ import annotations

import argparse
import errno
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Protocol

import httpx

from ..errors import HarnessError

__all__ = ["Tarpit", "TarpitClient", "TarpitError", "Tarpits", "serve"]

BIND_RETRY_S = 1.0
"""A port just released by Toxiproxy can take a moment to be free to bind again."""


class TarpitError(HarnessError):
    """An address could not be held (in use, bad address) or the tarpit helper did not answer."""


class Tarpits(Protocol):
    """Hold and release silent addresses; ``close`` releases every one."""

    def hold(self, host: str, port: int) -> None: ...

    def release(self, port: int) -> None: ...

    def close(self) -> None: ...


class Tarpit:
    """Silent addresses held by this process. Thread-safe; idempotent per port."""

    def __init__(self) -> None:
        self._held: dict[int, tuple[socket.socket, socket.socket]] = {}
        self._lock = threading.Lock()

    def hold(self, host: str, port: int) -> None:
        with self._lock:
            if port in self._held:
                return
            listener = _bind(host, port)
            try:
                listener.listen(0)  # an accept queue of one: our own connection fills it
                plug = socket.create_connection((_loopback_for(host), port), timeout=2.0)
            except OSError as exc:
                listener.close()
                raise TarpitError(f"could not fill the accept queue of {host}:{port}: {exc}") from exc
            self._held[port] = (listener, plug)

    def release(self, port: int) -> None:
        with self._lock:
            pair = self._held.pop(port, None)
        if pair is not None:
            for sock in pair:
                sock.close()

    def held(self) -> list[int]:
        with self._lock:
            return sorted(self._held)

    def close(self) -> None:
        for port in self.held():
            self.release(port)


def _bind(host: str, port: int) -> socket.socket:
    deadline = time.monotonic() + BIND_RETRY_S
    while True:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # SO_REUSEADDR: the proxy's closed connections leave TIME_WAIT entries on this port.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((host, port))
            return listener
        except OSError as exc:
            listener.close()
            if exc.errno != errno.EADDRINUSE or time.monotonic() >= deadline:
                raise TarpitError(f"could not hold {host}:{port}: {exc.strerror or exc}") from exc
            time.sleep(0.02)


def _loopback_for(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else host


# -- the helper in a container's network namespace, and its client -----------------------------

class TarpitClient:
    """A tarpit helper's control API (``serve``), with the ``Tarpits`` interface."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, trust_env=False)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self._http.get("/health").status_code == 200:
                    return
            except httpx.HTTPError as exc:
                if time.monotonic() >= deadline:
                    raise TarpitError(f"the tarpit helper at {self.base_url} did not answer within {timeout:g}s: "
                                      f"{type(exc).__name__}: {exc}") from exc
            time.sleep(0.05)

    def hold(self, host: str, port: int) -> None:
        self._post("/hold", {"host": host, "port": port})

    def release(self, port: int) -> None:
        self._post("/release", {"port": port})

    def close(self) -> None:
        try:
            self._post("/release", {"port": None})
        except TarpitError:
            pass  # its container is removed with the run anyway
        self._http.close()

    def _post(self, path: str, body: dict[str, object]) -> None:
        try:
            resp = self._http.post(path, json=body)
        except httpx.HTTPError as exc:
            raise TarpitError(f"tarpit helper {self.base_url}{path}: {type(exc).__name__}: {exc}") from exc
        if resp.status_code != 200:
            raise TarpitError(f"tarpit helper {self.base_url}{path} answered {resp.status_code}: {resp.text.strip()}")


def serve(host: str, port: int) -> None:
    """The helper: hold and release addresses on request, until killed."""
    tarpit = Tarpit()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer(200, {"held": tarpit.held()} if self.path == "/health" else None)

        def do_POST(self) -> None:
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if self.path == "/hold":
                    tarpit.hold(str(body["host"]), int(body["port"]))
                elif self.path == "/release" and body.get("port") is None:
                    tarpit.close()
                elif self.path == "/release":
                    tarpit.release(int(body["port"]))
                else:
                    self._answer(404, None)
                    return
            except (TarpitError, KeyError, ValueError, TypeError) as exc:
                self._answer(409, {"error": str(exc)})
                return
            self._answer(200, {"held": tarpit.held()})

        def _answer(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            print(f"tarpit: {self.command} {self.path} {args[1] if len(args) > 1 else ''}", flush=True)

    server = HTTPServer((host, port), Handler)
    print(f"tarpit: control on {host}:{port}", flush=True)
    server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--control", default="0.0.0.0:8475", help="HOST:PORT of the control API")
    args = parser.parse_args(argv)
    host, _, port = args.control.rpartition(":")
    serve(host or "0.0.0.0", int(port))


if __name__ == "__main__":
    main()
