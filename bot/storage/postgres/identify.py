"""The identify gate across processes: a PostgreSQL advisory lock per bucket.

``hold`` takes a pooled connection of its own and polls ``pg_try_advisory_lock(namespace,
bucket)`` until it gets the lock (a blocking ``pg_advisory_lock`` could not be given up at
shutdown); ``seconds`` later a background task unlocks and returns the connection. Advisory
locks belong to the session, so a connection that dies gives its bucket back by itself.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from bot.storage.postgres.connection import PostgresPool

log = logging.getLogger(__name__)

__all__ = ["IDENTIFY_LOCK_NAMESPACE", "PostgresIdentifyGate"]

#: First key of the two-key advisory lock (``b"IDNT"``); the second is the bucket.
IDENTIFY_LOCK_NAMESPACE = 0x49444E54
#: Between two tries of a taken bucket.
POLL_SECONDS = 0.1


class PostgresIdentifyGate:
    """``IdentifyGate`` shared by every process on one PostgreSQL database."""

    def __init__(self, pool: PostgresPool, *, poll: float = POLL_SECONDS) -> None:
        self._pool = pool
        self._poll = poll
        self._releases: set[asyncio.Task[None]] = set()
        #: Connections holding a bucket's lock -> the bucket.
        self._held: dict[asyncpg.Connection, int] = {}

    async def hold(self, bucket: int, seconds: float) -> None:
        conn: asyncpg.Connection = await self._pool.raw.acquire()
        try:
            while True:
                if await conn.fetchval(
                    "SELECT pg_try_advisory_lock($1::int, $2::int)", IDENTIFY_LOCK_NAMESPACE, bucket
                ):
                    break
                # Another process holds the bucket and nothing here can announce its end.
                await asyncio.sleep(self._poll)
        except BaseException:
            await self._pool.raw.release(conn)
            raise
        self._held[conn] = bucket
        task = asyncio.create_task(self._release_later(conn, seconds), name="identify-release")
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _release_later(self, conn: asyncpg.Connection, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self._release(conn)

    async def _release(self, conn: asyncpg.Connection) -> None:
        bucket = self._held.pop(conn, None)
        if bucket is None:
            return  # already given back
        try:
            await conn.execute(
                "SELECT pg_advisory_unlock($1::int, $2::int)", IDENTIFY_LOCK_NAMESPACE, bucket
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            # Returning the connection to the pool resets it (pg_advisory_unlock_all).
            log.warning("could not give back identify bucket %d", bucket)
        finally:
            await self._pool.raw.release(conn)

    async def close(self) -> None:
        """Give back every bucket still held without waiting out its window."""
        for task in list(self._releases):
            task.cancel()
        await asyncio.gather(*self._releases, return_exceptions=True)
        for conn in list(self._held):
            await self._release(conn)
