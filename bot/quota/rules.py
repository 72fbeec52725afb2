"""Pure quota rules: a member's cap, and how a reservation is split and checked."""

from __future__ import annotations

from dataclasses import dataclass

from bot.quota.records import UNLIMITED, GuildQuotaRow, MemberRules, ReservationPlan, Usage

__all__ = ["Limits", "OperatorDefaults", "member_cap", "plan_reservation", "resolve_limits"]


@dataclass(frozen=True, slots=True)
class OperatorDefaults:
    """What applies to a server that configured nothing (None = unlimited)."""

    pool_daily: int | None = None
    pool_monthly: int | None = None
    member_daily: int | None = 20


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits in force for one member (None = unlimited)."""

    pool_daily: int | None
    pool_monthly: int | None
    member_daily: int | None
    exempt: bool = False
    source: str = "server default"  # where member_daily comes from, for /quota me


def _stored(value: int | None, default: int | None) -> int | None:
    if value is None:
        return default
    return None if value == UNLIMITED else value


def member_cap(rules: MemberRules, defaults: OperatorDefaults) -> tuple[int | None, str, bool]:
    """Return (daily cap or None for unlimited, where it comes from, exempt)."""
    if rules.moderator and rules.guild.exempt_moderators:
        return None, "moderator exemption", True
    if rules.member_cap is not None:
        return _stored(rules.member_cap, None), "your own limit", False
    caps = [rules.role_caps[r] for r in rules.role_ids if r in rules.role_caps]
    if caps:
        # The most generous role wins; unlimited beats any number.
        if UNLIMITED in caps:
            return None, "your role", False
        return max(caps), "your role", False
    return _stored(rules.guild.member_daily, defaults.member_daily), "server default", False


def resolve_limits(rules: MemberRules, defaults: OperatorDefaults) -> Limits:
    """Return the limits in force for the member ``rules`` describes."""
    cap, source, exempt = member_cap(rules, defaults)
    return Limits(
        pool_daily=_stored(rules.guild.pool_daily, defaults.pool_daily),
        pool_monthly=_stored(rules.guild.pool_monthly, defaults.pool_monthly),
        member_daily=cap,
        exempt=exempt,
        source=source,
    )


def guild_pool(row: GuildQuotaRow, defaults: OperatorDefaults) -> tuple[int | None, int | None]:
    """Return the server pool's (daily, monthly) limits in force (None = unlimited)."""
    return _stored(row.pool_daily, defaults.pool_daily), _stored(
        row.pool_monthly, defaults.pool_monthly
    )


def plan_reservation(
    usage: Usage,
    credits: int,
    *,
    pool_daily: int | None,
    pool_monthly: int | None,
    member_daily: int | None,
) -> ReservationPlan:
    """Check every budget; spend the member's daily allowance first, then their grants."""
    if pool_daily is not None and usage.pool_day + credits > pool_daily:
        return ReservationPlan("pool_daily")
    if pool_monthly is not None and usage.pool_month + credits > pool_monthly:
        return ReservationPlan("pool_monthly")
    if member_daily is None:
        return ReservationPlan(None, from_daily=credits)
    left = max(0, member_daily - usage.member_day)
    from_daily = min(credits, left)
    from_grant = credits - from_daily
    if from_grant > usage.grant_balance:
        return ReservationPlan("member_daily")
    return ReservationPlan(None, from_daily=from_daily, from_grant=from_grant)
