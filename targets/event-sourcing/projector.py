"""projector: folds the event log into a read model (account balances), in its own database.

A catch-up subscription: it polls the event store for events after its checkpoint (the
global ``seq``), applies a batch to the read model and moves the checkpoint **in the same
transaction**, so a crash at any instant leaves the projection and the checkpoint agreeing.
After a restart it resumes from the stored checkpoint: nothing is skipped, nothing is applied
twice. The projection can always be rebuilt from the log: ``POST /rebuild`` drops it and
replays from seq 0.

    GET  /accounts/{id}   the projected account (may lag the log by a poll interval)
    GET  /audit           checkpoint and every projected account (catches up first, bounded)
    POST /rebuild         forget the projection and replay the whole log

Env: EVENTSTORE_URL, READMODEL_URL, POLL_INTERVAL (s, 0.1), BATCH (200), CHECKPOINT (durable).
CHECKPOINT=memory is the "volatile-checkpoint" defect: the position is kept only in memory,
so a restarted projector replays the log onto the projection it already has.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import time

import psycopg
from psycopg import AsyncConnection
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import eventstore
from pgpool import DB_ERRORS, Pool
from servicekit import emit_event, env_float, env_int, health_route, metrics_route, serve

SCHEMA = """
CREATE TABLE IF NOT EXISTS balances (
    stream_id text PRIMARY KEY,
    balance bigint NOT NULL,
    version int NOT NULL,
    events int NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoint (id int PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL);
INSERT INTO checkpoint VALUES (1, 0) ON CONFLICT DO NOTHING;
"""
CHECKPOINT_MODE = os.environ.get("CHECKPOINT", "durable")
if CHECKPOINT_MODE not in ("durable", "memory"):  # a misspelt defect switch would test the sound system
    raise ValueError(f"CHECKPOINT={CHECKPOINT_MODE!r}; use durable or memory")
POLL_INTERVAL = env_float("POLL_INTERVAL", 0.1)
BATCH = env_int("BATCH", 200)

source = Pool(os.environ["EVENTSTORE_URL"], size=2)
readmodel = Pool(os.environ["READMODEL_URL"], size=2)
position = {"seq": 0}
# The command handler creates the log's table; until it has, there is simply nothing to read.
NOT_YET = (*DB_ERRORS, psycopg.errors.UndefinedTable)
busy = asyncio.Lock()  # a batch and a rebuild never interleave


async def apply_batch(conn: AsyncConnection, events: list[dict]) -> int:
    """Apply the events past the stored checkpoint and move it, in one transaction; return the new checkpoint.

    The stored checkpoint decides, not our in-memory position: when a batch commits but its
    acknowledgement is lost (the connection breaks after COMMIT), we retry the batch, and the
    events it already applied must be skipped, not applied twice.
    """
    async with conn.transaction():
        stored = await (await conn.execute("SELECT seq FROM checkpoint FOR UPDATE")).fetchone()
        done = int(stored[0]) if stored and CHECKPOINT_MODE == "durable" else position["seq"]
        events = [e for e in events if e["seq"] > done]
        if not events:
            return done
        for e in events:
            delta = e["amount"] if e["type"] == "deposited" else -e["amount"]
            await conn.execute(
                "INSERT INTO balances VALUES (%s, %s, %s, 1) ON CONFLICT (stream_id) DO UPDATE SET "
                "balance = balances.balance + EXCLUDED.balance, version = EXCLUDED.version, events = balances.events + 1",
                (e["stream_id"], delta, e["version"]))
        await conn.execute("UPDATE checkpoint SET seq = %s", (events[-1]["seq"],))
    return int(events[-1]["seq"])


async def catch_up_once() -> int:
    """Apply the next batch; return how many events it held."""
    async with busy:
        async with source.connection(timeout=5.0) as conn:
            events = await eventstore.read_all(conn, after=position["seq"], limit=BATCH)
        if events:
            async with readmodel.connection(timeout=5.0) as conn:
                position["seq"] = await apply_batch(conn, events)
        return len(events)


async def run_forever() -> None:
    while True:
        try:
            if await catch_up_once() == BATCH:
                continue  # more waiting: no pause
        except NOT_YET:
            pass  # an edge fault: the checkpoint did not move, the next round retries the batch
        await asyncio.sleep(POLL_INTERVAL)


async def caught_up(timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            async with source.connection(timeout=2.0) as conn:
                if position["seq"] >= await eventstore.head(conn):
                    return True
        except NOT_YET:
            pass
        await asyncio.sleep(POLL_INTERVAL)
    return False


async def audit(request: Request) -> JSONResponse:
    settled = await caught_up(timeout=6.0)
    try:
        async with readmodel.connection(timeout=5.0) as conn:
            cur = await conn.execute("SELECT stream_id, balance, version, events FROM balances ORDER BY stream_id")
            accounts = [dict(zip(("stream_id", "balance", "version", "events"), r)) for r in await cur.fetchall()]
            stored = await (await conn.execute("SELECT seq FROM checkpoint")).fetchone()
    except DB_ERRORS as exc:
        return JSONResponse({"audit_error": f"{type(exc).__name__}: {exc}"}, status_code=503)
    return JSONResponse({"service": "projector", "at": time.time(), "checkpoint": position["seq"],
                         "stored_checkpoint": stored[0] if stored else None, "caught_up": settled,
                         "accounts": accounts})


async def get_account(request: Request) -> JSONResponse:
    stream = f"acct-{request.path_params['account']}"
    try:
        async with readmodel.connection() as conn:
            cur = await conn.execute("SELECT balance, version FROM balances WHERE stream_id = %s", (stream,))
            row = await cur.fetchone()
    except DB_ERRORS as exc:
        return JSONResponse({"error": f"read model unavailable: {type(exc).__name__}"}, status_code=503)
    if row is None:
        return JSONResponse({"error": "no such account"}, status_code=404)
    return JSONResponse({"stream_id": stream, "balance_cents": row[0], "version": row[1], "as_of_seq": position["seq"]})


async def rebuild(request: Request) -> JSONResponse:
    try:
        async with busy, readmodel.connection() as conn:
            async with conn.transaction():
                await conn.execute("DELETE FROM balances")
                await conn.execute("UPDATE checkpoint SET seq = 0")
            position["seq"] = 0
    except DB_ERRORS as exc:
        return JSONResponse({"error": f"read model unavailable: {type(exc).__name__}"}, status_code=503)
    emit_event("projection_rebuild_started")
    return JSONResponse({"rebuilding": True})


@contextlib.asynccontextmanager
async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
    async def setup(conn: AsyncConnection) -> None:
        await conn.execute(SCHEMA)
        if CHECKPOINT_MODE == "durable":
            stored = await (await conn.execute("SELECT seq FROM checkpoint")).fetchone()
            position["seq"] = int(stored[0]) if stored else 0

    await source.wait_ready(timeout=env_float("DB_READY_TIMEOUT", 60.0))
    await readmodel.wait_ready(timeout=env_float("DB_READY_TIMEOUT", 60.0), setup=setup)
    emit_event("projector_started", checkpoint=position["seq"])
    task = asyncio.create_task(run_forever())
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await source.close()
    await readmodel.close()


app = Starlette(routes=[health_route("projector"), metrics_route(), Route("/accounts/{account}", get_account),
                        Route("/audit", audit), Route("/rebuild", rebuild, methods=["POST"])], lifespan=lifespan)

if __name__ == "__main__":
    serve(app, default_port=8202)
