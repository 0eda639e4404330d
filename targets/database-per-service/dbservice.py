"""What the three services of this target share: one pool to their own database, a bounded
query, an audit, and start-up that waits for the database.

Each service owns one database and reaches it through its own Toxiproxy edge
(``catalog->db``, ``orders->db``, ``users->db``), named by DATABASE_URL. Nothing here knows
which database that is: the ``shared-database`` defect simply points every service's
DATABASE_URL at catalog's database, through catalog's edge.

Env: DATABASE_URL, DB_POOL_SIZE (4), QUERY_TIMEOUT (s, 3).
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import psycopg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pgkit import Pool, PoolTimeout, bounded, wait_ready
from servicekit import env_float, env_int, health_route, metrics_route

QUERY_TIMEOUT = env_float("QUERY_TIMEOUT", 3.0)
DATABASE_URL = os.environ.get("DATABASE_URL", "")
pool = Pool(DATABASE_URL, size=env_int("DB_POOL_SIZE", 4))


class Unavailable(Exception):
    """The service's database did not answer in time or at all: the caller gets a 503."""


async def fetch(sql: str, args: tuple[Any, ...] = (), one: bool = True) -> Any:
    async def query() -> Any:
        async with pool.connection() as conn:
            cur = await conn.execute(sql, args)
            return await (cur.fetchone() if one else cur.fetchall())

    try:
        # bounded, not asyncio.timeout: the answer comes at the deadline even when cleaning up a
        # query cut short has to wait on a hung database (see pgkit.bounded).
        return await bounded(QUERY_TIMEOUT, query())
    except (psycopg.Error, OSError, TimeoutError, PoolTimeout) as exc:
        raise Unavailable(f"database: {type(exc).__name__}") from exc


def unavailable(exc: Unavailable) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=503)


def make_app(name: str, schema: str, routes: list[Route], count_sql: str,
             resources: Callable[[], AbstractAsyncContextManager[Any]] | None = None) -> Starlette:
    """The service's app; ``resources`` (e.g. an HTTP client) lives as long as the app."""

    async def audit(request: Request) -> JSONResponse:
        # Which database the service really used (read from the database, not from its settings).
        database, rows = await fetch(f"SELECT current_database(), ({count_sql})")
        return JSONResponse({"database": database, "rows": rows, "pool": pool.stats()})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        await wait_ready(pool, schema)
        try:
            async with (resources() if resources else contextlib.nullcontext()):
                yield
        finally:
            await pool.close()

    return Starlette(routes=[health_route(name), metrics_route(), *routes, Route("/audit", audit, methods=["GET"])],
                     lifespan=lifespan)
