"""Quota records shared by the quota service and the storage layer (no Discord, no SQL)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "UNLIMITED",
    "Budget",
    "ChargeRecord",
    "GuildQuotaRow",
    "MemberRules",
    "Reservation",
    "ReservationPlan",
    "ReservationPlanner",
    "ReserveResult",
    "Usage",
    "UsageReport",
]

# Stored limit values: None = not configured (the operator's default applies), -1 = unlimited.
UNLIMITED = -1

Budget = Literal["pool_daily", "pool_monthly", "member_daily"]
ChargeStatus = Literal["reserved", "committed", "released"]


@dataclass(frozen=True, slots=True)
class GuildQuotaRow:
    """A server's stored quota settings, before the operator's defaults are applied."""

    guild_id: int
    pool_daily: int | None = None
    pool_monthly: int | None = None
    member_daily: int | None = None
    exempt_moderators: bool = False
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class MemberRules:
    """Everything that decides one member's daily cap, read in one go."""

    guild: GuildQuotaRow
    role_caps: dict[int, int]  # only the member's roles that have an override
    member_cap: int | None  # the member's own override, if any
    grant_balance: int
    role_ids: tuple[int, ...]
    moderator: bool


@dataclass(frozen=True, slots=True)
class Usage:
    """Credits held (reserved or committed) in the current windows, and the grant balance."""

    pool_day: int = 0
    pool_month: int = 0
    member_day: int = 0
    grant_balance: int = 0


@dataclass(frozen=True, slots=True)
class Reservation:
    """A job's cost to reserve, in the windows it is charged to."""

    job_id: int
    guild_id: int
    member_id: int
    model: str
    credits: int
    day_key: str
    month_key: str
    now: float


@dataclass(frozen=True, slots=True)
class ReservationPlan:
    """How a reservation is taken: from the daily allowance and from grants, or refused."""

    refused_by: Budget | None
    from_daily: int = 0
    from_grant: int = 0


#: Decides a reservation from the usage read inside the store's transaction (the quota rules,
#: bound with the limits in force, passed in by the quota service).
ReservationPlanner = Callable[[Usage], ReservationPlan]


@dataclass(frozen=True, slots=True)
class ReserveResult:
    """The outcome of ``reserve``: accepted, or which budget refused; usage before the request."""

    accepted: bool
    usage: Usage
    refused_by: Budget | None = None
    from_grant: int = 0
    repeated: bool = False  # the job had already reserved: nothing changed


@dataclass(frozen=True, slots=True)
class ChargeRecord:
    """One job's reservation as stored."""

    job_id: int
    guild_id: int
    member_id: int
    model: str
    credits: int
    from_grant: int
    state: ChargeStatus
    day_key: str
    month_key: str


@dataclass(frozen=True, slots=True)
class UsageReport:
    """Committed credits over some days: per day (oldest first), top members, by model."""

    days: list[tuple[str, int]] = field(default_factory=list)
    top_members: list[tuple[int, int]] = field(default_factory=list)
    by_model: list[tuple[str, int]] = field(default_factory=list)
    in_flight: int = 0  # credits reserved by jobs not finished yet

    @property
    def total(self) -> int:
        return sum(c for _, c in self.days)
