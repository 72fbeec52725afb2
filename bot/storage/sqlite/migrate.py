"""Apply the SQLite migration files (``bot/migrations/sqlite``) on the one connection."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import aiosqlite

from bot.storage.migrations import check_not_newer, discover_migrations, migrations_dir

log = logging.getLogger(__name__)

__all__ = ["apply_migrations", "current_version"]


async def current_version(conn: aiosqlite.Connection) -> int:
    """Return the highest applied migration version (0 for a new database)."""
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    async with conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def apply_migrations(conn: aiosqlite.Connection, directory: Path | None = None) -> int:
    """Apply every migration newer than the database's version; return the resulting version."""
    migrations = discover_migrations(directory or migrations_dir("sqlite"))
    version = await current_version(conn)
    check_not_newer(version, migrations)
    for migration in migrations:
        if migration.version <= version:
            continue
        log.info("applying migration %04d_%s", migration.version, migration.name)
        # One transaction per file: a failing migration leaves the previous version intact.
        script = (
            "BEGIN IMMEDIATE;\n"
            f"{migration.sql}\n;\n"
            "INSERT INTO schema_migrations (version, name, applied_at) "
            f"VALUES ({migration.version}, '{migration.name}', {time.time()!r});\n"
            "COMMIT;"
        )
        try:
            await conn.executescript(script)
        except Exception:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            raise
        version = migration.version
    return version
