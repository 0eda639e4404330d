"""cut_after_match: the connection lost right after chosen bytes pass (here: PostgreSQL's COMMIT)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pydantic import ValidationError

from harness.faults import ActiveFault, SimpleFaultContext, ToxiproxyClient, fault_type, validate_attributes
from harness.faults.capabilities import has_http_toxics
from harness.net import free_port

EDGE = "app->db"


def test_it_is_an_edge_fault_of_our_server_drawn_per_match_downstream_by_default() -> None:
    kind = fault_type("cut_after_match")
    assert (kind.target_kind, kind.per_request, kind.needs_http_toxics) == ("edge", True, True)
    assert ActiveFault.create("f", "cut_after_match", EDGE, {"match": "COMMIT"}).stream == "downstream"


@pytest.mark.parametrize(("attributes", "message"), [
    ({}, "match"),
    ({"match": ""}, "at least 1 character"),
    ({"match": "x" * 1025}, "at most 1024 characters"),
    ({"match": "COMMIT", "probability": 0.5}, "set the share of requests with the fault's 'toxicity'"),
])
def test_its_attributes_are_checked(attributes: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        validate_attributes("cut_after_match", attributes)


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway cluster (the harness's own launcher) with one table: its host:port."""
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
            conn.execute("CREATE TABLE marks (n int PRIMARY KEY)")
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.fixture
def ours(toxiproxy: ToxiproxyClient) -> ToxiproxyClient:
    version = toxiproxy.version()
    if not has_http_toxics(version):
        message = f"toxiproxy-server {version} is a stock server without cut_after_match: run `make tools`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return toxiproxy


def committed(postgres: str) -> list[int]:
    with psycopg.connect(f"postgresql://postgres@{postgres}/shop", autocommit=True) as conn:
        return [n for (n,) in conn.execute("SELECT n FROM marks ORDER BY n").fetchall()]


@pytest.mark.integration
def test_a_commit_acknowledged_by_postgres_is_durable_and_the_connection_is_gone(
    ours: ToxiproxyClient, postgres: str, tmp_path: Path
) -> None:
    proxy = ours.create_proxy(EDGE, f"127.0.0.1:{free_port()}", postgres)
    ctx = SimpleFaultContext(ours, {EDGE: proxy.name})
    with psycopg.connect(f"postgresql://postgres@{postgres}/shop", autocommit=True) as direct:
        direct.execute("DELETE FROM marks")
    url = f"postgresql://postgres@{proxy.listen}/shop"
    # Before the fault: BEGIN, INSERT, COMMIT on one connection, and it stays usable.
    conn = psycopg.connect(url)
    conn.execute("INSERT INTO marks VALUES (1)")
    conn.commit()
    fault = ActiveFault.create("cut", "cut_after_match", EDGE, {"match": "COMMIT"})
    fault.kind.apply(ctx, fault)
    try:
        conn.execute("INSERT INTO marks VALUES (2)")  # the transaction opens and writes: no match yet
        try:
            conn.commit()  # the server's answer holds "COMMIT": it passes, then the connection closes
        except psycopg.OperationalError:
            pass  # the close may also be seen while the answer is read: the outcome is unknown to us
        with pytest.raises(psycopg.OperationalError):
            conn.execute("INSERT INTO marks VALUES (3)")  # bookkeeping in a second transaction is lost
    finally:
        fault.kind.remove(ctx, fault)
        conn.close()
    assert committed(postgres) == [1, 2], "the commit that was acknowledged is durable; the next write never ran"
    assert fault.kind.traffic(ctx, fault) == {"matches": 1, "cut": 1, "passed": 0}
    # Removed: a new connection commits as before.
    with psycopg.connect(url) as again:
        again.execute("INSERT INTO marks VALUES (4)")
    assert committed(postgres) == [1, 2, 4]


@pytest.mark.integration
def test_without_delivery_the_commit_is_durable_and_the_client_is_never_told(
    ours: ToxiproxyClient, postgres: str
) -> None:
    proxy = ours.create_proxy(EDGE, f"127.0.0.1:{free_port()}", postgres)
    ctx = SimpleFaultContext(ours, {EDGE: proxy.name})
    with psycopg.connect(f"postgresql://postgres@{postgres}/shop", autocommit=True) as direct:
        direct.execute("DELETE FROM marks")
    conn = psycopg.connect(f"postgresql://postgres@{proxy.listen}/shop")
    fault = ActiveFault.create("lost", "cut_after_match", EDGE, {"match": "COMMIT", "deliver": False})
    fault.kind.apply(ctx, fault)
    try:
        conn.execute("INSERT INTO marks VALUES (7)")
        with pytest.raises(psycopg.OperationalError):
            conn.commit()  # the answer holding COMMIT never arrives: the outcome is unknown to the client
    finally:
        fault.kind.remove(ctx, fault)
        conn.close()
    assert committed(postgres) == [7], "the database committed although the client was never told"
    assert fault.kind.traffic(ctx, fault) == {"matches": 1, "cut": 1, "passed": 0}


def test_a_cut_that_saw_no_match_says_so_with_the_match() -> None:
    fault = ActiveFault.create("f", "cut_after_match", EDGE, {"match": "COMMIT"})
    assert fault.kind.idle(fault, {"matches": 0, "cut": 0, "passed": 0}) == \
        "cut_after_match saw no 'COMMIT' on app->db while applied"
    assert fault.kind.idle(fault, {"matches": 3, "cut": 1, "passed": 2}) is None
    http = ActiveFault.create("g", "http_status", EDGE, {"status": 503})
    assert http.kind.idle(http, {"requests": 0}) == "http_status saw no HTTP request on app->db while applied"
    latency = ActiveFault.create("h", "latency", EDGE, {"latency": 10})
    assert latency.kind.idle(latency, {}) is None
