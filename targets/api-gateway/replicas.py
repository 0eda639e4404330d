"""Health-aware replica selection for the gateway: which replicas to try, in which order.

- Round robin over the healthy replicas of a backend; the next healthy replica is the retry.
- Passive detection: ``failure_threshold`` consecutive failed attempts (connection error,
  timeout, 5xx) mark a replica down; a success resets the count.
- A down replica gets no traffic. The gateway's prober re-checks it later and calls
  ``mark_up`` when it answers; a success from it (see below) also brings it back.
- When every replica is down, every one is tried anyway: the detector may be wrong, and
  refusing outright helps no one.
- ``failover=False`` is the "no-failover" defect: plain round robin over every replica, one
  attempt per request, no health tracking, so a dead replica keeps getting its share.

All bookkeeping runs between awaits on one event loop, so no lock is needed.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable

Listener = Callable[["Replica", str, str], None]  # (replica, state, reason)


@dataclass
class Replica:
    name: str
    url: str
    healthy: bool = True
    failures: int = 0  # consecutive failed attempts


class ReplicaPool:
    def __init__(self, backend: str, replicas: list[Replica], *, failure_threshold: int = 2, failover: bool = True):
        if not replicas:
            raise ValueError(f"backend '{backend}' has no replicas")
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        self.backend = backend
        self.replicas = replicas
        self.failure_threshold = failure_threshold
        self.failover = failover
        self._turn = itertools.count()
        self._listeners: list[Listener] = []

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def attempt_order(self) -> list[Replica]:
        """The replicas one request may try, first choice first."""
        start = next(self._turn) % len(self.replicas)
        rotated = self.replicas[start:] + self.replicas[:start]
        if not self.failover:
            return rotated[:1]
        return [r for r in rotated if r.healthy] or rotated

    def record(self, replica: Replica, ok: bool, reason: str = "") -> None:
        if not self.failover:
            return
        if ok:
            replica.failures = 0
            if not replica.healthy:
                self._set(replica, True, "answered a request")
            return
        replica.failures += 1
        if replica.healthy and replica.failures >= self.failure_threshold:
            n = replica.failures
            self._set(replica, False, reason or f"{n} failed attempt{'s' if n != 1 else ''} in a row")

    def mark_up(self, replica: Replica, reason: str = "health probe answered") -> None:
        replica.failures = 0
        if not replica.healthy:
            self._set(replica, True, reason)

    def down(self) -> list[Replica]:
        return [r for r in self.replicas if not r.healthy]

    def _set(self, replica: Replica, healthy: bool, reason: str) -> None:
        replica.healthy = healthy
        for listener in self._listeners:
            listener(replica, "up" if healthy else "down", reason)


def parse_routes(spec: str, url_of: Callable[[str], str | None]) -> dict[str, list[Replica]]:
    """``"a=backend-a1,backend-a2;b=backend-b1"`` -> {backend: [Replica]}; each URL from ``url_of(name)``."""
    routes: dict[str, list[Replica]] = {}
    for chunk in filter(None, (c.strip() for c in spec.split(";"))):
        backend, sep, names = chunk.partition("=")
        replicas = [n.strip() for n in names.split(",") if n.strip()]
        if not sep or not backend.strip() or not replicas:
            raise ValueError(f"ROUTES: '{chunk}' is not 'backend=replica,replica'")
        out = []
        for name in replicas:
            url = url_of(name)
            if not url:
                raise ValueError(f"ROUTES: replica '{name}' has no URL (set {env_name(name)})")
            out.append(Replica(name, url.rstrip("/")))
        routes[backend.strip()] = out
    if not routes:
        raise ValueError("ROUTES is empty: expected 'backend=replica,replica;...'")
    return routes


def env_name(replica: str) -> str:
    """The environment variable that holds a replica's URL: backend-a1 -> BACKEND_A1_URL."""
    return replica.upper().replace("-", "_") + "_URL"
