"""Apply the PostgreSQL migration files (``bot/migrations/postgresql``) exactly once.

Several bot processes may start together against one database. All of them take the same
session-level advisory lock (``pg_advisory_lock``) before reading the schema version, so the
first migrates and the others wait, then find nothing left to do. Each file runs in its own
transaction with its ``schema_migrations`` row, so a failing file leaves the previous version.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import asyncpg

from bot.storage.migrations import check_not_newer, discover_migrations, migrations_dir

log = logging.getLogger(__name__)

__all__ = ["MIGRATION_LOCK", "apply_migrations", "current_version"]

#: The advisory lock key every process migrating this database takes (any constant bigint).
MIGRATION_LOCK = 0x4154454C49455201  # "ATELIER" + 1


async def current_version(conn: asyncpg.Connection) -> int:
    """Return the highest applied migration version (0 for a new database)."""
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
    )
    return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))


async def apply_migrations(conn: asyncpg.Connection, directory: Path | None = None) -> int:
    """Apply every migration newer than the database's version; return the resulting version."""
    migrations = discover_migrations(directory or migrations_dir("postgresql"))
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        version = await current_version(conn)
        check_not_newer(version, migrations)
        for migration in migrations:
            if migration.version <= version:
                continue
            log.info("applying migration %04d_%s", migration.version, migration.name)
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    time.time(),
                )
            version = migration.version
        return version
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
