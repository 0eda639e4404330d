"""Loopback port helpers for the processes the harness starts (Toxiproxy, services, Locust)."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import socket
import tempfile
from pathlib import Path
from typing import Iterator
import time

from .errors import EnvironmentProblem

__all__ = ["free_port", "port_is_open", "wait_for_port"]


_PICKER = random.Random()  # its own generator: an experiment's seed must not make runs pick the same ports


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free on ``host`` a moment ago, for a server we are about to start.

    Chosen below the kernel's ephemeral range (``ip_local_port_range``): ports in that range
    are handed out to outgoing connections (Locust's, the services' own, Toxiproxy's), and one
    of them could take the port between this call and our child binding it. Random, so
    parallel runs rarely collide; another process can still take it, so callers that start a
    server on it must report a bind failure clearly rather than assume it cannot happen.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    low = _ephemeral_low()
    if low > _FLOOR + 1000:
        with _claims() as claimed:
            for _ in range(200):
                port = _PICKER.randrange(_FLOOR, low)
                if port not in claimed and _bindable(family, host, port):
                    claimed[port] = os.getpid()
                    return port
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        chosen: int = sock.getsockname()[1]
        return chosen


_CLAIMS_FILE = Path(tempfile.gettempdir()) / "harness-port-claims.json"


@contextlib.contextmanager
def _claims() -> Iterator[dict[int, int]]:
    """Ports handed out by live harness processes on this machine, under a file lock.

    Two runs side by side (parallel tests, two terminals) would otherwise both find a port
    free before either's service bound it, and one run's health check would be answered by
    the other run's service. A claim lasts as long as the process that made it.
    """
    try:
        f = open(_CLAIMS_FILE, "a+", encoding="utf-8")
    except OSError:  # another user's file: fall back to random picks, still below the ephemeral range
        yield {}
        return
    with f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            f.seek(0)
            try:
                raw = json.loads(f.read() or "{}")
            except ValueError:
                raw = {}
            claimed = {int(port): int(pid) for port, pid in raw.items() if _pid_alive(int(pid))}
            yield claimed
            f.seek(0)
            f.truncate()
            f.write(json.dumps({str(k): v for k, v in claimed.items()}))
            f.flush()
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_FLOOR = 20000


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _bindable(family: int, host: str, port: int) -> bool:
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_is_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if something accepts TCP connections on ``host:port`` now."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, timeout: float = 10.0, interval: float = 0.05) -> None:
    """Block until something accepts TCP connections on ``host:port``.

    Raises EnvironmentProblem naming the address, the time waited and the last refusal, so a
    caller can add what it knows (a log file, a command line) and re-raise.
    """
    deadline = time.monotonic() + timeout
    last_error: OSError | None = None
    while True:
        try:
            with socket.create_connection((host, port), timeout=min(1.0, timeout)):
                return
        except OSError as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            raise EnvironmentProblem(
                f"nothing accepted connections on {host}:{port} within {timeout:g}s "
                f"(last error: {last_error})",
                hint="check that the process meant to listen there started, and its log",
            ) from last_error
        time.sleep(interval)
