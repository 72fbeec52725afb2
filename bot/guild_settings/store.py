"""The port the server-settings service needs from storage."""

from __future__ import annotations

from typing import Any, Protocol

from bot.guild_settings.records import GuildSettingsRow

__all__ = ["GuildSettingsStore"]


class GuildSettingsStore(Protocol):
    """Art channels, gallery, defaults, limits, blocklist; every change is audited.

    The audit rows are written in the change's transaction; ``bot.audit.store`` reads them.
    """

    async def get(self, guild_id: int) -> GuildSettingsRow: ...

    async def update(
        self, guild_id: int, *, actor_id: int, now: float, **changes: Any
    ) -> tuple[GuildSettingsRow, GuildSettingsRow]: ...

    async def add_channel(
        self, guild_id: int, channel_id: int, *, actor_id: int, now: float
    ) -> bool: ...

    async def remove_channel(
        self, guild_id: int, channel_id: int, *, actor_id: int, now: float
    ) -> bool: ...

    async def add_term(self, guild_id: int, term: str, *, actor_id: int, now: float) -> bool: ...

    async def remove_term(self, guild_id: int, term: str, *, actor_id: int, now: float) -> bool: ...
