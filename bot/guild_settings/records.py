"""Guild settings records shared by the service and the storage layer (no Discord, no SQL)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SETTING_FIELDS", "GuildSettingsRow"]

# Fields ``GuildSettingsStore.update`` may change.
SETTING_FIELDS = frozenset(
    {
        "gallery_channel_id",
        "language",
        "default_model",
        "default_quality",
        "default_resolution",
        "max_count",
        "max_resolution",
    }
)


@dataclass(frozen=True, slots=True)
class GuildSettingsRow:
    """A server's moderator settings; None means not set (the operator's default applies)."""

    guild_id: int
    gallery_channel_id: int | None = None
    default_model: str | None = None
    default_quality: str | None = None
    default_resolution: str | None = None
    max_count: int | None = None
    max_resolution: str | None = None
    #: the language of public posts (``bot.i18n.LANGUAGES``); None follows the server's Discord language
    language: str | None = None
    channels: tuple[int, ...] = ()
    blocklist: tuple[str, ...] = ()
