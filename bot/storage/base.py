"""The open database: every domain's store in one place; backends (SQLite today) build it.

The store protocols live beside their domains (``bot.jobs.store``, ``bot.quota.store``,
``bot.guild_settings.store``, ``bot.audit.store``, ``bot.generation.store``); storage implements
them and imports no rules. ``MetaStore`` (small named values) is storage's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from bot.audit.store import AuditStore
from bot.generation.history import JobHistoryStore
from bot.generation.store import JobDiscordStore
from bot.generation.tray_store import TrayStore
from bot.guild_settings.store import GuildSettingsStore
from bot.jobs.store import DurationStatsStore, JobStore, UploadCacheStore
from bot.quota.store import QuotaStore

if TYPE_CHECKING:
    from bot.identify import IdentifyGate

__all__ = ["Database", "MetaStore"]


class MetaStore(Protocol):
    """Small named text values (e.g. the hash of the last synced command tree)."""

    async def get(self, key: str) -> str | None:
        """Return the value, or None if it was never set."""
        ...

    async def set(self, key: str, value: str, *, now: float) -> None:
        """Set (insert or replace) the value."""
        ...


class Database(Protocol):
    """An open database: its repositories and its schema version."""

    @property
    def jobs(self) -> JobStore: ...

    @property
    def durations(self) -> DurationStatsStore: ...

    @property
    def quotas(self) -> QuotaStore: ...

    @property
    def guild_settings(self) -> GuildSettingsStore: ...

    @property
    def uploads(self) -> UploadCacheStore: ...

    @property
    def meta(self) -> MetaStore: ...

    @property
    def job_discord(self) -> JobDiscordStore: ...

    @property
    def audit(self) -> AuditStore:
        """The audit log of moderator changes (written by the quota and settings stores)."""
        ...

    @property
    def identify(self) -> IdentifyGate:
        """The gateway identify gate shared by every process on this database."""
        ...

    @property
    def trays(self) -> TrayStore:
        """Members' reference trays (``bot.generation.tray_store``)."""
        ...

    @property
    def history(self) -> JobHistoryStore:
        """Members' jobs per server, newest first (``/history``)."""
        ...

    @property
    def schema_version(self) -> int: ...

    async def close(self) -> None:
        """Close the connection; pending writes are already committed."""
        ...
