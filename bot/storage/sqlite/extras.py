"""SQLite implementations of the Discord layer's stores (tables of migration 0005)."""

from __future__ import annotations

from bot.generation.store import JobDiscordInfo
from bot.storage.sqlite.connection import SQLiteConnection

__all__ = ["SQLiteJobDiscord", "SQLiteMeta", "SQLiteUploadCache"]


class SQLiteUploadCache:
    """The ``upload_cache`` table."""

    def __init__(self, conn: SQLiteConnection) -> None:
        self._conn = conn

    async def get(self, sha256: str, *, fresh_after: float) -> str | None:
        """Return the URL of these bytes if they were uploaded after ``fresh_after``."""
        rows = await self._conn.fetchall(
            "SELECT url FROM upload_cache WHERE sha256 = ? AND uploaded_at > ?",
            (sha256, fresh_after),
        )
        for row in rows:
            return str(row[0])
        return None

    async def put(self, sha256: str, url: str, *, now: float) -> None:
        """Remember (or refresh) the URL of these bytes."""
        await self._conn.execute(
            "INSERT INTO upload_cache (sha256, url, uploaded_at) VALUES (?, ?, ?)"
            " ON CONFLICT (sha256) DO UPDATE SET url = excluded.url,"
            " uploaded_at = excluded.uploaded_at",
            (sha256, url, now),
        )

    async def prune(self, *, older_than: float) -> int:
        """Forget uploads made before ``older_than``; return how many."""
        return await self._conn.execute(
            "DELETE FROM upload_cache WHERE uploaded_at < ?", (older_than,)
        )


class SQLiteMeta:
    """The ``bot_meta`` table."""

    def __init__(self, conn: SQLiteConnection) -> None:
        self._conn = conn

    async def get(self, key: str) -> str | None:
        """Return the value, or None if it was never set."""
        rows = await self._conn.fetchall("SELECT value FROM bot_meta WHERE key = ?", (key,))
        for row in rows:
            return str(row[0])
        return None

    async def set(self, key: str, value: str, *, now: float) -> None:
        """Set (insert or replace) the value."""
        await self._conn.execute(
            "INSERT INTO bot_meta (key, value, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            (key, value, now),
        )


class SQLiteJobDiscord:
    """The ``job_discord`` table."""

    def __init__(self, conn: SQLiteConnection) -> None:
        self._conn = conn

    async def put(self, info: JobDiscordInfo, *, now: float) -> None:
        """Record (insert or replace) a job's extras."""
        await self._conn.execute(
            "INSERT OR REPLACE INTO job_discord"
            " (job_id, command, requester_name, filesize_limit, parent_job_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                info.job_id,
                info.command,
                info.requester_name,
                info.filesize_limit,
                info.parent_job_id,
                now,
            ),
        )

    async def get(self, job_id: int) -> JobDiscordInfo | None:
        """Return a job's extras, or None."""
        rows = await self._conn.fetchall(
            "SELECT job_id, command, requester_name, filesize_limit, parent_job_id"
            " FROM job_discord WHERE job_id = ?",
            (job_id,),
        )
        for row in rows:
            return JobDiscordInfo(
                job_id=int(row[0]),
                command=str(row[1]),
                requester_name=str(row[2] or ""),
                filesize_limit=None if row[3] is None else int(row[3]),
                parent_job_id=None if row[4] is None else int(row[4]),
            )
        return None
