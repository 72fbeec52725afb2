"""SQLite implementations of the reference tray and the job history (migration 0010)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.generation.tray_store import TrayImage
from bot.jobs.records import Job
from bot.storage.sqlite.connection import SQLiteConnection
from bot.storage.sqlite.jobs import _row_to_job
from bot.storage.tray_rows import INSERT_COLUMNS, SELECT_COLUMNS, tray_image, tray_rows

__all__ = ["SQLiteJobHistory", "SQLiteTrays"]


class SQLiteTrays:
    """The ``reference_tray`` table."""

    def __init__(self, conn: SQLiteConnection) -> None:
        self._conn = conn

    async def add(
        self, guild_id: int, member_id: int, images: Sequence[TrayImage], *, now: float
    ) -> None:
        """Append ``images`` to the member's tray, added at ``now``."""
        await self._conn.executemany(
            f"INSERT INTO reference_tray ({INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            tray_rows(guild_id, member_id, images, now),
        )

    async def items(self, guild_id: int, member_id: int) -> list[TrayImage]:
        """Return the member's tray, oldest first."""
        rows = await self._conn.fetchall(
            f"SELECT {SELECT_COLUMNS} FROM reference_tray WHERE guild_id = ? AND member_id = ?"
            " ORDER BY id",
            (guild_id, member_id),
        )
        return [tray_image(r) for r in rows]

    async def remove(self, guild_id: int, member_id: int, ids: Sequence[int]) -> int:
        """Remove these images from the member's tray; return how many were removed."""
        if not ids:
            return 0
        marks = ", ".join("?" for _ in ids)
        return await self._conn.execute(
            f"DELETE FROM reference_tray WHERE guild_id = ? AND member_id = ? AND id IN ({marks})",
            (guild_id, member_id, *ids),
        )

    async def clear(self, guild_id: int, member_id: int) -> int:
        """Empty the member's tray; return how many images it held."""
        return await self._conn.execute(
            "DELETE FROM reference_tray WHERE guild_id = ? AND member_id = ?",
            (guild_id, member_id),
        )


class SQLiteJobHistory:
    """A member's jobs in a server, newest first (the ``jobs`` table)."""

    def __init__(self, conn: SQLiteConnection) -> None:
        self._conn = conn

    async def page(self, guild_id: int, member_id: int, *, offset: int, limit: int) -> list[Job]:
        """Return up to ``limit`` jobs after skipping the ``offset`` newest."""
        rows = await self._conn.fetchall(
            "SELECT * FROM jobs WHERE guild_id = ? AND member_id = ?"
            " ORDER BY id DESC LIMIT ? OFFSET ?",
            (guild_id, member_id, max(0, limit), max(0, offset)),
        )
        return [_row_to_job(r) for r in rows]

    async def count(self, guild_id: int, member_id: int) -> int:
        """Return how many jobs the member has in the server."""
        row = await self._conn.fetchone(
            "SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND member_id = ?",
            (guild_id, member_id),
        )
        return 0 if row is None else int(row[0])
