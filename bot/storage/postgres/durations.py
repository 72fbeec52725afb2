"""Learned generation durations (the ``duration_stats`` table) on PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping

from bot.jobs.store import DurationStat
from bot.storage.postgres.connection import PostgresPool

__all__ = ["PostgresDurationStats"]


class PostgresDurationStats:
    """Learned durations in the ``duration_stats`` table."""

    def __init__(self, pool: PostgresPool) -> None:
        self._pool = pool

    async def load(self) -> dict[str, DurationStat]:
        """Return every stored profile's statistics."""
        rows = await self._pool.fetchall(
            "SELECT profile, mean_log, var_log, samples FROM duration_stats"
        )
        return {r[0]: DurationStat(float(r[1]), float(r[2]), int(r[3])) for r in rows}

    async def save(self, stats: Mapping[str, DurationStat], *, now: float) -> None:
        """Store (insert or replace) the given profiles' statistics."""
        if not stats:
            return
        await self._pool.executemany(
            "INSERT INTO duration_stats (profile, mean_log, var_log, samples, updated_at)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (profile) DO UPDATE SET"
            " mean_log = excluded.mean_log, var_log = excluded.var_log,"
            " samples = excluded.samples, updated_at = excluded.updated_at",
            [(k, s.mean_log, s.var_log, s.samples, now) for k, s in stats.items()],
        )
