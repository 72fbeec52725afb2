"""PostgreSQL implementations of the reference tray and the job history (migration 0010)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.generation.tray_store import TrayImage
from bot.jobs.records import Job
from bot.storage.postgres.connection import PostgresPool
from bot.storage.postgres.jobs import _row_to_job
from bot.storage.tray_rows import INSERT_COLUMNS, SELECT_COLUMNS, tray_image, tray_rows

__all__ = ["PostgresJobHistory", "PostgresTrays"]


class PostgresTrays:
    """The ``reference_tray`` table."""

    def __init__(self, pool: PostgresPool) -> None:
        self._pool = pool

    async def add(
        self, guild_id: int, member_id: int, images: Sequence[TrayImage], *, now: float
    ) -> None:
        """Append ``images`` to the member's tray, added at ``now``."""
        await self._pool.executemany(
            f"INSERT INTO reference_tray ({INSERT_COLUMNS})"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            tray_rows(guild_id, member_id, images, now),
        )

    async def items(self, guild_id: int, member_id: int) -> list[TrayImage]:
        """Return the member's tray, oldest first."""
        rows = await self._pool.fetchall(
            f"SELECT {SELECT_COLUMNS} FROM reference_tray WHERE guild_id = $1 AND member_id = $2"
            " ORDER BY id",
            (guild_id, member_id),
        )
        return [tray_image(r) for r in rows]

    async def remove(self, guild_id: int, member_id: int, ids: Sequence[int]) -> int:
        """Remove these images from the member's tray; return how many were removed."""
        if not ids:
            return 0
        return await self._pool.execute(
            "DELETE FROM reference_tray WHERE guild_id = $1 AND member_id = $2 AND id = ANY($3)",
            (guild_id, member_id, [int(i) for i in ids]),
        )

    async def clear(self, guild_id: int, member_id: int) -> int:
        """Empty the member's tray; return how many images it held."""
        return await self._pool.execute(
            "DELETE FROM reference_tray WHERE guild_id = $1 AND member_id = $2",
            (guild_id, member_id),
        )


class PostgresJobHistory:
    """A member's jobs in a server, newest first (the ``jobs`` table)."""

    def __init__(self, pool: PostgresPool) -> None:
        self._pool = pool

    async def page(self, guild_id: int, member_id: int, *, offset: int, limit: int) -> list[Job]:
        """Return up to ``limit`` jobs after skipping the ``offset`` newest."""
        rows = await self._pool.fetchall(
            "SELECT * FROM jobs WHERE guild_id = $1 AND member_id = $2"
            " ORDER BY id DESC LIMIT $3 OFFSET $4",
            (guild_id, member_id, max(0, limit), max(0, offset)),
        )
        return [_row_to_job(r) for r in rows]

    async def count(self, guild_id: int, member_id: int) -> int:
        """Return how many jobs the member has in the server."""
        row = await self._pool.fetchone(
            "SELECT COUNT(*) FROM jobs WHERE guild_id = $1 AND member_id = $2",
            (guild_id, member_id),
        )
        return 0 if row is None else int(row[0])
