"""Run edge-pattern target services as real processes, without the harness or Toxiproxy.

Faults are made by hand: an upstream URL that points at a listener that never answers
(slow / hung), or at a port where nothing listens (down).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "targets" / "_shared"
EVENT_PREFIX = "@harness-event "


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dead_url() -> str:
    """A URL where nothing listens: connections are refused at once (an edge that is down)."""
    return f"http://127.0.0.1:{free_port()}"


@contextmanager
def hanging_url() -> Iterator[str]:
    """A listener that accepts TCP connections and never answers (an upstream that hangs)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(128)
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


class Proc:
    """One target service; its output is collected line by line."""

    def __init__(self, target: str, script: str, name: str, port: int | None = None, **env: str):
        self.name, self.port = name, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(self.port), "HARNESS_SERVICE": name,
                    "PYTHONPATH": str(SHARED), "PYTHONUNBUFFERED": "1", **env}
        self.proc = subprocess.Popen([sys.executable, script], cwd=ROOT / "targets" / target, env=full_env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_healthy(self, timeout: float = 20.0, path: str = "/health") -> "Proc":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._reader.join(2)
                raise AssertionError(f"{self.name} exited {self.proc.returncode}:\n" + "\n".join(self.lines))
            try:
                r = httpx.get(self.url + path, timeout=1.0)
                if r.status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"{self.name} not healthy after {timeout}s:\n" + "\n".join(self.lines))

    def events(self, type: str, at_least: int = 0, timeout: float = 5.0) -> list[dict]:
        """The events of ``type`` so far; waits up to ``timeout`` for ``at_least`` of them (the
        service writes the line before it answers, but our reader thread may lag on a busy machine)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [json.loads(line[len(EVENT_PREFIX):]) for line in list(self.lines) if line.startswith(EVENT_PREFIX)]
            matching = [e for e in found if e["type"] == type]
            if len(matching) >= at_least or time.monotonic() > deadline:
                return matching
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(5)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


class Procs:
    """Starts services of one target and always stops every one of them."""

    def __init__(self, target: str):
        self.target = target
        self.started: list[Proc] = []

    def start(self, script: str, name: str, port: int | None = None, health: str = "/health", **env: str) -> Proc:
        proc = Proc(self.target, script, name, port, **env)
        self.started.append(proc)
        return proc.wait_healthy(path=health)

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop()


def timed_get(client: httpx.Client, url: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = client.get(url)
    return response, time.monotonic() - started
