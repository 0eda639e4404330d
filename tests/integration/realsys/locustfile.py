"""Load for the counter app over HTTP, and for Redis itself over RESP (its URL is redis://...)."""
from __future__ import annotations

import os
import socket
import time
from urllib.parse import urlsplit

from locust import HttpUser, User, constant, task


class AppUser(HttpUser):
    wait_time = constant(0.05)

    @task
    def hit(self) -> None:
        self.client.get("/hit", name="GET /hit")


class CacheUser(User):
    """PING through HARNESS_URL_CACHE: the load path to a service that does not speak HTTP."""

    wait_time = constant(0.05)

    def on_start(self) -> None:
        url = urlsplit(os.environ["HARNESS_URL_CACHE"])
        assert url.scheme == "redis", url
        self.sock = socket.create_connection((url.hostname, url.port), timeout=2.0)

    @task
    def ping(self) -> None:
        started = time.perf_counter()
        error: Exception | None = None
        try:
            self.sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            if not self.sock.recv(16).startswith(b"+PONG"):
                error = OSError("no PONG")
        except OSError as exc:
            error = exc
        self.environment.events.request.fire(request_type="RESP", name="PING", response_time=(time.perf_counter() - started) * 1000,
                                             response_length=7, exception=error, context={})
