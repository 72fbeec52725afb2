"""The language of a server's public posts: results, progress, failures, fallbacks, the gallery.

A moderator's ``/settings language`` wins; otherwise the server's Discord language
(``preferred_locale``): from the gateway's guild cache when this process has the server there
(GUILD_UPDATE keeps it current), else as learned from the server's latest interaction or
fetched over REST (a job worker, or a process serving other shards, has no cache of it). A
learned or fetched language is trusted for ``DISCORD_LOCALE_TTL`` seconds, then fetched again,
so a server that changes its Discord language is heard without a restart. English when
nothing is known or the language is not shipped.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord

from bot import i18n
from bot.clock import Clock, SystemClock
from bot.guild_settings.service import GuildSettingsService

__all__ = ["DISCORD_LOCALE_TTL", "FETCH_RETRY_SECONDS", "FETCH_TIMEOUT_SECONDS", "ServerLanguages"]

log = logging.getLogger(__name__)

#: How long a learned or fetched Discord language is trusted. Servers change it rarely (a
#: Community setting); ten minutes shows a change soon after, for at most one REST call per
#: server every ten minutes on a busy worker (far below Discord's rate limits).
DISCORD_LOCALE_TTL = 600.0
#: After a failed fetch the last known language (or English) is used this long before Discord
#: is asked again: posts never wait on, nor hammer, a Discord that is failing.
FETCH_RETRY_SECONDS = 60.0
#: A post waits at most this long for the server's language (then uses what it knows).
FETCH_TIMEOUT_SECONDS = 10.0


@dataclass
class _Known:
    locale: str | None  # None: never learned, only a failed fetch is remembered
    learned_at: float  # monotonic seconds; -inf when never learned
    retry_at: float = 0.0  # no fetch before this (after a failure)


def _locale_name(locale: Any) -> str:
    return str(getattr(locale, "value", locale))


class ServerLanguages:
    """Which shipped language a server's public posts use."""

    def __init__(
        self,
        client: discord.Client,
        settings: GuildSettingsService,
        *,
        clock: Clock | None = None,
        ttl: float = DISCORD_LOCALE_TTL,
        retry: float = FETCH_RETRY_SECONDS,
        fetch_timeout: float = FETCH_TIMEOUT_SECONDS,
    ) -> None:
        self.client = client
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.ttl = ttl
        self.retry = retry
        self.fetch_timeout = fetch_timeout
        #: The gateway client whose guild cache is read first (``watch``); none on a worker.
        self.gateway: discord.Client | None = None
        self._known: dict[int, _Known] = {}  # guild id -> its Discord locale, as last learned
        self._fetching: dict[int, asyncio.Task[str | None]] = {}

    def watch(self, gateway: discord.Client) -> None:
        """Read servers' languages from ``gateway``'s guild cache when it has them."""
        self.gateway = gateway

    def learn(self, guild_id: int | None, guild_locale: Any) -> None:
        """Remember a server's Discord locale (every interaction carries it)."""
        if guild_id is not None and guild_locale is not None:
            self._known[guild_id] = _Known(_locale_name(guild_locale), self.clock.monotonic())

    def _cached_guild(self, guild_id: int) -> discord.Guild | None:
        for client in (self.gateway, self.client):
            guild = client.get_guild(guild_id) if client is not None else None
            # An unavailable server (a Discord outage) carries no locale, only a default.
            if guild is not None and not guild.unavailable:
                return guild
        return None

    async def _discord_locale(self, guild_id: int) -> str | None:
        guild = self._cached_guild(guild_id)
        if guild is not None:  # the gateway's cache: current, and costs nothing
            return _locale_name(guild.preferred_locale)
        known = self._known.get(guild_id)
        now = self.clock.monotonic()
        if known is not None and (now - known.learned_at < self.ttl or now < known.retry_at):
            return known.locale
        task = self._fetching.get(guild_id)
        if task is None:  # one fetch per server at a time, however many posts wait for it
            task = asyncio.create_task(self._fetch(guild_id))
            self._fetching[guild_id] = task
            task.add_done_callback(lambda _: self._fetching.pop(guild_id, None))
        # Shielded: a post that is cancelled does not cancel the fetch others wait for.
        return await asyncio.shield(task)

    async def _fetch(self, guild_id: int) -> str | None:
        try:
            guild = await asyncio.wait_for(
                self.client.fetch_guild(guild_id, with_counts=False), self.fetch_timeout
            )
        except (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            known = self._known.get(guild_id) or _Known(None, float("-inf"))
            known.retry_at = self.clock.monotonic() + self.retry
            self._known[guild_id] = known
            log.info(
                "could not fetch server %d for its language (%r); using %s for %.0f s",
                guild_id,
                exc,
                known.locale or "English",
                self.retry,
            )
            return known.locale
        self.learn(guild_id, guild.preferred_locale)
        return _locale_name(guild.preferred_locale)

    async def of(self, guild_id: int | None) -> str:
        """The language of ``guild_id``'s public posts (English outside servers)."""
        if guild_id is None:
            return i18n.SOURCE
        chosen = await self.settings.language(guild_id)
        if chosen is not None:
            return i18n.language_for(chosen)
        return i18n.language_for(await self._discord_locale(guild_id))
