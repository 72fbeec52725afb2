"""The port for reading the audit log; each store writes its rows in its own transactions."""

from __future__ import annotations

from typing import Protocol

from bot.audit.records import AuditEntry

__all__ = ["AuditStore"]


class AuditStore(Protocol):
    """The moderator changes of every server (settings and quotas), newest first."""

    async def recent(
        self, guild_id: int, *, limit: int = 20, before_id: int | None = None
    ) -> list[AuditEntry]:
        """Return the newest entries of the server, optionally only those older than ``before_id``."""
        ...
