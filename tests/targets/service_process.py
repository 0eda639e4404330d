"""Target services as real subprocesses for the target tests (no harness, no Toxiproxy).

``ServiceGroup(target_dir)`` starts scripts of one target directory with HOST/PORT and the
shared kit on PYTHONPATH, waits for their health path, and stops every one of them.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

SHARED = Path(__file__).resolve().parents[2] / "targets" / "_shared"
EVENT_PREFIX = "@harness-event "


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServiceProcess:
    def __init__(self, directory: Path, script: str, port: int, env: dict[str, str]):
        self.name, self.port, self.url = script, port, f"http://127.0.0.1:{port}"
        full_env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "PYTHONPATH": str(SHARED),
                    "PYTHONUNBUFFERED": "1", **env}
        self.proc = subprocess.Popen([sys.executable, f"{script}.py"], cwd=directory, env=full_env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_healthy(self, path: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._reader.join(2)
                pytest.fail(f"{self.name} exited {self.proc.returncode}:\n" + "\n".join(self.lines))
            try:
                r = httpx.get(self.url + path, timeout=1.0)
                # The service name too: the free port may have been taken by someone else.
                if r.status_code == 200 and r.json().get("service") == self.name:
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.05)
        pytest.fail(f"{self.name} not healthy after {timeout}s:\n" + "\n".join(self.lines))

    def events(self, type: str) -> list[dict]:
        found = [json.loads(line[len(EVENT_PREFIX):]) for line in list(self.lines) if line.startswith(EVENT_PREFIX)]
        return [e for e in found if e["type"] == type]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class ServiceGroup:
    """Starts services of one target and always stops every one of them (use ``with``)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.started: list[ServiceProcess] = []

    def start(self, script: str, health: str = "/health", port: int | None = None, **env: str) -> ServiceProcess:
        svc = ServiceProcess(self.directory, script, port or free_port(), env)
        self.started.append(svc)
        svc.wait_healthy(health)
        return svc

    def __enter__(self) -> ServiceGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        for svc in reversed(self.started):
            svc.stop()
