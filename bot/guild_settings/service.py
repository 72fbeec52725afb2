"""Moderator settings of a server: art channels, gallery, defaults, limits, blocklist.

No Discord here: channels and members are ids; every change is recorded in the audit log by
the storage layer in the same transaction as the change.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from bot.audit.records import SYSTEM_ACTOR
from bot.clock import Clock, SystemClock
from bot.guild_settings.blocklist import normalize_term
from bot.guild_settings.records import GuildSettingsRow
from bot.guild_settings.store import GuildSettingsStore
from bot.i18n import LANGUAGES
from bot.messages import say
from bot.policy import GuildDefaults
from bot.refusal import Refusal
from bot.toapis.catalog import CATALOG, active_catalog

log = logging.getLogger(__name__)

__all__ = [
    "MAX_ART_CHANNELS",
    "MAX_BLOCKLIST_TERMS",
    "RESOLUTION_RANK",
    "GuildSettingsService",
    "SettingsError",
]

MAX_ART_CHANNELS = 25
MAX_BLOCKLIST_TERMS = 200
RESOLUTION_RANK = {"1k": 1, "2k": 2, "4k": 3}
CLEAR = "default"  # the option value that puts a setting back to the operator's default


class SettingsError(Refusal):
    """A moderator's input is not valid; the message says what to change."""


def _clearing(value: str | None) -> bool:
    return value is not None and value.strip().lower() in {CLEAR, "clear", "none", "reset"}


