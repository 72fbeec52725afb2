"""The audit log (``guild_audit``) on PostgreSQL: rows written inside each store's transaction."""

from __future__ import annotations

import json
from typing import Any

from bot.audit.records import AuditEntry
from bot.storage.postgres.connection import PostgresPool, Queries

__all__ = ["PostgresAuditStore", "record_change"]


def _show(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


async def record_change(
    q: Queries,
    guild_id: int,
    actor_id: int,
    action: str,
    subject: str | None,
    before: Any,
    after: Any,
    now: float,
) -> None:
    """Add one audit row; call it with the transaction that makes the change."""
    await q.execute(
        "INSERT INTO guild_audit (guild_id, actor_id, action, subject, before_value,"
        " after_value, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        (guild_id, actor_id, action, subject, _show(before), _show(after), now),
    )


class PostgresAuditStore:
    """Reads the ``guild_audit`` table."""

    def __init__(self, pool: PostgresPool) -> None:
        self._pool = pool

    async def recent(
        self, guild_id: int, *, limit: int = 20, before_id: int | None = None
    ) -> list[AuditEntry]:
        """Return the newest audit entries (newest first), optionally older than ``before_id``."""
        rows = await self._pool.fetchall(
            "SELECT * FROM guild_audit WHERE guild_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
            (guild_id, before_id if before_id is not None else 2**62, limit),
        )
        return [
            AuditEntry(
                id=r["id"],
                guild_id=r["guild_id"],
                actor_id=r["actor_id"],
                action=r["action"],
                subject=r["subject"],
                before=r["before_value"],
                after=r["after_value"],
                at=float(r["at"]),
            )
            for r in rows
        ]
