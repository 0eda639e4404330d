"""Readiness of a container's service, seen from the host through its published port.

HTTP health checks work as for a local process (``health.wait_healthy``). A TCP check
needs more: Docker's userland port proxy accepts a connection on the published port even
while nothing listens in the container, then closes it at once. So a TCP service counts as
ready only when the connection stays open (a server waiting for its client, like
PostgreSQL) or the far end greets us; an immediate close means "not yet".
"""
from __future__ import annotations

import socket
import time
from typing import Any, Callable

from ...errors import TargetStartFailed
from ...system import HealthSpec
from ..health import indent, wait_healthy

HOST = "127.0.0.1"
HOLD_S = 0.3  # how long an open connection must stay quiet to count as a listening server


def wait_ready(service: str, port: int, spec: HealthSpec, *, exited: Callable[[], int | None],
               log_tail: Callable[[], str]) -> float:
    """Block until the service on ``127.0.0.1:port`` is ready; return the seconds it took."""
    if spec.type != "tcp":
        return wait_healthy(service, HOST, port, spec, exited=exited, log_tail=log_tail)
    started = time.monotonic()
    deadline = started + spec.timeout
    last_error = "no attempt yet"
    while time.monotonic() < deadline:
        code = exited()
        if code is not None:
            raise TargetStartFailed(
                f"service '{service}' (container) exited with code {code} before it was ready; last log lines:\n"
                f"{indent(log_tail())}",
                hint="see logs/<service>.log in the run folder; `docker logs` is gone with the container")
        verdict = probe_tcp(HOST, port)
        if verdict is None:
            return time.monotonic() - started
        last_error = verdict
        time.sleep(spec.interval)
    raise TargetStartFailed(
        f"service '{service}' was not ready at {HOST}:{port} (tcp, published) within {spec.timeout:g}s "
        f"(last: {last_error}); last log lines:\n{indent(log_tail())}",
        hint="raise health.timeout in the manifest if the service is just slow to start")


def probe_tcp(host: str, port: int) -> str | None:
    """None if a server holds the connection (or greets); else why not."""
    try:
        with socket.create_connection((host, port), timeout=1.0) as sock:
            sock.settimeout(HOLD_S)
            try:
                data = sock.recv(1)
            except socket.timeout:
                return None
            except OSError as exc:  # reset by the port proxy
                return f"{type(exc).__name__}: {exc}"
            return None if data else "connection closed at once (nothing listens in the container yet)"
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


def wait_container_healthy(service: str, container: Any, spec: HealthSpec, *, exited: Callable[[], int | None],
                           log_tail: Callable[[], str]) -> float:
    """Block until Docker reports the container's own HEALTHCHECK as healthy; return the seconds it took."""
    started = time.monotonic()
    deadline = started + spec.timeout
    status = "no status yet"
    while time.monotonic() < deadline:
        code = exited()
        if code is not None:
            raise TargetStartFailed(
                f"service '{service}' (container) exited with code {code} before it was healthy; last log lines:\n"
                f"{indent(log_tail())}", hint="see logs/<service>.log in the run folder")
        container.reload()
        health = (container.attrs.get("State") or {}).get("Health") or {}
        status = str(health.get("Status") or "the image has no HEALTHCHECK")
        if status == "healthy":
            return time.monotonic() - started
        time.sleep(spec.interval)
    raise TargetStartFailed(
        f"service '{service}' was not healthy within {spec.timeout:g}s (Docker says: {status}); last log lines:\n"
        f"{indent(log_tail())}", hint="raise health.timeout in the manifest, or check the healthcheck's test")
