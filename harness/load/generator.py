"""What the runner needs from a load generator: the ``LoadGenerator`` protocol.

``LoadProcess`` (Locust in a subprocess) is the one the harness ships; the runner's tests pass a
fake that writes requests in the same format, so the story of a run is tested without Locust.
A load generator stores its requests itself in ``out_dir`` (see ``harness.data.chunks``) and
hands the runner only its own records (``load_started``, ``load_stopped``) through ``drain``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

__all__ = ["LoadFactory", "LoadGenerator"]


class LoadGenerator(Protocol):
    out_dir: Path
    """The run's ``requests/`` folder, where this generator's request files are."""

    def start(self) -> None: ...

    def wait_started(self, timeout: float) -> float:
        """Block until load has started; its start time (epoch seconds)."""
        ...

    def drain(self) -> list[dict[str, Any]]:
        """Its own records since the last call (never the requests). Never blocks."""
        ...

    def poll(self) -> int | None:
        """Its exit code once load has ended, else None."""
        ...

    def stop(self, timeout: float = ...) -> int | None:
        """End load now (idempotent); the exit code."""
        ...

    @property
    def requests(self) -> int:
        """Requests recorded so far."""
        ...

    @property
    def failures(self) -> int:
        """Of those, the ones whose outcome is not ok."""
        ...

    def log_tail(self, n: int = ...) -> str:
        """The end of its log, for an error message."""
        ...


class LoadFactory(Protocol):
    """Makes the run's load generator; ``LoadProcess`` itself is one."""

    def __call__(self, *, locustfile: Path, host: str, users: int, spawn_rate: float, duration: float,
                 user_classes: list[str], seed: int, out_dir: Path, log_path: Path, env: dict[str, str] | None = ...,
                 record_bodies: int = ...) -> LoadGenerator: ...
