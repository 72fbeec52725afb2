"""Who may IDENTIFY on the gateway now: Discord's session start limit across processes.

Discord lets ``max_concurrency`` sessions identify per 5 seconds, one per *bucket*
(``shard_id % max_concurrency``). Processes sharing one database coordinate through an
``IdentifyGate`` the storage backend provides (PostgreSQL: an advisory lock per bucket;
SQLite: one process, an asyncio lock).
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["IDENTIFY_HOLD_SECONDS", "IDENTIFY_WINDOW_SECONDS", "IdentifyGate", "identify_bucket"]

#: Discord's window: one identify per bucket per this many seconds.
IDENTIFY_WINDOW_SECONDS = 5.0
#: How long the bot keeps a bucket after its identify starts: the window, plus a little for the
#: network (Discord counts arrivals; the next identify may travel faster than this one).
IDENTIFY_HOLD_SECONDS = IDENTIFY_WINDOW_SECONDS + 0.25


class IdentifyGate(Protocol):
    """A lock per identify bucket, shared by every process on the same database."""

    async def hold(self, bucket: int, seconds: float) -> None:
        """Return once this process may identify in ``bucket``; keep the bucket ``seconds``.

        The bucket is given back in the background ``seconds`` after this returns.
        """
        ...

    async def close(self) -> None:
        """Give back every bucket still held (at shutdown)."""
        ...


def identify_bucket(shard_id: int | None, max_concurrency: int) -> int:
    """The rate-limit bucket of a shard (an unsharded connection is shard 0)."""
    return (shard_id or 0) % max(1, max_concurrency)
