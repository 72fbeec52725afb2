"""The port ``/history`` needs from storage: a member's jobs in one server, newest first.

This module does not import discord.
"""

from __future__ import annotations

from typing import Protocol

from bot.jobs.records import Job

__all__ = ["JobHistoryStore"]


class JobHistoryStore(Protocol):
    """Read a member's jobs in one server, any state, newest first."""

    async def page(self, guild_id: int, member_id: int, *, offset: int, limit: int) -> list[Job]:
        """Return up to ``limit`` jobs after skipping the ``offset`` newest."""
        ...

    async def count(self, guild_id: int, member_id: int) -> int:
        """Return how many jobs the member has in the server."""
        ...
