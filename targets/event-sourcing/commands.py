"""commands: the command handler of an event-sourced bank ledger.

    POST /accounts/{id}/deposits    {command_id, amount_cents} -> 200 {event_id, seq, version, balance_cents}
    POST /accounts/{id}/withdrawals {command_id, amount_cents} -> 200 ..., 422 insufficient funds
                                                                  409 too much contention, 503 store unreachable
    GET  /accounts/{id}   the account, folded from its stream
    GET  /audit           the whole event log, in global order

A command loads its stream, decides against the balance, and appends one event at the
expected version (see eventstore.py). When the store's connection breaks, the handler does
not know whether its append committed (the acknowledgement may be what was lost): it
retries the whole command, and the idempotency key (``command_id``) makes the retry find
the event it already appended. Before answering 200 it prints an ``event_acked`` target
event, so the harness knows every event it acknowledged, whether or not the answer arrives.

Env: DATABASE_URL (appends), READ_DATABASE_URL (loads; default DATABASE_URL), COMMAND_BUDGET (s, 4: how long a command may keep retrying),
IDEMPOTENT_APPEND (true). IDEMPOTENT_APPEND=false is the "non-idempotent-append" defect:
no idempotency key lookup or constraint, so a retry after a lost ack appends a duplicate.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import time

from prometheus_client import Counter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import eventstore
from pgpool import DB_ERRORS, Pool
from servicekit import emit_event, env_flag, env_float, env_int, health_route, metrics_route, serve

IDEMPOTENT = env_flag("IDEMPOTENT_APPEND", True)
COMMAND_BUDGET = env_float("COMMAND_BUDGET", 4.0)
MAX_CONFLICTS = env_int("MAX_CONFLICTS", 20)
DB_TIMEOUT = env_float("DB_TIMEOUT", 2.0)
KINDS = {"deposits": "deposited", "withdrawals": "withdrawn"}

# Loads and appends go through separate pools and separate edges (READ_DATABASE_URL could
# point at a replica: a stale load is safe, the expected version catches it). So the append
# path can be faulted on its own, and a write connection's next statement is always an append.
readers = Pool(os.environ.get("READ_DATABASE_URL") or os.environ["DATABASE_URL"], size=env_int("DB_READ_POOL_SIZE", 4))
writers = Pool(os.environ["DATABASE_URL"], size=env_int("DB_WRITE_POOL_SIZE", 3))
COMMANDS = Counter("es_commands_total", "Commands answered", ["kind", "outcome"])
RETRIES = Counter("es_command_retries_total", "Command retries", ["reason"])


class Answer(Exception):
    def __init__(self, status: int, body: dict):
        self.status, self.body = status, body


async def decide_and_append(stream: str, command_id: str, kind: str, amount: int) -> dict:
    """One attempt: load, decide, append. Raises Answer for a final answer without an event."""
    async with readers.connection(timeout=DB_TIMEOUT) as conn:
        state = await eventstore.load(conn, stream, command_id if IDEMPOTENT else None)
    if state.recorded is not None:
        return {**state.recorded, "replayed": True, "balance_cents": None}
    if kind == "withdrawn" and state.balance < amount:
        raise Answer(422, {"error": "insufficient funds", "balance_cents": state.balance})
    async with writers.connection(timeout=DB_TIMEOUT) as conn:
        while True:
            try:
                event = await eventstore.append(conn, stream, state.version + 1, command_id, kind, amount)
            except eventstore.SeqTaken:
                continue  # a concurrent append on another stream took our global position
            delta = amount if kind == "deposited" else -amount
            return {**event, "balance_cents": state.balance + delta}


async def handle(request: Request) -> JSONResponse:
    stream, kind = f"acct-{request.path_params['account']}", KINDS.get(request.path_params["kind"])
    if kind is None:
        return JSONResponse({"error": f"unknown command; known: {', '.join(KINDS)}"}, status_code=404)
    try:
        body = await request.json()
        command_id, amount = str(body["command_id"]), int(body["amount_cents"])
        if not command_id or amount <= 0:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "expected JSON {command_id, amount_cents > 0}"}, status_code=422)
    deadline = time.monotonic() + COMMAND_BUDGET
    conflicts = failures = 0
    while True:
        try:
            result = await decide_and_append(stream, command_id, kind, amount)
            break
        except Answer as answer:
            COMMANDS.labels(kind, str(answer.status)).inc()
            return JSONResponse({"stream_id": stream, "command_id": command_id, **answer.body}, answer.status)
        except (eventstore.VersionConflict, eventstore.DuplicateCommand) as exc:
            # Someone else moved the stream (or recorded this very command): load and decide again.
            RETRIES.labels(type(exc).__name__).inc()
            conflicts += 1
            if conflicts > MAX_CONFLICTS:
                COMMANDS.labels(kind, "409").inc()
                return JSONResponse({"error": "too much contention on the stream", "stream_id": stream}, 409)
        except DB_ERRORS as exc:
            # Maybe appended, maybe not: only a retry with the same command_id can tell.
            RETRIES.labels("store_unavailable").inc()
            failures += 1
            if failures == 1:
                emit_event("store_retry", stream=stream, command_id=command_id, error=f"{type(exc).__name__}"[:80])
            if time.monotonic() > deadline:
                COMMANDS.labels(kind, "503").inc()
                return JSONResponse({"error": f"event store unavailable: {type(exc).__name__}"}, status_code=503)
            await asyncio.sleep(min(0.5, 0.05 * 2 ** failures))
    emit_event("event_acked", stream=stream, event_id=result["event_id"], seq=result["seq"], version=result["version"],
               command_id=command_id, replayed=bool(result.get("replayed")))
    COMMANDS.labels(kind, "200").inc()
    return JSONResponse(result)


async def get_account(request: Request) -> JSONResponse:
    stream = f"acct-{request.path_params['account']}"
    try:
        async with readers.connection() as conn:
            state = await eventstore.load(conn, stream, None)
    except DB_ERRORS as exc:
        return JSONResponse({"error": f"event store unavailable: {type(exc).__name__}"}, status_code=503)
    return JSONResponse({"stream_id": stream, "version": state.version, "balance_cents": state.balance})


async def audit(request: Request) -> JSONResponse:
    try:
        async with readers.connection(timeout=10.0) as conn:
            log = await eventstore.read_all(conn)
    except DB_ERRORS as exc:
        return JSONResponse({"audit_error": f"{type(exc).__name__}: {exc}"}, status_code=503)
    return JSONResponse({"service": "commands", "at": time.time(), "events": log})


@contextlib.asynccontextmanager
async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
    await writers.wait_ready(timeout=env_float("DB_READY_TIMEOUT", 60.0),
                             setup=lambda conn: eventstore.setup(conn, IDEMPOTENT))
    await readers.wait_ready(timeout=10.0)
    yield
    await readers.close()
    await writers.close()


app = Starlette(routes=[
    health_route("commands"), metrics_route(),
    Route("/accounts/{account}/{kind:str}", handle, methods=["POST"]),
    Route("/accounts/{account}", get_account, methods=["GET"]),
    Route("/audit", audit, methods=["GET"]),
], lifespan=lifespan)

if __name__ == "__main__":
    serve(app, default_port=8201)
