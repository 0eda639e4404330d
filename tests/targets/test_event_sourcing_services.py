"""The event-sourcing services as real processes on a real PostgreSQL: idempotent commands,
optimistic decisions, and a projection that a rebuild from the log reproduces."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from pgservice import postgres, service

pytestmark = pytest.mark.integration


def test_a_command_retried_with_its_key_is_answered_from_the_log(tmp_path: Path) -> None:
    with postgres("eventstore", tmp_path) as db, \
            service("event-sourcing", "commands", tmp_path, DATABASE_URL=f"{db}/eventstore") as commands:
        first = commands.post("/accounts/1/deposits", json={"command_id": "k1", "amount_cents": 500}).json()
        again = commands.post("/accounts/1/deposits", json={"command_id": "k1", "amount_cents": 500}).json()
        assert again["event_id"] == first["event_id"] and again["replayed"] is True
        refused = commands.post("/accounts/1/withdrawals", json={"command_id": "k2", "amount_cents": 501})
        assert refused.status_code == 422 and refused.json()["balance_cents"] == 500
        assert commands.post("/accounts/1/withdrawals", json={"command_id": "k3", "amount_cents": 200}).json()["version"] == 2
        assert commands.get("/accounts/1").json() == {"stream_id": "acct-1", "version": 2, "balance_cents": 300}
        assert [e["command_id"] for e in commands.get("/audit").json()["events"]] == ["k1", "k3"]


def test_without_idempotency_the_same_command_appends_twice(tmp_path: Path) -> None:
    with postgres("eventstore", tmp_path) as db, service("event-sourcing", "commands", tmp_path,
                                                         DATABASE_URL=f"{db}/eventstore", IDEMPOTENT_APPEND="false") as commands:
        for _ in range(2):
            commands.post("/accounts/1/deposits", json={"command_id": "k1", "amount_cents": 500})
        assert [e["version"] for e in commands.get("/audit").json()["events"]] == [1, 2]


def test_the_projection_follows_the_log_and_a_rebuild_reproduces_it(tmp_path: Path) -> None:
    with postgres("eventstore,readmodel", tmp_path) as db, \
            service("event-sourcing", "commands", tmp_path, DATABASE_URL=f"{db}/eventstore") as commands, \
            service("event-sourcing", "projector", tmp_path, EVENTSTORE_URL=f"{db}/eventstore",
                    READMODEL_URL=f"{db}/readmodel") as projector:
        for i in range(20):
            commands.post(f"/accounts/{i % 3}/deposits", json={"command_id": f"k{i}", "amount_cents": 100 + i})
        live = projector.get("/audit").json()
        assert live["caught_up"] and live["checkpoint"] == 20
        assert sum(a["balance"] for a in live["accounts"]) == sum(100 + i for i in range(20))
        assert projector.post("/rebuild").json() == {"rebuilding": True}
        deadline = time.monotonic() + 10
        while projector.get("/accounts/0").status_code == 404 and time.monotonic() < deadline:
            time.sleep(0.1)
        rebuilt = projector.get("/audit").json()
        assert rebuilt["accounts"] == live["accounts"] and rebuilt["checkpoint"] == 20


def test_a_batch_retried_after_its_commit_answer_was_lost_is_not_applied_twice(tmp_path: Path, monkeypatch) -> None:
    """The lost-acknowledgement case: the batch committed, the projector did not hear it and retries."""
    import asyncio
    import importlib.util
    import sys

    import psycopg

    with postgres("eventstore,readmodel", tmp_path) as db:
        monkeypatch.setenv("EVENTSTORE_URL", f"{db}/eventstore")
        monkeypatch.setenv("READMODEL_URL", f"{db}/readmodel")
        target = Path(__file__).resolve().parents[2] / "targets" / "event-sourcing"
        monkeypatch.syspath_prepend(str(target.parent / "_shared"))
        monkeypatch.syspath_prepend(str(target))
        spec = importlib.util.spec_from_file_location("es_projector_under_test", target / "projector.py")
        assert spec is not None and spec.loader is not None
        projector = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, spec.name, projector)
        spec.loader.exec_module(projector)
        events = [{"seq": n, "stream_id": "acct-1", "version": n, "type": "deposited", "amount": 100} for n in (1, 2, 3)]

        async def scenario() -> tuple[int, int, int]:
            async with await psycopg.AsyncConnection.connect(f"{db}/readmodel", autocommit=True) as conn:
                await conn.execute(projector.SCHEMA)
                first = await projector.apply_batch(conn, events[:2])
                # The answer to that commit was lost: the in-memory position never moved, so the
                # retry carries the same events again, plus one more.
                again = await projector.apply_batch(conn, events)
                row = await (await conn.execute("SELECT balance, events FROM balances")).fetchone()
                assert row is not None
                return first, again, row[0] * 1000 + row[1]

        first, again, balance_and_count = asyncio.run(scenario())
        assert (first, again) == (2, 3)
        assert balance_and_count == 300 * 1000 + 3  # each deposit once
