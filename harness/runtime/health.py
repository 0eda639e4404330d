"""Readiness waits with diagnostic timeouts: the service, the URL, and its last log lines."""
from __future__ import annotations

import socket
import time
from typing import Callable

import httpx

from ..errors import TargetStartFailed
from ..system import HealthSpec


def wait_healthy(service: str, host: str, port: int, spec: HealthSpec, *, exited: Callable[[], int | None],
                 log_tail: Callable[[], str]) -> float:
    """Block until the service answers its health check; return the seconds it took."""
    started = time.monotonic()
    deadline = started + spec.timeout
    url = f"http://{host}:{port}{spec.path}"
    last_error = "no attempt yet"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            code = exited()
            if code is not None:
                raise TargetStartFailed(
                    f"service '{service}' exited with code {code} before it was healthy; last log lines:\n{indent(log_tail())}",
                    hint="run its command by hand from the manifest directory to see why",
                )
            try:
                if spec.type == "tcp":
                    with socket.create_connection((host, port), timeout=1.0):
                        return time.monotonic() - started
                resp = client.get(url)
                if resp.status_code < 400:
                    return time.monotonic() - started
                last_error = f"HTTP {resp.status_code}"
            except (httpx.HTTPError, OSError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(spec.interval)
    target = f"{host}:{port} (tcp)" if spec.type == "tcp" else url
    raise TargetStartFailed(
        f"service '{service}' was not healthy at {target} within {spec.timeout:g}s (last error: {last_error}); "
        f"last log lines:\n{indent(log_tail())}",
        hint="raise health.timeout in the manifest if the service is just slow to start",
    )


def indent(text: str) -> str:
    return "\n".join("    " + line for line in (text or "(empty log)").splitlines())
