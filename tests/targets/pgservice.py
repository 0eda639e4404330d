"""Run a throwaway PostgreSQL and reference-target services as plain processes (no harness)."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx

from harness.net import free_port

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "targets" / "_shared"


@contextlib.contextmanager
def postgres(databases: str, workdir: Path) -> Iterator[str]:
    """Yield ``postgresql://postgres@127.0.0.1:PORT``; the cluster is removed afterwards."""
    port = free_port("127.0.0.1")
    log = (workdir / "postgres.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "harness.infra.postgres", "--databases", databases,
                             "--data-key", str(workdir / "pg")], env={**os.environ, "HOST": "127.0.0.1", "PORT": str(port)},
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"postgres launcher exited {proc.returncode}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "postgres never listened"
                time.sleep(0.1)
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


@contextlib.contextmanager
def service(target: str, script: str, workdir: Path, **env: str) -> Iterator[httpx.Client]:
    """Start ``targets/<target>/<script>.py`` and yield a client for it once /health answers."""
    port = free_port("127.0.0.1")
    log = (workdir / f"{script}.log").open("ab")
    proc = subprocess.Popen([sys.executable, f"{script}.py"], cwd=ROOT / "targets" / target,
                            env={**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "PYTHONPATH": str(SHARED), **env},
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as client:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, f"{script} exited {proc.returncode}: {(workdir / f'{script}.log').read_text()[-2000:]}"
                try:
                    if client.get("/health").json().get("service") == script:
                        break
                except (httpx.HTTPError, ValueError):
                    pass
                assert time.monotonic() < deadline, f"{script} never became healthy"
                time.sleep(0.1)
            yield client
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        log.close()
