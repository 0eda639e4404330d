"""The orchestrator's durable saga state: one row per saga and a step log, in its own database.

Everything the orchestrator decides is written here *before* it acts on it, so a restarted
orchestrator resumes every unfinished saga from its log instead of forgetting it.

    sagas     id, state (running | compensating | completed | compensated | compensation_failed),
              request (the order), reason (why it compensated)
    saga_log  one row per step outcome, in the order they happened:
              (step, phase forward|compensate, outcome, attempts)
              forward outcomes: ok | rejected (definitive, nothing happened) | unknown (may have happened)
              compensate outcomes: ok | abandoned (only with the no-compensation-retry defect)

A log row is unique per (saga, step, phase): writing it again after a lost acknowledgement
changes nothing, so every write here can be retried blindly.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from participant import rows
from pgpool import Pool

SCHEMA = """
CREATE TABLE IF NOT EXISTS sagas (
    id text PRIMARY KEY,
    state text NOT NULL,
    request jsonb NOT NULL,
    reason text,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL
);
CREATE TABLE IF NOT EXISTS saga_log (
    n bigserial PRIMARY KEY,
    saga_id text NOT NULL REFERENCES sagas (id),
    step text NOT NULL,
    phase text NOT NULL,
    outcome text NOT NULL,
    attempts int NOT NULL,
    detail text,
    at double precision NOT NULL,
    UNIQUE (saga_id, step, phase)
);
"""
RUNNING, COMPENSATING = "running", "compensating"
COMPLETED, COMPENSATED, COMPENSATION_FAILED = "completed", "compensated", "compensation_failed"
FINISHED = {COMPLETED, COMPENSATED, COMPENSATION_FAILED}
"""States the orchestrator will not act on again (the last one is a failure, not an end)."""


@dataclass
class Saga:
    id: str
    state: str
    request: dict[str, Any]
    reason: str | None = None
    log: list[dict[str, Any]] = field(default_factory=list)

    def outcome(self, step: str, phase: str) -> str | None:
        return next((e["outcome"] for e in self.log if e["step"] == step and e["phase"] == phase), None)


class SagaStore:
    def __init__(self, pool: Pool, timeout: float = 2.0):
        self.pool, self.timeout = pool, timeout

    @staticmethod
    async def setup(conn: AsyncConnection) -> None:
        await conn.execute(SCHEMA)

    async def create(self, saga_id: str, request: dict[str, Any]) -> bool:
        """Record a new saga (running). False if it already existed (a client's retry)."""
        now = time.time()
        async with self.pool.connection(self.timeout) as conn:
            cur = await conn.execute("INSERT INTO sagas VALUES (%s, 'running', %s, NULL, %s, %s) "
                                     "ON CONFLICT (id) DO NOTHING", (saga_id, Jsonb(request), now, now))
            return cur.rowcount == 1

    async def load(self, saga_id: str) -> Saga | None:
        async with self.pool.connection(self.timeout) as conn:
            found = await rows(conn, "SELECT id, state, request, reason FROM sagas WHERE id = %s", (saga_id,))
            if not found:
                return None
            log = await rows(conn, "SELECT step, phase, outcome, attempts FROM saga_log WHERE saga_id = %s ORDER BY n",
                             (saga_id,))
        return Saga(found[0]["id"], found[0]["state"], _json(found[0]["request"]), found[0]["reason"], log)

    async def record(self, saga_id: str, step: str, phase: str, outcome: str, attempts: int, detail: str = "") -> None:
        async with self.pool.connection(self.timeout) as conn:
            await conn.execute("INSERT INTO saga_log (saga_id, step, phase, outcome, attempts, detail, at) "
                               "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                               (saga_id, step, phase, outcome, attempts, detail[:300], time.time()))

    async def set_state(self, saga_id: str, state: str, reason: str | None = None) -> None:
        async with self.pool.connection(self.timeout) as conn:
            await conn.execute("UPDATE sagas SET state = %s, reason = COALESCE(%s, reason), updated_at = %s WHERE id = %s",
                               (state, reason, time.time(), saga_id))

    async def unfinished(self) -> list[str]:
        async with self.pool.connection(self.timeout) as conn:
            found = await rows(conn, "SELECT id FROM sagas WHERE state IN ('running', 'compensating') ORDER BY created_at")
        return [r["id"] for r in found]

    async def everything(self) -> list[dict[str, Any]]:
        """Every saga with its log, for the audit."""
        async with self.pool.connection(10.0) as conn:
            sagas = await rows(conn, "SELECT id, state, request, reason, created_at, updated_at FROM sagas ORDER BY created_at")
            log = await rows(conn, "SELECT saga_id, step, phase, outcome, attempts, detail, at FROM saga_log ORDER BY n")
        by_saga: dict[str, list[dict[str, Any]]] = {}
        for entry in log:
            by_saga.setdefault(entry.pop("saga_id"), []).append(entry)
        return [{**s, "request": _json(s["request"]), "log": by_saga.get(s["id"], [])} for s in sagas]


def _json(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value)
