"""The open PostgreSQL database: one asyncpg pool, every store built on it."""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg

from bot.storage.postgres.audit import PostgresAuditStore
from bot.storage.postgres.connection import PostgresPool
from bot.storage.postgres.durations import PostgresDurationStats
from bot.storage.postgres.extras import PostgresJobDiscord, PostgresMeta, PostgresUploadCache
from bot.storage.postgres.guild_settings import PostgresGuildSettingsStore
from bot.storage.postgres.identify import PostgresIdentifyGate
from bot.storage.postgres.jobs import PostgresJobStore
from bot.storage.postgres.library import PostgresJobHistory, PostgresTrays
from bot.storage.postgres.migrate import apply_migrations
from bot.storage.postgres.quota import PostgresQuotaStore
from bot.storage.url import DatabaseURL

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_POOL_SIZE", "PostgresDatabase", "PostgresOpenError", "open_postgres"]

#: Connections per process; several processes share the server's ``max_connections``.
DEFAULT_POOL_SIZE = 10


class PostgresOpenError(RuntimeError):
    """The database could not be reached or opened; the message names it without a password."""


class PostgresDatabase:
    """An open PostgreSQL database with its repositories, all on one ``PostgresPool``."""

    def __init__(self, pool: PostgresPool, version: int) -> None:
        self._pool = pool
        self._version = version
        self._jobs = PostgresJobStore(pool)
        self._durations = PostgresDurationStats(pool)
        self._quotas = PostgresQuotaStore(pool)
        self._guild_settings = PostgresGuildSettingsStore(pool)
        self._uploads = PostgresUploadCache(pool)
        self._meta = PostgresMeta(pool)
        self._job_discord = PostgresJobDiscord(pool)
        self._identify = PostgresIdentifyGate(pool)
        self._audit = PostgresAuditStore(pool)
        self._trays = PostgresTrays(pool)
        self._history = PostgresJobHistory(pool)

    @property
    def connection(self) -> PostgresPool:
        """The pool every store uses (for tests and maintenance)."""
        return self._pool

    @property
    def jobs(self) -> PostgresJobStore:
        return self._jobs

    @property
    def uploads(self) -> PostgresUploadCache:
        return self._uploads

    @property
    def meta(self) -> PostgresMeta:
        return self._meta

    @property
    def job_discord(self) -> PostgresJobDiscord:
        return self._job_discord

    @property
    def durations(self) -> PostgresDurationStats:
        return self._durations

    @property
    def quotas(self) -> PostgresQuotaStore:
        return self._quotas

    @property
    def guild_settings(self) -> PostgresGuildSettingsStore:
        return self._guild_settings

    @property
    def audit(self) -> PostgresAuditStore:
        return self._audit

    @property
    def identify(self) -> PostgresIdentifyGate:
        return self._identify

    @property
    def trays(self) -> PostgresTrays:
        return self._trays

    @property
    def history(self) -> PostgresJobHistory:
        return self._history

    @property
    def schema_version(self) -> int:
        return self._version

    async def close(self) -> None:
        """Close the pool; every write was already committed."""
        await self._identify.close()
        await self._pool.close()


async def open_postgres(
    url: DatabaseURL,
    *,
    migrations_dir: Path | None = None,
    min_size: int = 1,
    max_size: int = DEFAULT_POOL_SIZE,
) -> PostgresDatabase:
    """Connect a pool to the database ``url`` names and bring its schema up to date.

    Migrations run on one connection under an advisory lock, so processes starting together
    migrate once. ``migrations_dir`` replaces the shipped ``bot/migrations/postgresql`` (tests).
    """
    if url.backend != "postgresql" or url.dsn is None:
        raise ValueError(f"not a PostgreSQL URL: {url!r}")
    try:
        raw = await asyncpg.create_pool(url.dsn, min_size=min_size, max_size=max_size)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        # The driver's message names the host and user, never the password; say which URL.
        raise PostgresOpenError(
            f"cannot open PostgreSQL database {url.redacted}: {type(exc).__name__}: {exc}"
        ) from None
    pool = PostgresPool(raw)
    try:
        async with raw.acquire() as conn:
            version = await apply_migrations(conn, migrations_dir)
    except BaseException:
        await pool.close()
        raise
    log.info("database open: %s (schema version %d)", url.redacted, version)
    return PostgresDatabase(pool, version)
