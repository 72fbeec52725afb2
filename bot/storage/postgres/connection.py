"""The asyncpg pool of a PostgreSQL database and the discipline every store follows on it.

- ``fetchall`` / ``fetchone`` / ``execute`` / ``executemany``: one statement on a pooled
  connection, its own atomic transaction (the job store's compare-and-set
  ``UPDATE ... WHERE state = ANY(...)``); ``execute`` returns how many rows it changed.
- ``transaction()``: ``BEGIN`` (READ COMMITTED) ... ``COMMIT`` on one connection, rolled back
  if the block raises. Stores that read then write take row locks (``SELECT ... FOR UPDATE``)
  inside it, so another process's transaction on the same rows waits instead of overspending.
- ``batch()``: several statements in one read-only REPEATABLE READ transaction: one snapshot
  for a consistent multi-statement read, no locks.

Inside ``transaction()`` / ``batch()`` use the ``Statements`` it yields, never the pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

import asyncpg

__all__ = ["PostgresPool", "Queries", "Statements", "rowcount"]

Params = Sequence[Any]


class Queries(Protocol):
    """What store code runs statements through: the pool, or an open transaction."""

    async def fetchall(self, sql: str, params: Params = ()) -> list[asyncpg.Record]: ...

    async def fetchone(self, sql: str, params: Params = ()) -> asyncpg.Record | None: ...

    async def execute(self, sql: str, params: Params = ()) -> int: ...


def rowcount(status: str) -> int:
    """Return the row count of a command status such as ``UPDATE 3`` or ``INSERT 0 1``."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class Statements:
    """Statements on the one connection of a ``transaction()`` or ``batch()``."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn: asyncpg.Connection | None = conn

    def _live(self) -> asyncpg.Connection:
        if self._conn is None:
            raise RuntimeError("this transaction has ended")
        return self._conn

    async def fetchall(self, sql: str, params: Params = ()) -> list[asyncpg.Record]:
        """Run one statement and return its rows."""
        return list(await self._live().fetch(sql, *params))

    async def fetchone(self, sql: str, params: Params = ()) -> asyncpg.Record | None:
        """Run one statement and return its first row, or None."""
        row: asyncpg.Record | None = await self._live().fetchrow(sql, *params)
        return row

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return how many rows it changed."""
        return rowcount(await self._live().execute(sql, *params))

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement once per parameter row."""
        await self._live().executemany(sql, [tuple(r) for r in rows])

    def _end(self) -> None:
        self._conn = None


class PostgresPool:
    """The asyncpg pool: every statement and transaction of every store goes through here."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @property
    def raw(self) -> asyncpg.Pool:
        """The asyncpg pool (tests and maintenance); stores use the methods below."""
        return self._pool

    async def fetchall(self, sql: str, params: Params = ()) -> list[asyncpg.Record]:
        """Run one statement (its own transaction) and return its rows."""
        return list(await self._pool.fetch(sql, *params))

    async def fetchone(self, sql: str, params: Params = ()) -> asyncpg.Record | None:
        """Run one statement (its own transaction) and return its first row, or None."""
        row: asyncpg.Record | None = await self._pool.fetchrow(sql, *params)
        return row

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement (its own transaction); return how many rows it changed."""
        return rowcount(await self._pool.execute(sql, *params))

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement per parameter row, as one transaction."""
        async with self.transaction() as q:
            await q.executemany(sql, rows)

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[Statements]:
        """Several statements on one snapshot (read-only REPEATABLE READ transaction)."""
        async with (
            self._pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            q = Statements(conn)
            try:
                yield q
            finally:
                q._end()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Statements]:
        """``BEGIN`` ... ``COMMIT`` on one connection; rolled back if the block raises."""
        async with self._pool.acquire() as conn, conn.transaction():
            q = Statements(conn)
            try:
                yield q
            finally:
                q._end()

    async def close(self) -> None:
        """Close the pool once the connections in use are given back."""
        await self._pool.close()
