"""The guild settings store on PostgreSQL: art channels, gallery, defaults, limits, blocklist.

Every change is one transaction that also writes its audit row; ``update`` locks the server's
settings row first (``SELECT ... FOR UPDATE``) so two processes' changes are audited in turn.
"""

from __future__ import annotations

from typing import Any

from bot.guild_settings.records import SETTING_FIELDS, GuildSettingsRow
from bot.storage.postgres.audit import record_change
from bot.storage.postgres.connection import PostgresPool, Queries

__all__ = ["PostgresGuildSettingsStore"]

_SET_ACTIONS = {"guild_art_channels": "settings.channels", "guild_blocklist": "settings.blocklist"}


async def _settings_row(q: Queries, guild_id: int) -> GuildSettingsRow:
    row = await q.fetchone("SELECT * FROM guild_settings WHERE guild_id = $1", (guild_id,))
    channels = tuple(
        int(r[0])
        for r in await q.fetchall(
            "SELECT channel_id FROM guild_art_channels WHERE guild_id = $1 ORDER BY added_at,"
            " channel_id",
            (guild_id,),
        )
    )
    terms = tuple(
        str(r[0])
        for r in await q.fetchall(
            'SELECT term FROM guild_blocklist WHERE guild_id = $1 ORDER BY term COLLATE "C"',
            (guild_id,),
        )
    )
    if row is None:
        return GuildSettingsRow(guild_id, channels=channels, blocklist=terms)
    return GuildSettingsRow(
        guild_id=guild_id,
        gallery_channel_id=row["gallery_channel_id"],
        default_model=row["default_model"],
        default_quality=row["default_quality"],
        default_resolution=row["default_resolution"],
        max_count=row["max_count"],
        max_resolution=row["max_resolution"],
        language=row["language"],
        channels=channels,
        blocklist=terms,
    )


class PostgresGuildSettingsStore:
    """Art channels, gallery, defaults, limits and blocklist; every change audited."""

    def __init__(self, pool: PostgresPool) -> None:
        self._conn = pool

    async def get(self, guild_id: int) -> GuildSettingsRow:
        """Return the server's settings (all unset if it configured nothing)."""
        async with self._conn.batch() as q:
            return await _settings_row(q, guild_id)

    async def update(
        self, guild_id: int, *, actor_id: int, now: float, **changes: Any
    ) -> tuple[GuildSettingsRow, GuildSettingsRow]:
        """Change settings (None clears), auditing each change; return (before, after)."""
        unknown = set(changes) - SETTING_FIELDS
        if unknown:
            raise ValueError(f"unknown guild settings: {sorted(unknown)}")
        async with self._conn.transaction() as q:
            # An all-unset row reads like no row, so create it first and lock it.
            await q.execute(
                "INSERT INTO guild_settings (guild_id, updated_at) VALUES ($1, $2)"
                " ON CONFLICT (guild_id) DO NOTHING",
                (guild_id, now),
            )
            await q.fetchone(
                "SELECT 1 FROM guild_settings WHERE guild_id = $1 FOR UPDATE", (guild_id,)
            )
            before = await _settings_row(q, guild_id)
            for name, value in changes.items():
                await q.execute(
                    f"UPDATE guild_settings SET {name} = $1, updated_at = $2 WHERE guild_id = $3",
                    (value, now, guild_id),
                )
                old = getattr(before, name)
                if old != value:
                    await record_change(
                        q, guild_id, actor_id, f"settings.{name}", None, old, value, now
                    )
            return before, await _settings_row(q, guild_id)

    async def add_channel(
        self, guild_id: int, channel_id: int, *, actor_id: int, now: float
    ) -> bool:
        """Add an art channel; False if it was already listed."""
        return await self._change_set(
            "guild_art_channels", "channel_id", guild_id, channel_id, True, actor_id, now
        )

    async def remove_channel(
        self, guild_id: int, channel_id: int, *, actor_id: int, now: float
    ) -> bool:
        """Remove an art channel; False if it was not listed."""
        return await self._change_set(
            "guild_art_channels", "channel_id", guild_id, channel_id, False, actor_id, now
        )

    async def add_term(self, guild_id: int, term: str, *, actor_id: int, now: float) -> bool:
        """Add a blocklist term (stored case-folded); False if it was already there."""
        return await self._change_set(
            "guild_blocklist", "term", guild_id, term, True, actor_id, now
        )

    async def remove_term(self, guild_id: int, term: str, *, actor_id: int, now: float) -> bool:
        """Remove a blocklist term; False if it was not there."""
        return await self._change_set(
            "guild_blocklist", "term", guild_id, term, False, actor_id, now
        )

    async def _change_set(
        self,
        table: str,
        column: str,
        guild_id: int,
        value: int | str,
        add: bool,
        actor_id: int,
        now: float,
    ) -> bool:
        action = _SET_ACTIONS[table]
        async with self._conn.transaction() as q:
            if add:
                changed = await q.execute(
                    f"INSERT INTO {table} (guild_id, {column}, added_at) VALUES ($1, $2, $3)"
                    f" ON CONFLICT (guild_id, {column}) DO NOTHING",
                    (guild_id, value, now),
                )
            else:
                changed = await q.execute(
                    f"DELETE FROM {table} WHERE guild_id = $1 AND {column} = $2", (guild_id, value)
                )
            if changed == 1:
                before, after = (None, str(value)) if add else (str(value), None)
                await record_change(q, guild_id, actor_id, action, str(value), before, after, now)
            return changed == 1
