"""An event store in one PostgreSQL table: append-only streams with optimistic concurrency.

    events  seq        the global position: gapless, and assigned in commit order
            stream_id  one stream per account; version 1, 2, ... within it
            event_id   unique id of the event (what an acknowledgement names)
            command_id the client's idempotency key: one command, at most one event

**Optimistic concurrency.** A writer loads a stream, decides, and appends at the version it
expects next; ``UNIQUE (stream_id, version)`` makes a concurrent writer's append fail with
``VersionConflict``, and it must load again and decide again.

**Idempotency.** ``UNIQUE (stream_id, command_id)`` and a lookup on load make a retried
command (a client retry, or our own retry after a lost acknowledgement) find the event it
already appended instead of appending another.

**Global order.** ``seq`` is max(seq) + 1 under a primary key: two concurrent appends that
pick the same seq collide, and the loser retries (``SeqTaken``). So seq k only exists once
k - 1 is committed and visible, and a reader polling ``seq > checkpoint`` never skips an
event that commits late (the gap problem of sequences).
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import AsyncConnection

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq bigint PRIMARY KEY,
    stream_id text NOT NULL,
    version int NOT NULL,
    event_id uuid NOT NULL UNIQUE,
    command_id text NOT NULL,
    type text NOT NULL,
    amount bigint NOT NULL,
    recorded_at double precision NOT NULL,
    CONSTRAINT events_stream_version UNIQUE (stream_id, version)
);
"""
IDEMPOTENCY_INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS events_stream_command ON events (stream_id, command_id)"
DELTA = "CASE type WHEN 'deposited' THEN amount ELSE -amount END"
COLUMNS = "seq, stream_id, version, event_id::text AS event_id, command_id, type, amount"


class VersionConflict(Exception):
    """Another writer appended to the stream since we loaded it."""


class DuplicateCommand(Exception):
    """This command already has its event (appended concurrently, or before a lost ack)."""


class SeqTaken(Exception):
    """A concurrent append took the global position we picked; pick again."""


@dataclass
class StreamState:
    version: int
    balance: int
    recorded: dict[str, Any] | None  # the event this command already produced, if any


async def setup(conn: AsyncConnection, idempotent: bool) -> None:
    await conn.execute(SCHEMA)
    if idempotent:
        await conn.execute(IDEMPOTENCY_INDEX)


async def load(conn: AsyncConnection, stream: str, command_id: str | None) -> StreamState:
    """The stream's version and balance, and (if asked) this command's event: one round trip."""
    cur = await conn.execute(
        f"SELECT coalesce(max(version), 0), coalesce(sum({DELTA}), 0), "
        f"(SELECT row_to_json(e) FROM (SELECT {COLUMNS} FROM events WHERE stream_id = %s AND command_id = %s) e) "
        f"FROM events WHERE stream_id = %s", (stream, command_id, stream))
    version, balance, recorded = await cur.fetchone() or (0, 0, None)
    return StreamState(int(version), int(balance), recorded if command_id is not None else None)


async def append(conn: AsyncConnection, stream: str, version: int, command_id: str, type: str, amount: int) -> dict[str, Any]:
    """Append one event at ``version``; one statement, so it commits (or not) as a whole."""
    event_id = str(uuid.uuid4())
    try:
        cur = await conn.execute(
            "INSERT INTO events (seq, stream_id, version, event_id, command_id, type, amount, recorded_at) "
            "SELECT coalesce(max(seq), 0) + 1, %s, %s, %s, %s, %s, %s, %s FROM events RETURNING seq",
            (stream, version, event_id, command_id, type, amount, time.time()))
    except psycopg.errors.UniqueViolation as exc:
        constraint = exc.diag.constraint_name
        if constraint == "events_stream_version":
            raise VersionConflict(stream) from exc
        if constraint == "events_stream_command":
            raise DuplicateCommand(command_id) from exc
        raise SeqTaken() from exc
    row = await cur.fetchone()
    assert row is not None
    return {"seq": row[0], "stream_id": stream, "version": version, "event_id": event_id, "command_id": command_id,
            "type": type, "amount": amount}


async def read_all(conn: AsyncConnection, after: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
    sql = f"SELECT {COLUMNS} FROM events WHERE seq > %s ORDER BY seq" + (" LIMIT %s" if limit else "")
    cur = await conn.execute(sql, (after, limit) if limit else (after,))
    names = [c.name for c in cur.description or []]
    return [dict(zip(names, r)) for r in await cur.fetchall()]


async def head(conn: AsyncConnection) -> int:
    cur = await conn.execute("SELECT coalesce(max(seq), 0) FROM events")
    row = await cur.fetchone()
    return int(row[0]) if row else 0
