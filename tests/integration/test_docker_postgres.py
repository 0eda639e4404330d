"""harness.infra.postgres in a container: reachable through its edge, durable across a container kill."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from dockerkit import assert_nothing_left, docker_ready  # noqa: F401  (fixture)
from harness.events import RunEvents
from harness.journal import JournalWriter, read_journal
from harness.runtime import DeployRequest, runtimes
from harness.system import load_system

pytestmark = [pytest.mark.integration, pytest.mark.docker]

SYSTEM = Path(__file__).parent / "docker_pg" / "system.yaml"


def connect(url: str, timeout: float = 30) -> psycopg.Connection[Any]:
    """After a crash the server listens while it recovers; clients retry, as real ones must."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def notes(url: str) -> int:
    resp = httpx.get(url + "/notes", timeout=15)
    assert resp.status_code == 200, resp.text
    return int(resp.json()["notes"])


def test_a_postgres_service_runs_in_a_container_and_its_data_survives_a_kill(tmp_path: Path, docker_ready: Any) -> None:
    journal = JournalWriter(tmp_path / "journal.jsonl")
    deployment = runtimes.get("docker")(DeployRequest(system=load_system(SYSTEM), run_dir=tmp_path, journal=journal,
                                                      events=RunEvents()))
    try:
        db_url = deployment.service_url("db").replace("http://", "postgresql://postgres@") + "/notes"
        with connect(db_url) as conn:
            conn.execute("CREATE TABLE notes (body text)")
            conn.execute("INSERT INTO notes VALUES ('one'), ('two')")
        assert notes(deployment.service_url("app")) == 2  # app -> Toxiproxy -> db, inside the network

        deployment.service_action("db", "kill")
        with pytest.raises(httpx.HTTPError):
            httpx.get(deployment.service_url("app") + "/notes", timeout=15).raise_for_status()
        deployment.service_action("db", "start")
        with connect(db_url) as conn:
            conn.execute("INSERT INTO notes VALUES ('three')")
        assert notes(deployment.service_url("app")) == 3  # what was committed before the crash is still there
    finally:
        deployment.stop()
        journal.close()
    history = read_journal(tmp_path / "journal.jsonl")
    assert [r["action"] for r in history.of_kind("service_action")] == ["kill", "start"]
    log = (tmp_path / "logs" / "db.log").read_text()
    assert "(new), listening on 0.0.0.0:8000" in log and "(reused), listening on 0.0.0.0:8000" in log, log
    assert_nothing_left(tmp_path)
