"""PostgreSQL for the reference targets: a small bounded pool and a patient start-up.

Why our own pool: ``psycopg_pool`` is not a dependency, and the targets need only a few
things, each of which an experiment depends on:
  * a fixed number of connections (the pool whose sharing or exhaustion the
    database-per-service experiment is about);
  * a connect timeout, so a database edge that is down fails fast instead of hanging;
  * a connection that saw any error is thrown away: a fault may have cut it mid-transaction,
    and reusing it would turn one fault into a string of confusing errors after it ends.

Services reach their database through a Toxiproxy edge that may come up after them or be
faulted at start, so ``wait_ready`` retries until the schema is in place.
"""
from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import psycopg

T = TypeVar("T")


class PoolTimeout(Exception):
    """No connection became free in time: the pool is exhausted."""


class Pool:
    def __init__(self, url: str, size: int = 4, connect_timeout: float = 2.0, acquire_timeout: float = 5.0):
        if not url:
            raise ValueError("no database URL (is the service's upstream env var set?)")
        self.url, self.size = url, size
        self.connect_timeout, self.acquire_timeout = connect_timeout, acquire_timeout
        self._idle: list[psycopg.AsyncConnection] = []
        self._slots = asyncio.Semaphore(size)
        self.in_use = 0
        self.waiting = 0
        self.discarded = 0

    async def _connect(self) -> psycopg.AsyncConnection:
        # libpq's connect_timeout is whole seconds (min 2); asyncio's bound is the real one.
        async with asyncio.timeout(self.connect_timeout):
            return await psycopg.AsyncConnection.connect(self.url, autocommit=True,
                                                         connect_timeout=max(2, int(self.connect_timeout)))

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        self.waiting += 1
        try:
            async with asyncio.timeout(self.acquire_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise PoolTimeout(f"no free connection among {self.size} within {self.acquire_timeout}s") from None
        finally:
            self.waiting -= 1
        self.in_use += 1
        conn: psycopg.AsyncConnection | None = None
        try:
            conn = self._idle.pop() if self._idle else await self._connect()
            yield conn
        except BaseException:
            if conn is not None:
                await self._discard(conn)
            raise
        else:
            if conn.closed or conn.broken:
                await self._discard(conn)
            else:
                self._idle.append(conn)
        finally:
            self.in_use -= 1
            self._slots.release()

    async def _discard(self, conn: psycopg.AsyncConnection) -> None:
        self.discarded += 1
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await conn.close()

    async def close(self) -> None:
        while self._idle:
            await self._discard(self._idle.pop())

    def stats(self) -> dict[str, int]:
        return {"size": self.size, "in_use": self.in_use, "idle": len(self._idle), "waiting": self.waiting,
                "discarded": self.discarded}


async def wait_ready(pool: Pool, schema: str, timeout: float = 30.0) -> None:
    """Run the (idempotent) schema until it succeeds: the database may still be starting."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            async with pool.connection() as conn:
                await conn.execute(schema)
            return
        except (psycopg.Error, OSError, TimeoutError, PoolTimeout) as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"database not ready after {timeout}s: {exc}") from exc
            print(f"database not ready yet ({type(exc).__name__}: {exc}); retrying", file=sys.stderr, flush=True)
            await asyncio.sleep(0.5)


async def bounded(seconds: float, work: Awaitable[T]) -> T:
    """Await ``work`` for at most ``seconds``; past that, raise TimeoutError at once.

    Why not ``asyncio.timeout``: it cancels the work and then waits for the work's own clean-up,
    and psycopg cleans up a query cut short by asking the server to cancel it and waiting for
    that (up to seconds, through the very edge that hangs). The caller's deadline would be
    overrun by however long that takes. Here the clean-up goes on in the background, still
    holding its pool slot, and the caller is answered at its deadline.
    """
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task in done:
        return task.result()
    task.cancel()
    task.add_done_callback(_consume)
    raise TimeoutError(f"no answer within {seconds:g}s")


def _consume(task: asyncio.Future) -> None:
    # Nobody awaits an abandoned task: read its outcome so asyncio does not log it as lost.
    if not task.cancelled():
        task.exception()
