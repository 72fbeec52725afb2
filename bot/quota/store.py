"""The port the quota service needs from storage: budgets, grants, reservations."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

from bot.quota.records import (
    ChargeRecord,
    GuildQuotaRow,
    MemberRules,
    Reservation,
    ReservationPlanner,
    ReserveResult,
    Usage,
    UsageReport,
)

__all__ = ["QuotaStore"]


class QuotaStore(Protocol):
    """Budgets, grants and per-job reservations; changes by moderators are audited.

    Stored limits: None = not configured (the operator's default applies), -1 = unlimited.
    """

    async def get_guild(self, guild_id: int) -> GuildQuotaRow: ...

    async def update_guild(
        self, guild_id: int, *, actor_id: int, now: float, **changes: Any
    ) -> tuple[GuildQuotaRow, GuildQuotaRow]:
        """Change pool_daily, pool_monthly, member_daily, exempt_moderators or timezone."""
        ...

    async def role_caps(self, guild_id: int) -> dict[int, int]: ...

    async def member_caps(self, guild_id: int) -> dict[int, int]: ...

    async def set_role_cap(
        self, guild_id: int, role_id: int, daily: int | None, *, actor_id: int, now: float
    ) -> int | None: ...

    async def set_member_cap(
        self, guild_id: int, member_id: int, daily: int | None, *, actor_id: int, now: float
    ) -> int | None: ...

    async def grant(
        self, guild_id: int, member_id: int, credits: int, *, actor_id: int, now: float
    ) -> int: ...

    async def member_rules(
        self, guild_id: int, member_id: int, role_ids: Collection[int], moderator: bool
    ) -> MemberRules:
        """Return the overrides that decide the cap of a member with these roles."""
        ...

    async def usage(self, guild_id: int, member_id: int, day_key: str, month_key: str) -> Usage: ...

    async def reserve(self, r: Reservation, plan: ReservationPlanner) -> ReserveResult:
        """Read the usage, ask ``plan`` and record the charge, all in one transaction.

        Idempotent per job id (a repeated job gets ``repeated=True``, ``plan`` not called).
        """
        ...

    async def commit(self, job_id: int, *, now: float) -> bool:
        """reserved -> committed; True if this call changed it."""
        ...

    async def release(self, job_id: int, *, now: float) -> bool:
        """reserved -> released, giving the credits back; True if this call changed it."""
        ...

    async def get_charge(self, job_id: int) -> ChargeRecord | None: ...

    async def reset(
        self,
        guild_id: int,
        member_id: int | None,
        day_key: str,
        month_key: str,
        *,
        actor_id: int,
        now: float,
    ) -> int: ...

    async def report(self, guild_id: int, day_keys: list[str], *, top: int = 5) -> UsageReport: ...
