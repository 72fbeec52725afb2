"""The one SQLite connection of a database and the discipline every store follows on it.

``SQLiteConnection`` owns the aiosqlite connection (autocommit) and an ``asyncio.Lock``. Every
statement takes the lock, so no coroutine's statement ever lands inside another coroutine's
open transaction:

- ``fetchall`` / ``fetchone`` / ``execute`` / ``executemany``: one statement, its own atomic
  transaction (the job store's compare-and-set ``UPDATE ... WHERE state IN (...)``).
- ``transaction()``: ``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` if the block raises),
  holding the lock throughout; ``BEGIN IMMEDIATE`` takes SQLite's write lock first, so another
  process on the same file waits (``busy_timeout``) instead of overspending.
- ``batch()``: several autocommit statements in a row with nothing of this process in between
  (consistent multi-statement reads without a write lock).

Inside ``transaction()`` / ``batch()`` use the ``Statements`` it yields, never the connection
itself (the lock is not re-entrant).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import aiosqlite

log = logging.getLogger(__name__)

__all__ = ["BUSY_TIMEOUT_MS", "Queries", "SQLiteConnection", "Statements", "connect"]

Params = Sequence[Any]
#: How long a write waits for another process's write lock on the same file.
BUSY_TIMEOUT_MS = 10_000


class Queries(Protocol):
    """What store code runs statements through: the connection, or an open transaction."""

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]: ...

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None: ...

    async def execute(self, sql: str, params: Params = ()) -> int: ...


class Statements:
    """Statements inside one ``transaction()`` or ``batch()``; unusable once it ended."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn: aiosqlite.Connection | None = conn

    def _live(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("this transaction has ended")
        return self._conn

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Run one statement and return its rows."""
        return list(await self._live().execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """Run one statement and return its first row, or None."""
        rows = await self._live().execute_fetchall(sql, params)
        for row in rows:
            return row
        return None

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return how many rows it changed."""
        cur = await self._live().execute(sql, params)
        try:
            return cur.rowcount
        finally:
            await cur.close()

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement once per parameter row."""
        cur = await self._live().executemany(sql, rows)
        await cur.close()

    def _end(self) -> None:
        self._conn = None


class SQLiteConnection:
    """The aiosqlite connection and its lock: every statement and transaction goes through here."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self._closed = False

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Run one statement (its own transaction) and return its rows."""
        async with self.batch() as q:
            return await q.fetchall(sql, params)

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """Run one statement (its own transaction) and return its first row, or None."""
        async with self.batch() as q:
            return await q.fetchone(sql, params)

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement (its own transaction); return how many rows it changed."""
        async with self.batch() as q:
            return await q.execute(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement per parameter row, as one transaction."""
        async with self.transaction() as q:
            await q.executemany(sql, rows)

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[Statements]:
        """Hold the connection for several autocommit statements (no transaction)."""
        async with self._lock:
            self._check_open()
            q = Statements(self._conn)
            try:
                yield q
            finally:
                q._end()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Statements]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; rolled back if the block (or the commit) raises."""
        async with self._lock:
            self._check_open()
            await self._conn.execute("BEGIN IMMEDIATE")
            q = Statements(self._conn)
            try:
                yield q
                q._end()
                await self._conn.execute("COMMIT")
            except BaseException:
                q._end()
                await self._rollback()
                raise

    async def _rollback(self) -> None:
        # Shielded: a cancelled caller must not leave the transaction open for the next one.
        try:
            await asyncio.shield(self._conn.execute("ROLLBACK"))
        except sqlite3.Error:
            log.debug("rollback failed (the transaction had already ended)", exc_info=True)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the database is closed")

    @property
    def raw(self) -> aiosqlite.Connection:
        """The aiosqlite connection, for opening (migrations) only; stores never use it."""
        return self._conn

    async def close(self) -> None:
        """Close the connection once every statement already started has finished."""
        async with self._lock:
            if self._closed:
                return
            self._closed = True
            await self._conn.close()


async def connect(path: Path | None) -> SQLiteConnection:
    """Open the database file (WAL) or, with None, one in-memory database for every table."""
    # aiosqlite logs every statement's parameters at DEBUG, interaction tokens included.
    logger = logging.getLogger("aiosqlite")
    logger.setLevel(max(logging.INFO, logger.level))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: autocommit, so each single statement is its own atomic transaction.
    conn = await aiosqlite.connect(
        str(path) if path is not None else ":memory:", isolation_level=None
    )
    try:
        conn.row_factory = aiosqlite.Row
        if path is not None:
            await conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable against process crashes in WAL mode (power loss may drop the tail).
            await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    except BaseException:
        await conn.close()
        raise
    return SQLiteConnection(conn)
