"""PostgreSQL implementations of the Discord layer's stores (tables of migration 0005)."""

from __future__ import annotations

from bot.generation.store import JobDiscordInfo
from bot.storage.postgres.connection import PostgresPool

__all__ = ["PostgresJobDiscord", "PostgresMeta", "PostgresUploadCache"]


class PostgresUploadCache:
    """The ``upload_cache`` table."""

    def __init__(self, pool: PostgresPool) -> None:
        self._pool = pool

    async def get(self, sha256: str, *, fresh_after: float) -> str | None:
        """Return the URL of these bytes if they were uploaded after ``fresh_after``."""
        row = await self._pool.fetchone(
            "SELECT url FROM upload_cache WHERE sha256 = $1 AND uploaded_at > $2",
            (sha256, fresh_after),
        )
        return None if row is None else str(row[0])

    async def put(self, sha256: str, url: str, *, now: float) -> None:
        """Remember (or refresh) the URL of these bytes."""
        await self._pool.execute(
            "INSERT INTO upload_cache (sha256, url, uploaded_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (sha256) DO UPDATE SET url = excluded.url,"
            " uploaded_at = excluded.uploaded_at",
            (sha256, url, now),
        )

    async def prune(self, *, older_than: float) -> int:
        """Forget uploads made before ``older_than``; return how many."""
        return await self._pool.execute(
            "DELETE FROM upload_cache WHERE uploaded_at < $1", (older_than,)
        )


class PostgresMeta:
    """The ``bot_meta`` table."""

    def __init__(self, pool: PostgresPool) -> None:
        self._pool = pool

    async def get(self, key: str) -> str | None:
        """Return the value, or None if it was never set."""
        row = await self._pool.fetchone("SELECT value FROM bot_meta WHERE key = $1", (key,))
        return None if row is None else str(row[0])

    async def set(self, key: str, value: str, *, now: float) -> None:
        """Set (insert or replace) the value."""
        await self._pool.execute(
            "INSERT INTO bot_meta (key, value, updated_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            (key, value, now),
        )


class PostgresJobDiscord:
    """The ``job_discord`` table."""

    def __init__(self, pool: PostgresPool) -> None:
        self._pool = pool

    async def put(self, info: JobDiscordInfo, *, now: float) -> None:
        """Record (insert or replace) a job's extras."""
        await self._pool.execute(
            "INSERT INTO job_discord"
            " (job_id, command, requester_name, filesize_limit, parent_job_id, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (job_id) DO UPDATE SET"
            " command = excluded.command, requester_name = excluded.requester_name,"
            " filesize_limit = excluded.filesize_limit, parent_job_id = excluded.parent_job_id,"
            " created_at = excluded.created_at",
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
        row = await self._pool.fetchone(
            "SELECT job_id, command, requester_name, filesize_limit, parent_job_id"
            " FROM job_discord WHERE job_id = $1",
            (job_id,),
        )
        if row is None:
            return None
        return JobDiscordInfo(
            job_id=int(row[0]),
            command=str(row[1]),
            requester_name=str(row[2] or ""),
            filesize_limit=None if row[3] is None else int(row[3]),
            parent_job_id=None if row[4] is None else int(row[4]),
        )
