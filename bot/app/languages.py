"""The language of a server's public posts: results, progress, failures, fallbacks, the gallery.

A moderator's ``/settings language`` wins; otherwise the server's Discord language
(``guild_locale``), learned from the server's interactions or fetched over REST once (a job
worker without a gateway has no guild cache); English when neither is known or shipped.
"""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot import i18n
from bot.guild_settings.service import GuildSettingsService

__all__ = ["ServerLanguages"]

log = logging.getLogger(__name__)


class ServerLanguages:
    """Which shipped language a server's public posts use."""

    def __init__(self, client: discord.Client, settings: GuildSettingsService) -> None:
        self.client = client
        self.settings = settings
        self._discord: dict[int, str] = {}  # guild id -> its Discord locale, as last seen

    def learn(self, guild_id: int | None, guild_locale: Any) -> None:
        """Remember a server's Discord locale (every interaction carries it)."""
        if guild_id is not None and guild_locale is not None:
            self._discord[guild_id] = str(getattr(guild_locale, "value", guild_locale))

    async def _discord_locale(self, guild_id: int) -> str | None:
        if guild_id in self._discord:
            return self._discord[guild_id]
        guild = self.client.get_guild(guild_id)
        if guild is None:
            try:
                guild = await self.client.fetch_guild(guild_id, with_counts=False)
            except discord.HTTPException as exc:
                log.info("could not fetch server %d for its language: %s", guild_id, exc)
                return None
        self.learn(guild_id, guild.preferred_locale)
        return self._discord.get(guild_id)

    async def of(self, guild_id: int | None) -> str:
        """The language of ``guild_id``'s public posts (English outside servers)."""
        if guild_id is None:
            return i18n.SOURCE
        chosen = await self.settings.language(guild_id)
        if chosen is not None:
            return i18n.language_for(chosen)
        return i18n.language_for(await self._discord_locale(guild_id))
