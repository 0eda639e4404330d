"""What the three saga participants (payments, inventory, shipping) share.

Each participant owns its database (reached through its own Toxiproxy edge, ``DATABASE_URL``)
and offers one action and its compensation, both **idempotent by saga id**:

- the action, asked twice for one saga, does its work once and answers the same both times;
- the compensation of an action that never happened leaves a tombstone, so the action,
  arriving late (a retry that was still in flight), is refused instead of taking effect
  after its saga was compensated.

A handler runs inside one database transaction. It raises ``Reject`` for a definitive
business refusal (out of stock, undeliverable address): the transaction rolls back and the
orchestrator is told "rejected" (4xx), so it compensates without retrying. A database that
cannot be reached answers 503: the outcome is unknown to the orchestrator, which retries.
"""
from __future__ import annotations

import contextlib
import os
import time
from typing import Any, Awaitable, Callable

from prometheus_client import Counter
from psycopg import AsyncConnection
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pgkit import bounded
from pgpool import DB_ERRORS, Pool
from servicekit import env_float, env_int, health_route, metrics_route

Body = dict[str, Any]
Handler = Callable[[AsyncConnection, Body], Awaitable[Body]]

REQUESTS = Counter("saga_participant_requests_total", "Participant calls answered", ["action", "outcome"])


class CallLog:
    """How many times each saga called each action here, counted on arrival (before the database).

    The load a saga puts on this participant, seen by the participant itself and not by the
    orchestrator under test: an audit can bound retries per saga (a retry storm, one try too
    many, a compensation retried without backoff). In memory on purpose: it must keep counting
    while the database is faulted; a crash loses it, which only undercounts.
    """

    def __init__(self) -> None:
        self.counts: dict[str, dict[str, int]] = {}

    def arrived(self, action: str, saga_id: str) -> None:
        per_saga = self.counts.setdefault(action, {})
        per_saga[saga_id] = per_saga.get(saga_id, 0) + 1

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {action: dict(per_saga) for action, per_saga in self.counts.items()}


class Reject(Exception):
    """A definitive refusal: nothing changed, and retrying will not change the answer."""

    def __init__(self, http_status: int, reason: str, **fields: Any):
        super().__init__(reason)
        self.http_status, self.payload = http_status, {"error": reason, **fields}


class Participant:
    def __init__(self, name: str, schema: str, seed: Callable[[AsyncConnection], Awaitable[None]] | None = None):
        self.name = name
        self.schema = schema
        self.seed = seed
        self.pool = Pool(os.environ["DATABASE_URL"], size=env_int("DB_POOL_SIZE", 4))
        self.db_timeout = env_float("DB_TIMEOUT", 2.0)
        self.calls = CallLog()

    async def _setup(self, conn: AsyncConnection) -> None:
        async with conn.transaction():
            await conn.execute(self.schema)
            if self.seed is not None:
                await self.seed(conn)

    def action(self, path: str, handler: Handler) -> Route:
        """A POST route running ``handler(conn, body)`` in one transaction; the body needs ``saga_id``."""
        label = path.strip("/")

        async def endpoint(request: Request) -> JSONResponse:
            try:
                body = await request.json()
                if not isinstance(body, dict) or not isinstance(body.get("saga_id"), str) or not body["saga_id"]:
                    raise ValueError("saga_id")
            except ValueError:
                REQUESTS.labels(label, "bad_request").inc()
                return JSONResponse({"error": "expected a JSON object with a non-empty 'saga_id'"}, status_code=422)
            self.calls.arrived(label, body["saga_id"])
            async def work() -> Body:
                async with self.pool.connection(timeout=self.db_timeout) as conn:
                    async with conn.transaction():
                        return await handler(conn, body)

            try:
                # Answered by DB_TIMEOUT whatever the database does: a participant must give its
                # caller a definite 503 before the caller's own call timeout, not leave it guessing.
                answer = await bounded(self.db_timeout, work())
            except Reject as exc:
                REQUESTS.labels(label, "rejected").inc()
                return JSONResponse({"saga_id": body["saga_id"], **exc.payload}, status_code=exc.http_status)
            except DB_ERRORS as exc:
                # The transaction may or may not have committed (a lost ack): the caller cannot
                # know, so it must retry an idempotent call or compensate.
                REQUESTS.labels(label, "unavailable").inc()
                return JSONResponse({"error": f"database unavailable: {type(exc).__name__}: {exc}"[:300]},
                                    status_code=503)
            REQUESTS.labels(label, "ok").inc()
            return JSONResponse({"saga_id": body["saga_id"], **answer})

        return Route(path, endpoint, methods=["POST"])

    def audit(self, collect: Callable[[AsyncConnection], Awaitable[Body]]) -> Route:
        """``GET /audit``: the participant's state, read in one snapshot, and the calls it received per saga."""

        async def endpoint(request: Request) -> JSONResponse:
            try:
                async with self.pool.connection(timeout=10.0) as conn:
                    async with conn.transaction():
                        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                        state = await collect(conn)
            except DB_ERRORS as exc:
                return JSONResponse({"audit_error": f"{type(exc).__name__}: {exc}"}, status_code=503)
            return JSONResponse({"service": self.name, "at": time.time(), **state, "calls": self.calls.snapshot()})

        return Route("/audit", endpoint, methods=["GET"])

    def app(self, routes: list[Route]) -> Starlette:
        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
            await self.pool.wait_ready(timeout=env_float("DB_READY_TIMEOUT", 60.0), setup=self._setup)
            yield
            await self.pool.close()

        return Starlette(routes=[health_route(self.name), metrics_route(), *routes], lifespan=lifespan)


async def rows(conn: AsyncConnection, sql: str, params: tuple[Any, ...] = ()) -> list[Body]:
    """Every row of a query, as dicts."""
    cur = await conn.execute(sql, params)
    names = [c.name for c in cur.description or []]
    return [dict(zip(names, r)) for r in await cur.fetchall()]


async def one(conn: AsyncConnection, sql: str, params: tuple[Any, ...] = ()) -> Body | None:
    found = await rows(conn, sql, params)
    return found[0] if found else None
