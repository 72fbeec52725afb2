"""The quota service: budgets, the job engine's charge hook, and moderator changes.

No Discord here: members are ``MemberRef`` (ids, role ids, moderator flag) and every message is
plain text (Discord's ``<t:...:R>`` timestamps render in each reader's own time zone).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from bot.clock import Clock, SystemClock
from bot.i18n import format_number
from bot.jobs.records import Job
from bot.messages import say, say_plural
from bot.quota.credits import CreditTable
from bot.quota.records import (
    UNLIMITED,
    Budget,
    GuildQuotaRow,
    MemberRules,
    Reservation,
    Usage,
    UsageReport,
)
from bot.quota.rules import Limits, OperatorDefaults, guild_pool, plan_reservation, resolve_limits
from bot.quota.store import QuotaStore
from bot.quota.windows import Windows, parse_timezone, windows_at
from bot.refusal import Refusal

__all__ = [
    "MAX_CREDITS",
    "MemberRef",
    "QuotaError",
    "QuotaExceeded",
    "QuotaService",
    "QuotaStatus",
    "parse_limit",
]

log = logging.getLogger(__name__)

DM_GUILD = 0  # jobs outside a server are accounted under this pseudo-server
MAX_CREDITS = 1_000_000_000
MAX_REPORT_DAYS = 90


class QuotaError(Refusal):
    """A moderator's input is not valid; the message says what to change."""


class QuotaExceeded(Refusal):
    """A request would overspend a budget; the message says which, what is left, when it resets."""

    def __init__(self, message: str, *, budget: Budget, left: int, resets_at: float) -> None:
        super().__init__(message)
        self.budget = budget
        self.left = left
        self.resets_at = resets_at


@dataclass(frozen=True, slots=True)
class MemberRef:
    """A member as the quota rules see them."""

    guild_id: int | None
    member_id: int
    role_ids: tuple[int, ...] = ()
    moderator: bool = False

    @property
    def guild(self) -> int:
        return self.guild_id if self.guild_id is not None else DM_GUILD


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    """What ``/quota me`` shows."""

    limits: Limits
    usage: Usage
    windows: Windows

    @property
    def member_left(self) -> int | None:
        """Credits left today from the daily cap (None: unlimited), not counting grants."""
        cap = self.limits.member_daily
        return None if cap is None else max(0, cap - self.usage.member_day)

    @property
    def spendable(self) -> int | None:
        """Credits the member could spend now: cap and grants, bounded by the server pool."""
        left = self.member_left
        own = None if left is None else left + self.usage.grant_balance
        for pool in (self.pool_day_left, self.pool_month_left):
            if pool is not None:
                own = pool if own is None else min(own, pool)
        return own

    @property
    def pool_day_left(self) -> int | None:
        limit = self.limits.pool_daily
        return None if limit is None else max(0, limit - self.usage.pool_day)

    @property
    def pool_month_left(self) -> int | None:
        limit = self.limits.pool_monthly
        return None if limit is None else max(0, limit - self.usage.pool_month)


def parse_limit(text: str | int | None, *, what: str = "limit") -> int | None:
    """Parse a moderator's limit: a whole number ≥ 0 or ``unlimited``; return -1 for unlimited.

    None (option left out) stays None. Raise ``QuotaError`` with a clear message otherwise;
    ``what`` names the limit in it (a ``quota.what.*`` key of ``bot.messages``).
    """
    name = say(f"quota.what.{what}")
    if text is None:
        return None
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        word = str(text).strip().lower().replace(",", "").replace("_", "")
        if word in {"unlimited", "none", "off", "no limit", "nolimit", "∞", "inf", "infinite"}:
            return UNLIMITED
        if not word.isdigit():
            raise QuotaError(say("quota.limit_not_a_number", what=name, given=str(text)[:40]))
        value = int(word)
    if value < 0 or value > MAX_CREDITS:
        raise QuotaError(say("quota.limit_out_of_range", what=name, most=f"{MAX_CREDITS:,}"))
    return value


def _when(ts: float) -> str:
    return say("quota.when", t=int(ts))


def _credits(n: int) -> str:
    return say_plural("quota.credits", n, n=n)


def _n(value: int | None) -> str:
    return say("quota.unlimited") if value is None else format_number(value)


