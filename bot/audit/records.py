"""One entry of the audit log."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SYSTEM_ACTOR", "AuditEntry"]

#: The actor of changes Atelier makes itself (a retired model replaced by its successor).
SYSTEM_ACTOR = 0


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
