"""Storage: open a database from ``DATABASE_URL`` and reach its repositories through protocols."""

from __future__ import annotations

from pathlib import Path

from bot.audit.store import AuditStore
from bot.guild_settings.store import GuildSettingsStore
from bot.jobs.store import DurationStat, DurationStatsStore, JobStore
from bot.quota.store import QuotaStore
from bot.storage.base import Database
from bot.storage.url import DatabaseURL, UnsupportedDatabaseError, parse_database_url

__all__ = [
    "AuditStore",
    "Database",
    "DatabaseURL",
    "DurationStat",
    "DurationStatsStore",
    "GuildSettingsStore",
    "JobStore",
    "QuotaStore",
    "UnsupportedDatabaseError",
    "open_database",
    "parse_database_url",
]


async def open_database(
    url: str | DatabaseURL, *, migrations_dir: Path | None = None, cwd: Path | None = None
) -> Database:
    """Open the database ``url`` names, applying pending migrations; callers see only ``Database``.

    ``migrations_dir`` replaces the backend's shipped migration directory (tests).
    """
    parsed = url if isinstance(url, DatabaseURL) else parse_database_url(url, cwd=cwd)
    if parsed.backend == "sqlite":
        from bot.storage.sqlite import open_sqlite

        return await open_sqlite(parsed, migrations_dir=migrations_dir)
    if parsed.backend == "postgresql":
        from bot.storage.postgres import open_postgres

        return await open_postgres(parsed, migrations_dir=migrations_dir)
    raise UnsupportedDatabaseError(f"no storage backend for {parsed.backend!r}")
