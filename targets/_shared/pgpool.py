"""A small asyncio PostgreSQL connection pool (psycopg 3) for the reference targets.

Why our own: ``psycopg_pool`` is not installed, and a target needs exactly three things that
are easy to see here:

- **Startup waits for the database.** The database is an upstream reached through a
  Toxiproxy edge; after a crash PostgreSQL listens while it recovers and refuses queries
  for a moment. ``wait_ready`` retries until a query answers (or gives up with the last
  error), and runs the schema setup on that first good connection.
- **A broken connection is never reused.** A connection that raised, timed out, or was
  left inside a transaction is closed instead of returned: after a ``reset_peer`` or
  ``down`` fault on the edge the pool reconnects rather than handing out dead sockets.
- **Every use is bounded in time.** A ``timeout`` toxic or a paused database would hold a
  query forever; ``connection(timeout=...)`` bounds the whole body and raises
  ``TimeoutError`` (the connection is then discarded).

Connections are autocommit: a statement outside ``conn.transaction()`` commits by itself.
Idle connections are kept (up to ``size``) so that a fault on the edge meets established
connections, as it would in production.
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from typing import AsyncIterator, Awaitable, Callable

import psycopg
from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus

DB_ERRORS: tuple[type[BaseException], ...] = (psycopg.OperationalError, psycopg.InterfaceError, TimeoutError, OSError)
"""What 'the database is unreachable or the connection broke' looks like to a caller."""


class Pool:
    def __init__(self, url: str, *, size: int = 4, connect_timeout: float = 2.0):
        self.url = url
        self.size = size
        self.connect_timeout = connect_timeout
        self._idle: list[AsyncConnection] = []
        self._slots = asyncio.Semaphore(size)
        self._closed = False

    async def _connect(self) -> AsyncConnection:
        # libpq's connect_timeout is whole seconds; asyncio.timeout makes it exact.
        async with asyncio.timeout(self.connect_timeout):
            return await AsyncConnection.connect(self.url, autocommit=True,
                                                 connect_timeout=max(1, int(self.connect_timeout)))

    async def wait_ready(self, timeout: float = 60.0,
                         setup: Callable[[AsyncConnection], Awaitable[None]] | None = None) -> None:
        """Retry until the database answers, then run ``setup`` (the schema) on that connection."""
        deadline = time.monotonic() + timeout
        last: BaseException | None = None
        while time.monotonic() < deadline:
            try:
                async with self.connection(timeout=max(self.connect_timeout, 10.0)) as conn:
                    await conn.execute("SELECT 1")
                    if setup is not None:
                        await setup(conn)
                return
            except DB_ERRORS as exc:
                last = exc
                await asyncio.sleep(0.2)
        raise RuntimeError(f"database at {_safe(self.url)} not ready after {timeout:g}s: {last}")

    @contextlib.asynccontextmanager
    async def connection(self, timeout: float = 5.0) -> AsyncIterator[AsyncConnection]:
        """Borrow a connection for at most ``timeout`` seconds (waiting for a slot included)."""
        if self._closed:
            raise psycopg.InterfaceError("the pool is closed")
        async with asyncio.timeout(timeout):
            async with self._slots:
                conn = self._idle.pop() if self._idle else await self._connect()
                reusable = False
                try:
                    yield conn
                    reusable = True
                except BaseException as exc:
                    # An application error (a business refusal) leaves a good connection; a
                    # database error, a timeout or a cancellation may have broken it.
                    reusable = not isinstance(exc, (*DB_ERRORS, asyncio.CancelledError))
                    raise
                finally:
                    reusable = reusable and not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE
                    if reusable and not self._closed:
                        self._idle.append(conn)
                    else:
                        await _close_quietly(conn)

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            await _close_quietly(conn)


async def _close_quietly(conn: AsyncConnection) -> None:
    with contextlib.suppress(Exception):
        # A dead socket can make a polite close hang; the pool must never wait on it.
        async with asyncio.timeout(1.0):
            await conn.close()


def _safe(url: str) -> str:
    """The URL without a password, for messages."""
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1) if "://" in url else ("", url)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}@{host}" if scheme else f"{user}@{host}"
