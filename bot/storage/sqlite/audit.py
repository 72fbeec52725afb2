"""The audit log (``guild_audit``): rows written inside each store's own transaction."""

from __future__ import annotations

import json
from typing import Any

from bot.storage.sqlite.connection import Queries

__all__ = ["record_change"]


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
        " after_value, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (guild_id, actor_id, action, subject, _show(before), _show(after), now),
    )