class QuotaService:
    """Everything about credits; also the job engine's ``ChargeHook``."""

    def __init__(
        self,
        store: QuotaStore,
        *,
        credits: CreditTable | None = None,
        defaults: OperatorDefaults | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.credits = credits or CreditTable()
        self.defaults = defaults or OperatorDefaults()
        self.clock: Clock = clock or SystemClock()

    # -- reading ------------------------------------------------------------------------------

    def windows(self, row: GuildQuotaRow) -> Windows:
        """Return the current windows in the server's time zone."""
        return windows_at(self.clock.now(), row.timezone)

    async def _rules(self, member: MemberRef) -> MemberRules:
        return await self.store.member_rules(
            member.guild, member.member_id, member.role_ids, member.moderator
        )

    async def status(self, member: MemberRef) -> QuotaStatus:
        """Return the member's limits, usage and reset times right now."""
        rules = await self._rules(member)
        limits = resolve_limits(rules, self.defaults)
        win = self.windows(rules.guild)
        usage = await self.store.usage(member.guild, member.member_id, win.day_key, win.month_key)
        return QuotaStatus(limits, usage, win)

    def cost(self, model: str, resolution: str | None, quality: str | None, n: int) -> int:
        """Return what a request costs in credits."""
        return self.credits.cost(model, resolution, quality, n)

    # -- refusing -----------------------------------------------------------------------------

    def refusal(
        self, budget: Budget, credits: int, limits: Limits, usage: Usage, win: Windows
    ) -> QuotaExceeded:
        """Build the member-facing refusal for ``budget``."""
        status = QuotaStatus(limits, usage, win)
        if budget in ("pool_daily", "pool_monthly"):
            if budget == "pool_daily":
                left, resets = status.pool_day_left or 0, win.day_resets_at
                key, limit = "quota.pool_daily_left", limits.pool_daily
            else:
                left, resets = status.pool_month_left or 0, win.month_resets_at
                key, limit = "quota.pool_monthly_left", limits.pool_monthly
            head = say(key, left=f"{left:,}", limit=_n(limit), credits=f"{credits:,}")
            tail = say("quota.pool_resets", when=_when(resets))
        else:
            daily_left = status.member_left or 0
            left = daily_left + usage.grant_balance
            resets = win.day_resets_at
            cap = _n(limits.member_daily)
            where = (
                say(
                    "quota.member_where_granted",
                    daily_left=f"{daily_left:,}",
                    cap=cap,
                    granted=f"{usage.grant_balance:,}",
                )
                if usage.grant_balance
                else say("quota.member_where", cap=cap)
            )
            head = say(
                "quota.member_left", left=_credits(left), where=where, credits=_credits(credits)
            )
            tail = say("quota.member_resets", when=_when(resets))
        parts = [head, tail]
        if left > 0:
            parts.append(say("quota.try_smaller"))
        parts.append(say("quota.nothing_charged"))
        return QuotaExceeded(" ".join(parts), budget=budget, left=left, resets_at=resets)

    async def precheck(self, member: MemberRef, credits: int) -> None:
        """Refuse now if the request cannot fit; reads only (nothing is written before the ack).

        The authoritative check is ``reserve`` (atomic); this gives the same answer earlier,
        before anything is downloaded or uploaded.
        """
        status = await self.status(member)
        plan = plan_reservation(
            status.usage,
            credits,
            pool_daily=status.limits.pool_daily,
            pool_monthly=status.limits.pool_monthly,
            member_daily=status.limits.member_daily,
        )
        if plan.refused_by is not None:
            raise self.refusal(
                plan.refused_by, credits, status.limits, status.usage, status.windows
            )

    # -- the job engine's ChargeHook ----------------------------------------------------------

    async def reserve(self, job: Job) -> float | None:
        """Reserve the job's cost atomically against every budget; raise ``QuotaExceeded``."""
        guild = job.guild_id if job.guild_id is not None else DM_GUILD
        # The roles and the moderator flag travel with the job (seen when it was asked for).
        rules = await self.store.member_rules(guild, job.member_id, job.role_ids, job.moderator)
        limits = resolve_limits(rules, self.defaults)
        win = self.windows(rules.guild)
        model, credits = self.credits.cost_of_request(job.request)
        result = await self.store.reserve(
            Reservation(
                job_id=job.id,
                guild_id=guild,
                member_id=job.member_id,
                model=model,
                credits=credits,
                day_key=win.day_key,
                month_key=win.month_key,
                now=self.clock.now(),
            ),
            partial(
                plan_reservation,
                credits=credits,
                pool_daily=limits.pool_daily,
                pool_monthly=limits.pool_monthly,
                member_daily=limits.member_daily,
            ),
        )
        if not result.accepted:
            assert result.refused_by is not None
            raise self.refusal(result.refused_by, credits, limits, result.usage, win)
        return float(credits)

    async def commit(self, job: Job) -> None:
        """Make the job's reservation final (idempotent)."""
        await self.store.commit(job.id, now=self.clock.now())

    async def release(self, job: Job) -> None:
        """Give the job's reservation back (idempotent; nothing if it never reserved)."""
        if await self.store.release(job.id, now=self.clock.now()):
            log.info("job %d: credits released", job.id)

    # -- moderators ---------------------------------------------------------------------------

    async def configure_server(
        self,
        guild_id: int,
        actor_id: int,
        *,
        daily: str | int | None = None,
        monthly: str | int | None = None,
        member_daily: str | int | None = None,
        timezone: str | None = None,
        exempt_moderators: bool | None = None,
    ) -> tuple[GuildQuotaRow, GuildQuotaRow]:
        """Change the server's pool, default member cap, time zone or moderator exemption."""
        changes: dict[str, object] = {}
        for name, raw, what in (
            ("pool_daily", daily, "daily_pool"),
            ("pool_monthly", monthly, "monthly_pool"),
            ("member_daily", member_daily, "member_daily"),
        ):
            value = parse_limit(raw, what=what)
            if value is not None:
                changes[name] = value
        if timezone is not None:
            try:
                changes["timezone"] = parse_timezone(timezone)
            except ValueError:
                raise QuotaError(say("quota.bad_timezone", zone=timezone.strip()[:60])) from None
        if exempt_moderators is not None:
            changes["exempt_moderators"] = bool(exempt_moderators)
        if not changes:
            row = await self.store.get_guild(guild_id)
            return row, row
        return await self.store.update_guild(
            guild_id, actor_id=actor_id, now=self.clock.now(), **changes
        )

    async def set_member_cap(
        self, guild_id: int, member_id: int, daily: str | int | None, actor_id: int
    ) -> tuple[int | None, int | None]:
        """Set a member's own daily cap (``default`` clears it); return (before, after)."""
        value = None if _is_default(daily) else _required(daily, "members_daily")
        before = await self.store.set_member_cap(
            guild_id, member_id, value, actor_id=actor_id, now=self.clock.now()
        )
        return before, value

    async def set_role_cap(
        self, guild_id: int, role_id: int, daily: str | int | None, actor_id: int
    ) -> tuple[int | None, int | None]:
        """Set a role's daily cap (``default`` clears it); return (before, after)."""
        value = None if _is_default(daily) else _required(daily, "roles_daily")
        before = await self.store.set_role_cap(
            guild_id, role_id, value, actor_id=actor_id, now=self.clock.now()
        )
        return before, value

    async def grant(self, guild_id: int, member_id: int, credits: int, actor_id: int) -> int:
        """Give a member extra credits (negative takes back unspent ones); return the balance."""
        if isinstance(credits, bool) or not isinstance(credits, int):
            raise QuotaError(say("quota.grant_whole"))
        if credits == 0 or abs(credits) > MAX_CREDITS:
            raise QuotaError(say("quota.grant_range", most=f"{MAX_CREDITS:,}"))
        return await self.store.grant(
            guild_id, member_id, credits, actor_id=actor_id, now=self.clock.now()
        )

    async def reset(self, guild_id: int, member_id: int | None, actor_id: int) -> int:
        """Forgive a member's usage today, or (None) the server pool and everyone's today."""
        win = self.windows(await self.store.get_guild(guild_id))
        return await self.store.reset(
            guild_id,
            member_id,
            win.day_key,
            win.month_key,
            actor_id=actor_id,
            now=self.clock.now(),
        )

    async def overview(self, guild_id: int) -> tuple[GuildQuotaRow, dict[int, int], dict[int, int]]:
        """Return the server's settings, role overrides and member overrides."""
        return (
            await self.store.get_guild(guild_id),
            await self.store.role_caps(guild_id),
            await self.store.member_caps(guild_id),
        )

    def pool(self, row: GuildQuotaRow) -> tuple[int | None, int | None]:
        """Return the server pool's (daily, monthly) limits in force."""
        return guild_pool(row, self.defaults)

    async def usage_report(self, guild_id: int, days: int) -> tuple[UsageReport, Windows]:
        """Return committed credits over the last ``days`` days (server time zone)."""
        if not 1 <= days <= MAX_REPORT_DAYS:
            raise QuotaError(say("quota.report_days", most=MAX_REPORT_DAYS))
        row = await self.store.get_guild(guild_id)
        win = self.windows(row)
        today = datetime.fromtimestamp(self.clock.now(), ZoneInfo(row.timezone or "UTC")).date()
        keys = [(today - timedelta(days=i)).isoformat() for i in range(days - 1, -1, -1)]
        return await self.store.report(guild_id, keys), win


def _required(value: str | int | None, what: str) -> int:
    parsed = parse_limit(value, what=what)
    if parsed is None:
        raise QuotaError(say("quota.limit_missing", what=say(f"quota.what.{what}")))
    return parsed


def _is_default(value: str | int | None) -> bool:
    return isinstance(value, str) and value.strip().lower() in {"default", "clear", "reset"}


def day_label(day_key: str) -> str:
    """Return a short label for a day key ("2026-01-31" -> "31 Jan")."""
    return date.fromisoformat(day_key).strftime("%d %b").lstrip("0")
