"""The throwaway PostgreSQL launcher, for real: databases exist on first answer, data survives a
SIGKILL and a restart, and a graceful stop removes everything."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from harness.infra.postgres import data_dir_for
from harness.net import free_port

pytestmark = pytest.mark.integration


def start(port: int, key: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port)}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "harness.infra.postgres", "--databases", "alpha,beta",
                                 "--data-key", key], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def connect(url: str, timeout: float = 30) -> psycopg.Connection:
    """After a crash the server listens while it recovers; clients retry, as real ones must."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return psycopg.connect(url, autocommit=True)
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"launcher exited with {proc.returncode}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("postgres never listened")


def test_databases_exist_when_the_port_answers_and_survive_a_crash(tmp_path: Path) -> None:
    port = free_port("127.0.0.1")
    key = str(tmp_path / "db")
    proc = start(port, key, tmp_path / "pg.log")
    try:
        wait_port(port, proc)
        url = f"postgresql://postgres@127.0.0.1:{port}"
        with connect(f"{url}/alpha") as conn:
            conn.execute("CREATE TABLE t (v int)")
            conn.execute("INSERT INTO t VALUES (42)")
        with psycopg.connect(f"{url}/beta") as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        os.killpg(proc.pid, signal.SIGKILL)  # a crash of the whole database
        proc.wait(timeout=10)
        assert data_dir_for(key).exists()
        proc = start(port, key, tmp_path / "pg.log")
        wait_port(port, proc)
        with connect(f"{url}/alpha") as conn:
            assert conn.execute("SELECT v FROM t").fetchone() == (42,)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    assert not data_dir_for(key).exists(), "a graceful stop leaves no data directory behind"
    leftover = subprocess.run(["pgrep", "-f", f"-p {port}"], capture_output=True, text=True).stdout
    assert not leftover.strip()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_during_set_up_leaves_no_data_directory(tmp_path: Path, sig: signal.Signals) -> None:
    port = free_port("127.0.0.1")
    key = str(tmp_path / f"db-{sig.name}")
    state = tmp_path / "run-state.jsonl"
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "HARNESS_RUN_STATE": str(state)}
    proc = subprocess.Popen([sys.executable, "-m", "harness.infra.postgres", "--databases", "alpha,beta",
                             "--data-key", key], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 30
    while not data_dir_for(key).exists():  # initdb is at work
        assert time.monotonic() < deadline and proc.poll() is None, "the cluster was never started"
        time.sleep(0.01)
    os.killpg(proc.pid, sig)  # as the harness stops a service: the whole group
    assert proc.wait(timeout=30) == 0
    assert not data_dir_for(key).exists()
    assert str(data_dir_for(key)) in state.read_text(), "recorded in the run's state file before it was made"
