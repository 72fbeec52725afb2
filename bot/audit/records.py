"""One entry of the audit log."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AuditEntry"]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One moderator change."""

    id: int
    guild_id: int
    actor_id: int
    action: str
    subject: str | None
    before: str | None
    after: str | None
    at: float
