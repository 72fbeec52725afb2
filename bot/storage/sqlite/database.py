"""The open SQLite database: one connection, every store built on it."""

from __future__ import annotations

import logging
from pathlib import Path

from bot.storage.sqlite.audit import SQLiteAuditStore
from bot.storage.sqlite.connection import SQLiteConnection, connect
from bot.storage.sqlite.durations import SQLiteDurationStats
from bot.storage.sqlite.extras import SQLiteJobDiscord, SQLiteMeta, SQLiteUploadCache
from bot.storage.sqlite.guild_settings import SQLiteGuildSettingsStore
from bot.storage.sqlite.identify import LocalIdentifyGate
from bot.storage.sqlite.jobs import SQLiteJobStore
from bot.storage.sqlite.library import SQLiteJobHistory, SQLiteTrays
from bot.storage.sqlite.migrate import apply_migrations
from bot.storage.sqlite.quota import SQLiteQuotaStore
from bot.storage.url import DatabaseURL

log = logging.getLogger(__name__)

__all__ = ["SQLiteDatabase", "open_sqlite"]


class SQLiteDatabase:
    """An open SQLite database with its repositories, all on one ``SQLiteConnection``."""

    def __init__(self, conn: SQLiteConnection, version: int) -> None:
        self._conn = conn
        self._version = version
        self._jobs = SQLiteJobStore(conn)
        self._durations = SQLiteDurationStats(conn)
        self._quotas = SQLiteQuotaStore(conn)
        self._guild_settings = SQLiteGuildSettingsStore(conn)
        self._uploads = SQLiteUploadCache(conn)
        self._meta = SQLiteMeta(conn)
        self._job_discord = SQLiteJobDiscord(conn)
        self._identify = LocalIdentifyGate()
        self._audit = SQLiteAuditStore(conn)
        self._trays = SQLiteTrays(conn)
        self._history = SQLiteJobHistory(conn)

    @property
    def connection(self) -> SQLiteConnection:
        """The one connection every store uses (for tests and maintenance)."""
        return self._conn

    @property
    def jobs(self) -> SQLiteJobStore:
        return self._jobs

    @property
    def uploads(self) -> SQLiteUploadCache:
        return self._uploads

    @property
    def meta(self) -> SQLiteMeta:
        return self._meta

    @property
    def job_discord(self) -> SQLiteJobDiscord:
        return self._job_discord

    @property
    def durations(self) -> SQLiteDurationStats:
        return self._durations

    @property
    def quotas(self) -> SQLiteQuotaStore:
        return self._quotas

    @property
    def guild_settings(self) -> SQLiteGuildSettingsStore:
        return self._guild_settings

    @property
    def audit(self) -> SQLiteAuditStore:
        return self._audit

    @property
    def identify(self) -> LocalIdentifyGate:
        return self._identify

    @property
    def trays(self) -> SQLiteTrays:
        return self._trays

    @property
    def history(self) -> SQLiteJobHistory:
        return self._history

    @property
    def schema_version(self) -> int:
        return self._version

    async def close(self) -> None:
        """Close the connection; every write was already committed."""
        await self._identify.close()
        await self._conn.close()


async def open_sqlite(url: DatabaseURL, *, migrations_dir: Path | None = None) -> SQLiteDatabase:
    """Open (creating if needed) the SQLite database at ``url`` and bring its schema up to date.

    ``sqlite://:memory:`` is one in-memory database holding every table, like a file would.
    ``migrations_dir`` replaces the shipped ``bot/migrations/sqlite`` (tests).
    """
    conn = await connect(url.path)
    try:
        version = await apply_migrations(conn.raw, migrations_dir)
    except BaseException:
        await conn.close()
        raise
    log.info("database open (schema version %d)", version)
    return SQLiteDatabase(conn, version)
