"""The quota store on PostgreSQL: budgets, grants, overrides and per-job reservations.

Several processes reserve against one server's budgets at once, so a reservation must read
the usage and record its charge as if alone. It does so with row locks in a READ COMMITTED
transaction: make sure the usage rows it will charge exist (``INSERT ... ON CONFLICT DO
NOTHING``, zero credits, the first time a window is used), lock them with ``SELECT ... FOR
UPDATE`` in primary-key order (the server pool's rows, member 0, before the member's), which
also reads their latest committed credits; lock the member's grant row if it holds any; let
the planner decide and write the charge, the usage and the grant in one statement.
Reservations in one server queue on the pool rows and each runs once.

Why not SERIALIZABLE with a retry loop: every reservation in a server touches the same pool
rows, so under a burst (hundreds of members clicking at once) almost every transaction would
fail its serialization check and retry, again and again; throughput collapses exactly when it
matters, latency has no bound, and the planner runs once per attempt. Row locks make the
contended rows a queue: each waiter runs once, in order, with no retry.

Lock order, kept by every writer here so no two transactions deadlock: usage rows in key
order, then the grant row, then the charge row. ``release`` reads the charge unlocked to learn
which usage rows to lock, then locks them, then re-reads the charge ``FOR UPDATE``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import asyncpg

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
from bot.storage.postgres.audit import record_change
from bot.storage.postgres.connection import PostgresPool, Queries

__all__ = ["PostgresQuotaStore"]

POOL = 0  # member_id of the server pool rows in quota_usage (periods pool_day, pool_month)
_GUILD_FIELDS = ("pool_daily", "pool_monthly", "member_daily", "exempt_moderators", "timezone")


async def _guild_row(q: Queries, guild_id: int) -> GuildQuotaRow:
    row = await q.fetchone("SELECT * FROM quota_guilds WHERE guild_id = $1", (guild_id,))
    if row is None:
        return GuildQuotaRow(guild_id)
    return GuildQuotaRow(
        guild_id=guild_id,
        pool_daily=row["pool_daily"],
        pool_monthly=row["pool_monthly"],
        member_daily=row["member_daily"],
        exempt_moderators=bool(row["exempt_moderators"]),
        timezone=row["timezone"],
    )


async def _used(q: Queries, guild_id: int, member_id: int, period: str, key: str) -> int:
    row = await q.fetchone(
        "SELECT credits FROM quota_usage WHERE guild_id = $1 AND member_id = $2 AND period = $3"
        " AND period_key = $4",
        (guild_id, member_id, period, key),
    )
    return int(row[0]) if row else 0


async def _add_usage(
    q: Queries, guild_id: int, member_id: int, period: str, key: str, delta: int
) -> None:
    if delta > 0:
        await q.execute(
            "INSERT INTO quota_usage (guild_id, member_id, period, period_key, credits)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (guild_id, member_id, period, period_key)"
            " DO UPDATE SET credits = GREATEST(0, quota_usage.credits + excluded.credits)",
            (guild_id, member_id, period, key, delta),
        )
    elif delta < 0:
        await q.execute(
            "UPDATE quota_usage SET credits = GREATEST(0, credits + $1) WHERE guild_id = $2"
            " AND member_id = $3 AND period = $4 AND period_key = $5",
            (delta, guild_id, member_id, period, key),
        )


async def _grant_balance(q: Queries, guild_id: int, member_id: int) -> int:
    row = await q.fetchone(
        "SELECT balance FROM quota_grants WHERE guild_id = $1 AND member_id = $2",
        (guild_id, member_id),
    )
    return int(row[0]) if row else 0


async def _lock_usage(
    q: Queries,
    guild_id: int,
    member_id: int | None,
    day_key: str,
    month_key: str,
    *,
    job_id: int = 0,
) -> tuple[dict[tuple[int, str], int], tuple[int, int | None]]:
    """Lock the pool's day and month rows and, given, the member's day row; return credits.

    Rows that do not exist yet are created with zero credits first (in key order, before any
    lock is taken). Locked in primary-key order (member 0 first), the order every writer here
    uses. Returns a map of (member id,
    period) to the credits held, read under the lock (the latest committed values), and, read
    in the same statement (unlocked), the member's grant balance and ``job_id``'s existing
    charge's ``from_grant`` (None if it has none).
    """
    wanted: list[tuple[int, str, str]] = [
        (POOL, "pool_day", day_key),
        (POOL, "pool_month", month_key),
    ]
    if member_id is not None:
        wanted.append((member_id, "day", day_key))
    params = (
        guild_id,
        [w[0] for w in wanted],
        [w[1] for w in wanted],
        [w[2] for w in wanted],
        member_id if member_id is not None else POOL,
        job_id,
    )
    lock = (
        "SELECT u.member_id, u.period, u.credits,"
        " (SELECT balance FROM quota_grants WHERE guild_id = $1 AND member_id = $5),"
        " (SELECT from_grant FROM quota_charges WHERE job_id = $6)"
        " FROM quota_usage u"
        " JOIN unnest($2::bigint[], $3::text[], $4::text[]) AS w(m, p, k)"
        " ON u.member_id = w.m AND u.period = w.p AND u.period_key = w.k"
        " WHERE u.guild_id = $1"
        " ORDER BY u.member_id, u.period, u.period_key FOR UPDATE OF u"
    )
    # Create missing rows first, in key order, holding no lock yet; then lock them all in key
    # order. (Locking the existing rows first and inserting the missing ones after would hold
    # the pool rows while waiting on another transaction's insert, which may be waiting for
    # the pool rows: a deadlock, found by test_reserve_release_grant_and_reset_at_once...)
    await q.execute(
        "INSERT INTO quota_usage (guild_id, member_id, period, period_key, credits)"
        " SELECT $1, m, p, k, 0 FROM unnest($2::bigint[], $3::text[], $4::text[])"
        " AS w(m, p, k) ORDER BY m, p, k ON CONFLICT DO NOTHING",
        params[:4],
    )
    rows = await q.fetchall(lock, params)
    held = {(int(r[0]), str(r[1])): int(r[2]) for r in rows}
    first = rows[0]
    return held, (int(first[3] or 0), None if first[4] is None else int(first[4]))


async def _usage(q: Queries, guild_id: int, member_id: int, day_key: str, month_key: str) -> Usage:
    # One statement: the pool's day and month, the member's day, the member's grants.
    row = await q.fetchone(
        "SELECT"
        " (SELECT credits FROM quota_usage WHERE guild_id = $1 AND member_id = $3"
        "  AND period = 'pool_day' AND period_key = $4),"
        " (SELECT credits FROM quota_usage WHERE guild_id = $1 AND member_id = $3"
        "  AND period = 'pool_month' AND period_key = $5),"
        " (SELECT credits FROM quota_usage WHERE guild_id = $1 AND member_id = $2"
        "  AND period = 'day' AND period_key = $4),"
        " (SELECT balance FROM quota_grants WHERE guild_id = $1 AND member_id = $2)",
        (guild_id, member_id, POOL, day_key, month_key),
    )
    assert row is not None
    return Usage(
        pool_day=int(row[0] or 0),
        pool_month=int(row[1] or 0),
        member_day=int(row[2] or 0),
        grant_balance=int(row[3] or 0),
    )


def _charge(row: asyncpg.Record) -> ChargeRecord:
    return ChargeRecord(
        job_id=row["job_id"],
        guild_id=row["guild_id"],
        member_id=row["member_id"],
        model=row["model"],
        credits=row["credits"],
        from_grant=row["from_grant"],
        state=row["state"],
        day_key=row["day_key"],
        month_key=row["month_key"],
    )


class PostgresQuotaStore:
    """Budgets, grants, overrides and per-job reservations."""

    def __init__(self, pool: PostgresPool) -> None:
        self._pool = pool

    # -- settings -----------------------------------------------------------------------------

    async def get_guild(self, guild_id: int) -> GuildQuotaRow:
        """Return the server's stored quota settings (all unset if it configured nothing)."""
        return await _guild_row(self._pool, guild_id)

    async def update_guild(
        self, guild_id: int, *, actor_id: int, now: float, **changes: Any
    ) -> tuple[GuildQuotaRow, GuildQuotaRow]:
        """Change quota settings, recording each change in the audit log; return (before, after)."""
        unknown = set(changes) - set(_GUILD_FIELDS)
        if unknown:
            raise ValueError(f"unknown quota settings: {sorted(unknown)}")
        async with self._pool.transaction() as q:
            # An all-unset row reads like no row, so create it first and lock it.
            await q.execute(
                "INSERT INTO quota_guilds (guild_id, updated_at) VALUES ($1, $2)"
                " ON CONFLICT (guild_id) DO NOTHING",
                (guild_id, now),
            )
            await q.fetchone(
                "SELECT 1 FROM quota_guilds WHERE guild_id = $1 FOR UPDATE", (guild_id,)
            )
            before = await _guild_row(q, guild_id)
            for name, value in changes.items():
                old = getattr(before, name)
                stored = bool(value) if name == "exempt_moderators" else value
                await q.execute(
                    f"UPDATE quota_guilds SET {name} = $1, updated_at = $2 WHERE guild_id = $3",
                    (stored, now, guild_id),
                )
                if old != value:
                    await record_change(
                        q, guild_id, actor_id, f"quota.{name}", None, old, value, now
                    )
            return before, await _guild_row(q, guild_id)

    async def role_caps(self, guild_id: int) -> dict[int, int]:
        """Return every role override of the server: role id -> daily cap (-1 unlimited)."""
        rows = await self._pool.fetchall(
            "SELECT role_id, daily FROM quota_role_caps WHERE guild_id = $1", (guild_id,)
        )
        return {int(r[0]): int(r[1]) for r in rows}

    async def member_caps(self, guild_id: int) -> dict[int, int]:
        """Return every member override of the server: member id -> daily cap (-1 unlimited)."""
        rows = await self._pool.fetchall(
            "SELECT member_id, daily FROM quota_member_caps WHERE guild_id = $1", (guild_id,)
        )
        return {int(r[0]): int(r[1]) for r in rows}

    async def set_role_cap(
        self, guild_id: int, role_id: int, daily: int | None, *, actor_id: int, now: float
    ) -> int | None:
        """Set (or clear with None) a role's daily cap; return the previous value."""
        return await self._set_cap(
            "quota_role_caps", "role_id", guild_id, role_id, daily, actor_id, now
        )

    async def set_member_cap(
        self, guild_id: int, member_id: int, daily: int | None, *, actor_id: int, now: float
    ) -> int | None:
        """Set (or clear with None) a member's own daily cap; return the previous value."""
        return await self._set_cap(
            "quota_member_caps", "member_id", guild_id, member_id, daily, actor_id, now
        )

    async def _set_cap(
        self,
        table: str,
        column: str,
        guild_id: int,
        subject: int,
        daily: int | None,
        actor_id: int,
        now: float,
    ) -> int | None:
        async with self._pool.transaction() as q:
            row = await q.fetchone(
                f"SELECT daily FROM {table} WHERE guild_id = $1 AND {column} = $2 FOR UPDATE",
                (guild_id, subject),
            )
            before = int(row[0]) if row else None
            if daily is None:
                await q.execute(
                    f"DELETE FROM {table} WHERE guild_id = $1 AND {column} = $2",
                    (guild_id, subject),
                )
            else:
                await q.execute(
                    f"INSERT INTO {table} (guild_id, {column}, daily) VALUES ($1, $2, $3)"
                    f" ON CONFLICT (guild_id, {column}) DO UPDATE SET daily = excluded.daily",
                    (guild_id, subject, daily),
                )
            if before != daily:
                kind = "role" if column == "role_id" else "member"
                await record_change(
                    q, guild_id, actor_id, f"quota.{kind}_daily", str(subject), before, daily, now
                )
            return before

    async def grant(
        self, guild_id: int, member_id: int, credits: int, *, actor_id: int, now: float
    ) -> int:
        """Add ``credits`` (negative takes back, never below 0) to a member's grants; return it."""
        async with self._pool.transaction() as q:
            # Create and lock the grant row, so a reservation spending it waits (or we wait).
            await q.execute(
                "INSERT INTO quota_grants (guild_id, member_id, balance) VALUES ($1, $2, 0)"
                " ON CONFLICT (guild_id, member_id) DO NOTHING",
                (guild_id, member_id),
            )
            row = await q.fetchone(
                "SELECT balance FROM quota_grants WHERE guild_id = $1 AND member_id = $2"
                " FOR UPDATE",
                (guild_id, member_id),
            )
            before = int(row[0]) if row else 0
            after = max(0, before + credits)
            await q.execute(
                "UPDATE quota_grants SET balance = $3 WHERE guild_id = $1 AND member_id = $2",
                (guild_id, member_id, after),
            )
            await record_change(
                q, guild_id, actor_id, "quota.grant", str(member_id), before, after, now
            )
            return after

    # -- members ------------------------------------------------------------------------------

    async def member_rules(
        self, guild_id: int, member_id: int, role_ids: Iterable[int], moderator: bool
    ) -> MemberRules:
        """Return what decides the member's cap, for the roles and moderator flag given.

        One statement (one snapshot, one round trip): the server's row, the member's roles'
        caps, the member's own cap and grant balance.
        """
        roles = tuple(int(r) for r in role_ids)
        row = await self._pool.fetchone(
            "SELECT g.pool_daily, g.pool_monthly, g.member_daily, g.exempt_moderators,"
            " g.timezone, g.guild_id IS NOT NULL AS configured,"
            " (SELECT array_agg(c.role_id ORDER BY c.role_id) FROM quota_role_caps c"
            "  WHERE c.guild_id = $1 AND c.role_id = ANY($3::bigint[])) AS cap_roles,"
            " (SELECT array_agg(c.daily ORDER BY c.role_id) FROM quota_role_caps c"
            "  WHERE c.guild_id = $1 AND c.role_id = ANY($3::bigint[])) AS cap_dailies,"
            " (SELECT daily FROM quota_member_caps WHERE guild_id = $1 AND member_id = $2)"
            "  AS member_cap,"
            " (SELECT balance FROM quota_grants WHERE guild_id = $1 AND member_id = $2)"
            "  AS grant_balance"
            " FROM (SELECT 1) AS one LEFT JOIN quota_guilds g ON g.guild_id = $1",
            (guild_id, member_id, list(roles)),
        )
        assert row is not None
        guild = (
            GuildQuotaRow(
                guild_id=guild_id,
                pool_daily=row["pool_daily"],
                pool_monthly=row["pool_monthly"],
                member_daily=row["member_daily"],
                exempt_moderators=bool(row["exempt_moderators"]),
                timezone=row["timezone"],
            )
            if row["configured"]
            else GuildQuotaRow(guild_id)
        )
        role_caps = {
            int(r): int(d)
            for r, d in zip(row["cap_roles"] or (), row["cap_dailies"] or (), strict=True)
        }
        return MemberRules(
            guild=guild,
            role_caps=role_caps,
            member_cap=None if row["member_cap"] is None else int(row["member_cap"]),
            grant_balance=int(row["grant_balance"] or 0),
            role_ids=roles,
            moderator=moderator,
        )

    async def usage(self, guild_id: int, member_id: int, day_key: str, month_key: str) -> Usage:
        """Return credits held in the given windows by the pool and the member, and grants."""
        return await _usage(self._pool, guild_id, member_id, day_key, month_key)

    # -- reservations -------------------------------------------------------------------------

    async def reserve(self, r: Reservation, plan: ReservationPlanner) -> ReserveResult:
        """Lock the usage rows, read the usage, let ``plan`` decide, record the charge.

        One transaction (see the module docstring for the locks), few round trips while the
        pool rows are locked: lock-and-read, grant-and-existing, one write. ``plan`` sees the
        usage read under the locks. Idempotent per job id: a job that already reserved gets
        ``repeated=True`` and nothing changes.
        """
        async with self._pool.transaction() as q:
            held, extra = await _lock_usage(
                q, r.guild_id, r.member_id, r.day_key, r.month_key, job_id=r.job_id
            )
            balance, existing = extra
            if balance:
                # Only a member with grants can spend them: lock the row, read it again.
                locked = await q.fetchone(
                    "SELECT balance FROM quota_grants WHERE guild_id = $1 AND member_id = $2"
                    " FOR UPDATE",
                    (r.guild_id, r.member_id),
                )
                balance = int(locked[0]) if locked else 0
            usage = Usage(
                pool_day=held.get((POOL, "pool_day"), 0),
                pool_month=held.get((POOL, "pool_month"), 0),
                member_day=held.get((r.member_id, "day"), 0),
                grant_balance=balance,
            )
            if existing is not None:
                return ReserveResult(True, usage, from_grant=existing, repeated=True)
            decided = plan(usage)
            if decided.refused_by is not None:
                return ReserveResult(False, usage, refused_by=decided.refused_by)
            # One statement: the charge row, the three usage rows (they exist: locked above),
            # and the grant balance if the plan spends grants. The existing charge above was
            # read on the statement's snapshot, from before the lock wait, so a concurrent
            # reservation of this same job can only show up here: ON CONFLICT DO NOTHING, and
            # the usage and grant change only if the charge row went in.
            inserted = await q.fetchone(
                "WITH charge AS ("
                " INSERT INTO quota_charges (job_id, guild_id, member_id, model, credits,"
                " from_grant, state, day_key, month_key, reserved_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, 'reserved', $7, $8, $9)"
                " ON CONFLICT (job_id) DO NOTHING RETURNING job_id),"
                " spent AS ("
                " UPDATE quota_grants SET balance = balance - $6"
                " WHERE $6 > 0 AND guild_id = $2 AND member_id = $3"
                " AND EXISTS (SELECT 1 FROM charge)),"
                " charged AS ("
                " UPDATE quota_usage u SET credits = GREATEST(0, u.credits + d.delta)"
                " FROM (VALUES ($10::bigint, 'pool_day', $7::text, $5::bigint),"
                " ($10, 'pool_month', $8, $5), ($3, 'day', $7, $11::bigint)) AS d(m, p, k, delta)"
                " WHERE u.guild_id = $2 AND u.member_id = d.m AND u.period = d.p"
                " AND u.period_key = d.k AND d.delta > 0 AND EXISTS (SELECT 1 FROM charge))"
                " SELECT COUNT(*) FROM charge",
                (
                    r.job_id,
                    r.guild_id,
                    r.member_id,
                    r.model,
                    r.credits,
                    decided.from_grant,
                    r.day_key,
                    r.month_key,
                    r.now,
                    POOL,
                    decided.from_daily,
                ),
            )
            if inserted is None or int(inserted[0]) == 0:
                again = await q.fetchone(
                    "SELECT from_grant FROM quota_charges WHERE job_id = $1", (r.job_id,)
                )
                grant = int(again[0]) if again else 0
                return ReserveResult(True, usage, from_grant=grant, repeated=True)
            return ReserveResult(True, usage, from_grant=decided.from_grant)

    async def commit(self, job_id: int, *, now: float) -> bool:
        """Make a reservation final; True if this call changed it (idempotent)."""
        changed = await self._pool.execute(
            "UPDATE quota_charges SET state = 'committed', settled_at = $1"
            " WHERE job_id = $2 AND state = 'reserved'",
            (now, job_id),
        )
        return changed == 1

    async def release(self, job_id: int, *, now: float) -> bool:
        """Give a reservation back to every budget it was taken from; True if this call did."""
        async with self._pool.transaction() as q:
            seen = await q.fetchone(
                "SELECT guild_id, member_id, day_key, month_key FROM quota_charges"
                " WHERE job_id = $1 AND state = 'reserved'",
                (job_id,),
            )
            if seen is None:
                return False  # never reserved, or already settled
            await _lock_usage(
                q, seen["guild_id"], seen["member_id"], seen["day_key"], seen["month_key"]
            )
            row = await q.fetchone(
                "SELECT * FROM quota_charges WHERE job_id = $1 AND state = 'reserved' FOR UPDATE",
                (job_id,),
            )
            if row is None:
                return False  # another process released or committed it meanwhile
            await q.execute(
                "UPDATE quota_charges SET state = 'released', settled_at = $1 WHERE job_id = $2",
                (now, job_id),
            )
            g, m, credits, grant = (
                row["guild_id"],
                row["member_id"],
                row["credits"],
                row["from_grant"],
            )
            if row["counts_pool"]:
                await _add_usage(q, g, POOL, "pool_day", row["day_key"], -credits)
                await _add_usage(q, g, POOL, "pool_month", row["month_key"], -credits)
            if row["counts_member"]:
                await _add_usage(q, g, m, "day", row["day_key"], -(credits - grant))
            if grant:
                await q.execute(
                    "UPDATE quota_grants SET balance = balance + $1 WHERE guild_id = $2"
                    " AND member_id = $3",
                    (grant, g, m),
                )
            return True

    async def get_charge(self, job_id: int) -> ChargeRecord | None:
        """Return the job's reservation, if it made one."""
        row = await self._pool.fetchone("SELECT * FROM quota_charges WHERE job_id = $1", (job_id,))
        return None if row is None else _charge(row)

    async def reset(
        self,
        guild_id: int,
        member_id: int | None,
        day_key: str,
        month_key: str,
        *,
        actor_id: int,
        now: float,
    ) -> int:
        """Forgive usage: one member's today, or (None) the server pool and every member's today.

        Return the credits forgiven. Forgiven charges stay in the usage report; releasing one
        later gives nothing back to the cleared windows.
        """
        async with self._pool.transaction() as q:
            if member_id is not None:
                await q.fetchone(
                    "SELECT 1 FROM quota_usage WHERE guild_id = $1 AND member_id = $2"
                    " AND period = 'day' AND period_key = $3 FOR UPDATE",
                    (guild_id, member_id, day_key),
                )
                forgiven = await _used(q, guild_id, member_id, "day", day_key)
                await q.execute(
                    "UPDATE quota_usage SET credits = 0 WHERE guild_id = $1 AND member_id = $2"
                    " AND period = 'day' AND period_key = $3",
                    (guild_id, member_id, day_key),
                )
                await q.execute(
                    "UPDATE quota_charges SET counts_member = FALSE WHERE guild_id = $1"
                    " AND member_id = $2 AND day_key = $3",
                    (guild_id, member_id, day_key),
                )
                await record_change(
                    q, guild_id, actor_id, "quota.reset", str(member_id), forgiven, 0, now
                )
                return forgiven
            # The pool rows first, as every reservation takes them: none runs meanwhile.
            await _lock_usage(q, guild_id, None, day_key, month_key)
            forgiven = await _used(q, guild_id, POOL, "pool_month", month_key)
            await q.execute(
                "UPDATE quota_usage SET credits = 0 WHERE guild_id = $1 AND ((period IN ('day',"
                " 'pool_day') AND period_key = $2) OR (period = 'pool_month' AND period_key = $3))",
                (guild_id, day_key, month_key),
            )
            await q.execute(
                "UPDATE quota_charges SET counts_pool = FALSE WHERE guild_id = $1"
                " AND month_key = $2",
                (guild_id, month_key),
            )
            await q.execute(
                "UPDATE quota_charges SET counts_member = FALSE WHERE guild_id = $1"
                " AND day_key = $2",
                (guild_id, day_key),
            )
            await record_change(q, guild_id, actor_id, "quota.reset", "server", forgiven, 0, now)
            return forgiven

    async def report(self, guild_id: int, day_keys: list[str], *, top: int = 5) -> UsageReport:
        """Return committed credits for the given days (server-local keys), oldest first."""
        if not day_keys:
            return UsageReport()
        where = "guild_id = $1 AND day_key = ANY($2::text[]) AND state = 'committed'"
        params = (guild_id, list(day_keys))
        per_day = dict.fromkeys(day_keys, 0)
        async with self._pool.batch() as q:
            for r in await q.fetchall(
                f"SELECT day_key, SUM(credits) FROM quota_charges WHERE {where} GROUP BY day_key",
                params,
            ):
                per_day[r[0]] = int(r[1])
            members = await q.fetchall(
                f"SELECT member_id, SUM(credits) AS s FROM quota_charges WHERE {where}"
                " GROUP BY member_id ORDER BY s DESC, member_id LIMIT $3",
                (*params, top),
            )
            models = await q.fetchall(
                f"SELECT model, SUM(credits) AS s FROM quota_charges WHERE {where}"
                ' GROUP BY model ORDER BY s DESC, model COLLATE "C"',
                params,
            )
            flight = await q.fetchone(
                "SELECT COALESCE(SUM(credits), 0) FROM quota_charges WHERE guild_id = $1"
                " AND state = 'reserved'",
                (guild_id,),
            )
        return UsageReport(
            days=list(per_day.items()),
            top_members=[(int(r[0]), int(r[1])) for r in members],
            by_model=[(str(r[0]), int(r[1])) for r in models],
            in_flight=int(flight[0]) if flight else 0,
        )
