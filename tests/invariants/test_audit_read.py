"""Reading audits from real services: SQL against a real PostgreSQL, JSON from a real HTTP server."""
from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from harness.invariants.quiescence import audit_after_quiescence
from harness.invariants.read import AuditError, AuditReader
from harness.invariants.spec import AuditSpec, QuiescenceSpec
from harness.net import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway cluster (the harness's own launcher) with one table: its base URL."""
    port = free_port("127.0.0.1")
    tmp = tmp_path_factory.mktemp("pg")
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port)}
    with (tmp / "pg.log").open("ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "harness.infra.postgres", "--databases", "shop",
                                 "--data-key", str(tmp / "db")], env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:  # the port opens before the server accepts sessions ("starting up")
            assert proc.poll() is None, (tmp / "pg.log").read_text()
            try:
                conn = psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/shop", autocommit=True)
                break
            except psycopg.OperationalError:
                assert time.monotonic() < deadline, "postgres never accepted a session"
                time.sleep(0.1)
        with conn:
            conn.execute("CREATE TABLE accounts (customer text PRIMARY KEY, balance numeric NOT NULL, opened timestamptz)")
            conn.execute("INSERT INTO accounts VALUES ('c1', 100, now()), ('c2', 250.5, NULL)")
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


class _Audit(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body = (200, {"stock": [{"sku": "a", "available": 3}]}) if self.path == "/audit" else (500, {"x": 1})
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def service() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Audit)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def reader(postgres: str, service: str, **audits: dict) -> AuditReader:
    urls = {"db": postgres, "app": service}
    return AuditReader({k: AuditSpec.model_validate(v) for k, v in audits.items()}, urls.__getitem__)


def test_sql_rows_come_back_as_json_values(postgres: str, service: str) -> None:
    r = reader(postgres, service, accounts={"sql": {"service": "db", "database": "shop",
                                                    "query": "SELECT customer, balance FROM accounts ORDER BY customer"}})
    try:
        assert r.read("accounts") == [{"customer": "c1", "balance": 100}, {"customer": "c2", "balance": 250.5}]
    finally:
        r.close()


def test_a_row_or_a_value_shape_needs_exactly_one(postgres: str, service: str) -> None:
    r = reader(postgres, service,
               total={"sql": {"service": "db", "database": "shop", "query": "SELECT sum(balance) AS s FROM accounts",
                              "shape": "value"}},
               many={"sql": {"service": "db", "database": "shop", "query": "SELECT * FROM accounts", "shape": "row"}})
    try:
        assert r.read("total") == 350.5
        with pytest.raises(AuditError, match="shape 'row' needs exactly one row; the query returned 2"):
            r.read("many")
    finally:
        r.close()


def test_an_audit_cannot_write_whatever_its_query_says(postgres: str, service: str) -> None:
    r = reader(postgres, service, evil={"sql": {"service": "db", "database": "shop",
                                                "query": "DELETE FROM accounts RETURNING customer"}})
    try:
        with pytest.raises(AuditError, match="ReadOnlySqlTransaction"):
            r.read("evil")
    finally:
        r.close()
    with psycopg.connect(postgres.replace("http", "postgresql", 1).replace("//", "//postgres@", 1) + "/shop") as conn:
        assert conn.execute("SELECT count(*) FROM accounts").fetchone() == (2,)


def test_an_http_audit_reads_a_pointer_and_reports_a_bad_answer(postgres: str, service: str) -> None:
    r = reader(postgres, service, stock={"http": {"service": "app", "path": "/audit", "pointer": "/stock"}},
               broken={"http": {"service": "app", "path": "/broken"}})
    try:
        assert r.read("stock") == [{"sku": "a", "available": 3}]
        with pytest.raises(AuditError, match="/broken answered 500"):
            r.read("broken")
    finally:
        r.close()


def test_a_database_that_is_not_there_is_an_audit_error(service: str, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port('127.0.0.1')}"
    r = reader(closed, service, gone={"sql": {"service": "db", "query": "SELECT 1", "timeout": "1s"}})
    try:
        with pytest.raises(AuditError, match="OperationalError"):
            r.read("gone")
    finally:
        r.close()


def test_after_quiescence_each_audit_lands_in_one_record(postgres: str, service: str) -> None:
    audits = {"accounts": AuditSpec.model_validate({"sql": {"service": "db", "database": "shop",
                                                            "query": "SELECT customer FROM accounts"}}),
              "stock": AuditSpec.model_validate({"http": {"service": "app", "path": "/audit"}})}
    urls = {"db": postgres, "app": service}
    records = audit_after_quiescence(audits, ["accounts", "stock"], QuiescenceSpec(quiet=0.3, timeout=5, interval=0.1),
                                     urls.__getitem__)
    assert [r["kind"] for r in records] == ["quiescence", "invariant_audit", "invariant_audit"]
    assert records[0]["settled"] is True
    assert {r["audit"]: r["source"] for r in records[1:]} == {"accounts": "sql", "stock": "http"}
    assert records[2]["value"] == {"stock": [{"sku": "a", "available": 3}]}


def test_a_sql_audit_without_the_driver_installed_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # what `import psycopg` meets without harness[sql]
    reader = AuditReader({"a": AuditSpec.model_validate({"sql": {"service": "db", "query": "select 1"}})},
                         lambda _: "postgresql://127.0.0.1:1")
    with pytest.raises(AuditError, match=r'SQL audits need the psycopg driver, which is not installed: pip install "harness\[sql\]"'):
        reader.read("a")