class GuildSettingsService:
    """Read and change a server's settings; ``defaults`` fills options a member left out."""

    def __init__(
        self, store: GuildSettingsStore, *, operator: GuildDefaults, clock: Clock | None = None
    ) -> None:
        self.store = store
        self.operator = operator
        self.clock: Clock = clock or SystemClock()
        self._retiring = asyncio.Lock()

    async def get(self, guild_id: int) -> GuildSettingsRow:
        """Return the server's settings; a retired default model becomes its successor."""
        row = await self.store.get(guild_id)
        if row.default_model is None or active_catalog().retired_to(row.default_model) is None:
            return row
        return await self._replace_retired(guild_id)

    async def _replace_retired(self, guild_id: int) -> GuildSettingsRow:
        """Store the successor of a retired default model, audited once (as Atelier's change)."""
        async with self._retiring:  # concurrent reads of the server store it (and audit it) once
            row = await self.store.get(guild_id)
            old = row.default_model
            successor = active_catalog().retired_to(old) if old is not None else None
            if successor is None:
                return row
            _, row = await self.store.update(
                guild_id, actor_id=SYSTEM_ACTOR, now=self.clock.now(), default_model=successor
            )
        log.info("server %d: retired default model %s replaced by %s", guild_id, old, successor)
        return row

    # -- art channels and gallery -------------------------------------------------------------

    async def add_channel(self, guild_id: int, channel_id: int, actor_id: int) -> bool:
        """Allow generation in ``channel_id``; False if it was already an art channel."""
        row = await self.store.get(guild_id)
        if channel_id in row.channels:
            return False
        if len(row.channels) >= MAX_ART_CHANNELS:
            raise SettingsError(say("settings.too_many_channels", limit=MAX_ART_CHANNELS))
        return await self.store.add_channel(
            guild_id, channel_id, actor_id=actor_id, now=self.clock.now()
        )

    async def remove_channel(self, guild_id: int, channel_id: int, actor_id: int) -> bool:
        """Stop listing ``channel_id``; False if it was not an art channel."""
        return await self.store.remove_channel(
            guild_id, channel_id, actor_id=actor_id, now=self.clock.now()
        )

    async def set_gallery(
        self, guild_id: int, channel_id: int | None, actor_id: int
    ) -> tuple[int | None, int | None]:
        """Set (or with None, turn off) the gallery channel; return (before, after)."""
        before, after = await self.store.update(
            guild_id, actor_id=actor_id, now=self.clock.now(), gallery_channel_id=channel_id
        )
        return before.gallery_channel_id, after.gallery_channel_id

    # -- defaults and limits ------------------------------------------------------------------

    async def set_defaults(
        self,
        guild_id: int,
        actor_id: int,
        *,
        model: str | None = None,
        quality: str | None = None,
        resolution: str | None = None,
    ) -> tuple[GuildSettingsRow, GuildSettingsRow]:
        """Set the server's default model/quality/resolution (``default`` clears one)."""
        changes: dict[str, object] = {}
        if model is not None:
            if _clearing(model):
                changes["default_model"] = None
            elif model not in CATALOG:
                raise SettingsError(
                    say("settings.unknown_model", model=model[:40], known=" or ".join(CATALOG))
                )
            else:
                changes["default_model"] = model
        if quality is not None:
            if _clearing(quality):
                changes["default_quality"] = None
            elif quality not in ("low", "medium", "high"):
                raise SettingsError(say("settings.bad_quality"))
            else:
                changes["default_quality"] = quality
        if resolution is not None:
            if _clearing(resolution):
                changes["default_resolution"] = None
            elif resolution not in RESOLUTION_RANK:
                raise SettingsError(say("settings.bad_resolution"))
            else:
                changes["default_resolution"] = resolution
        return await self._update(guild_id, actor_id, changes)

    async def set_limits(
        self,
        guild_id: int,
        actor_id: int,
        *,
        max_count: int | None = None,
        max_resolution: str | None = None,
    ) -> tuple[GuildSettingsRow, GuildSettingsRow]:
        """Set the most images per request (0 clears) and the highest resolution allowed."""
        changes: dict[str, object] = {}
        ceiling = self.operator.max_count
        if max_count is not None:
            if max_count == 0:
                changes["max_count"] = None
            elif not 1 <= max_count <= ceiling:
                raise SettingsError(say("settings.max_count_range", ceiling=ceiling))
            else:
                changes["max_count"] = max_count
        if max_resolution is not None:
            if _clearing(max_resolution):
                changes["max_resolution"] = None
            elif max_resolution not in RESOLUTION_RANK:
                raise SettingsError(say("settings.bad_max_resolution"))
            else:
                changes["max_resolution"] = max_resolution
        return await self._update(guild_id, actor_id, changes)

    async def set_language(
        self, guild_id: int, actor_id: int, language: str | None
    ) -> tuple[GuildSettingsRow, GuildSettingsRow]:
        """Set the language of the server's public posts (None: follow Discord's)."""
        if language is not None and language not in LANGUAGES:
            raise SettingsError(say("settings.bad_language", known=", ".join(LANGUAGES)))
        return await self._update(guild_id, actor_id, {"language": language})

    async def language(self, guild_id: int | None) -> str | None:
        """The language a moderator chose for the server's public posts, if any."""
        if guild_id is None:
            return None
        return (await self.store.get(guild_id)).language

    async def _update(
        self, guild_id: int, actor_id: int, changes: dict[str, object]
    ) -> tuple[GuildSettingsRow, GuildSettingsRow]:
        if not changes:
            row = await self.store.get(guild_id)
            return row, row
        return await self.store.update(guild_id, actor_id=actor_id, now=self.clock.now(), **changes)

    async def defaults(self, guild_id: int | None) -> GuildDefaults:
        """Return the defaults for options a member leaves out, and the image-count ceiling."""
        if guild_id is None:
            return self.operator
        row = await self.get(guild_id)
        model = row.default_model or self.operator.model
        caps = CATALOG.get(model)
        out = replace(self.operator, model=model)
        if caps is not None and model != self.operator.model and out.size not in caps.sizes:
            out = replace(out, size=caps.default_size)
        if caps is not None and caps.resolutions is None:
            out = replace(out, resolution=None)
        elif row.default_resolution:
            out = replace(out, resolution=row.default_resolution)
        elif out.resolution is None:
            out = replace(out, resolution="1k")
        if caps is not None and caps.qualities is None:
            out = replace(out, quality=None)
        elif row.default_quality:
            out = replace(out, quality=row.default_quality)
        elif out.quality is None:
            out = replace(out, quality="medium")
        if row.max_resolution and out.resolution is not None:
            if RESOLUTION_RANK[out.resolution] > RESOLUTION_RANK[row.max_resolution]:
                out = replace(out, resolution=row.max_resolution)
        if out.resolution == "4k" and caps is not None and out.size not in caps.resolution_4k_sizes:
            out = replace(out, size=caps.resolution_4k_sizes[0])
        if row.max_count is not None:
            out = replace(out, max_count=min(out.max_count, row.max_count))
        return out

    # -- blocklist ----------------------------------------------------------------------------

    async def add_term(self, guild_id: int, term: str, actor_id: int) -> tuple[str, bool]:
        """Block a word or phrase; return (stored form, whether it was new)."""
        normalized = normalize_term(term)  # a bad term raises BlocklistError (a Refusal)
        row = await self.store.get(guild_id)
        if normalized in row.blocklist:
            return normalized, False
        if len(row.blocklist) >= MAX_BLOCKLIST_TERMS:
            raise SettingsError(say("settings.blocklist_full", limit=MAX_BLOCKLIST_TERMS))
        added = await self.store.add_term(
            guild_id, normalized, actor_id=actor_id, now=self.clock.now()
        )
        return normalized, added

    async def remove_term(self, guild_id: int, term: str, actor_id: int) -> tuple[str, bool]:
        """Unblock a word or phrase; return (stored form, whether it was listed)."""
        normalized = normalize_term(term)  # a bad term raises BlocklistError (a Refusal)
        removed = await self.store.remove_term(
            guild_id, normalized, actor_id=actor_id, now=self.clock.now()
        )
        return normalized, removed
