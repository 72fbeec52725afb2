"""SQLite storage of quotas and guild settings (issue 6).

Every operation runs as one synchronous function on a dedicated connection in its own thread,
so a multi-statement write (``BEGIN IMMEDIATE`` ... ``COMMIT``) never interleaves with another
caller's statements: a reservation reads every applicable budget and writes the charge in one
write transaction. ``BEGIN IMMEDIATE`` takes SQLite's write lock first, so other connections
(another process on the same file) wait (``busy_timeout``) instead of overspending.

For an in-memory database the thread opens a private in-memory database with the same schema
(quota and settings tables never join the job tables).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from bot.audit.records import AuditEntry
from bot.guild_settings.records import SETTING_FIELDS, GuildSettingsRow
from bot.quota.records import (
    ChargeRecord,
    GuildQuotaRow,
    MemberRules,
    Reservation,
    ReserveResult,
    Usage,
    UsageReport,
)
from bot.quota.rules import plan_reservation
from bot.storage.migrations import MIGRATIONS_DIR, discover_migrations

T = TypeVar("T")

POOL = 0  # member_id of the server pool rows in quota_usage (periods pool_day, pool_month)
_GUILD_FIELDS = ("pool_daily", "pool_monthly", "member_daily", "exempt_moderators", "timezone")


class SQLiteWorker:
    """One sqlite3 connection used only from one thread; ``run``/``write`` run a function there."""

    def __init__(self, target: str, *, memory_schema: Path | None = None) -> None:
        self._target = target
        self._memory_schema = memory_schema
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="atelier-sqlite")
        self._conn: sqlite3.Connection | None = None

    def _open(self) -> None:
        conn = sqlite3.connect(self._target, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA foreign_keys=ON")
        if self._target != ":memory:":
            conn.execute("PRAGMA synchronous=NORMAL")
        elif self._memory_schema is not None:
            for migration in discover_migrations(self._memory_schema):
                conn.executescript(migration.sql)
        self._conn = conn

    async def open(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._open)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` on the worker thread (single statements: autocommit)."""
        conn = self._conn
        if conn is None:
            raise RuntimeError("the database is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, conn)

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` inside ``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back if it raises)."""

        def txn(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        return await self.run(txn)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, conn.close)
        self._executor.shutdown(wait=False)


def _audit(
    conn: sqlite3.Connection,
    guild_id: int,
    actor_id: int,
    action: str,
    subject: str | None,
    before: Any,
    after: Any,
    now: float,
) -> None:
    conn.execute(
        "INSERT INTO guild_audit (guild_id, actor_id, action, subject, before_value,"
        " after_value, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (guild_id, actor_id, action, subject, _show(before), _show(after), now),
    )


def _show(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _guild_row(conn: sqlite3.Connection, guild_id: int) -> GuildQuotaRow:
    row = conn.execute("SELECT * FROM quota_guilds WHERE guild_id = ?", (guild_id,)).fetchone()
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


def _used(conn: sqlite3.Connection, guild_id: int, member_id: int, period: str, key: str) -> int:
    row = conn.execute(
        "SELECT credits FROM quota_usage WHERE guild_id = ? AND member_id = ? AND period = ?"
        " AND period_key = ?",
        (guild_id, member_id, period, key),
    ).fetchone()
    return int(row[0]) if row else 0


def _add_usage(
    conn: sqlite3.Connection, guild_id: int, member_id: int, period: str, key: str, delta: int
) -> None:
    if delta == 0:
        return
    conn.execute(
        "INSERT INTO quota_usage (guild_id, member_id, period, period_key, credits)"
        " VALUES (?, ?, ?, ?, MAX(0, ?)) ON CONFLICT (guild_id, member_id, period, period_key)"
        " DO UPDATE SET credits = MAX(0, credits + excluded.credits)"
        if delta > 0
        else "UPDATE quota_usage SET credits = MAX(0, credits + ?) WHERE guild_id = ?"
        " AND member_id = ? AND period = ? AND period_key = ?",
        (guild_id, member_id, period, key, delta)
        if delta > 0
        else (delta, guild_id, member_id, period, key),
    )


def _grant_balance(conn: sqlite3.Connection, guild_id: int, member_id: int) -> int:
    row = conn.execute(
        "SELECT balance FROM quota_grants WHERE guild_id = ? AND member_id = ?",
        (guild_id, member_id),
    ).fetchone()
    return int(row[0]) if row else 0


def _usage(
    conn: sqlite3.Connection, guild_id: int, member_id: int, day_key: str, month_key: str
) -> Usage:
    return Usage(
        pool_day=_used(conn, guild_id, POOL, "pool_day", day_key),
        pool_month=_used(conn, guild_id, POOL, "pool_month", month_key),
        member_day=_used(conn, guild_id, member_id, "day", day_key),
        grant_balance=_grant_balance(conn, guild_id, member_id),
    )


def _charge(row: sqlite3.Row) -> ChargeRecord:
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


class SQLiteQuotaStore:
    """Budgets, grants, member snapshots and per-job reservations."""

    def __init__(self, worker: SQLiteWorker) -> None:
        self._w = worker

    # -- settings -----------------------------------------------------------------------------

    async def get_guild(self, guild_id: int) -> GuildQuotaRow:
        """Return the server's stored quota settings (all unset if it configured nothing)."""
        return await self._w.run(lambda c: _guild_row(c, guild_id))

    async def update_guild(
        self, guild_id: int, *, actor_id: int, now: float, **changes: Any
    ) -> tuple[GuildQuotaRow, GuildQuotaRow]:
        """Change quota settings, recording each change in the audit log; return (before, after)."""
        unknown = set(changes) - set(_GUILD_FIELDS)
        if unknown:
            raise ValueError(f"unknown quota settings: {sorted(unknown)}")

        def fn(conn: sqlite3.Connection) -> tuple[GuildQuotaRow, GuildQuotaRow]:
            before = _guild_row(conn, guild_id)
            conn.execute(
                "INSERT INTO quota_guilds (guild_id, updated_at) VALUES (?, ?)"
                " ON CONFLICT (guild_id) DO NOTHING",
                (guild_id, now),
            )
            for name, value in changes.items():
                old = getattr(before, name)
                stored = int(value) if isinstance(value, bool) else value
                conn.execute(
                    f"UPDATE quota_guilds SET {name} = ?, updated_at = ? WHERE guild_id = ?",
                    (stored, now, guild_id),
                )
                if old != value:
                    _audit(conn, guild_id, actor_id, f"quota.{name}", None, old, value, now)
            return before, _guild_row(conn, guild_id)

        return await self._w.write(fn)

    async def role_caps(self, guild_id: int) -> dict[int, int]:
        """Return every role override of the server: role id -> daily cap (-1 unlimited)."""
        rows = await self._w.run(
            lambda c: c.execute(
                "SELECT role_id, daily FROM quota_role_caps WHERE guild_id = ?", (guild_id,)
            ).fetchall()
        )
        return {int(r[0]): int(r[1]) for r in rows}

    async def member_caps(self, guild_id: int) -> dict[int, int]:
        """Return every member override of the server: member id -> daily cap (-1 unlimited)."""
        rows = await self._w.run(
            lambda c: c.execute(
                "SELECT member_id, daily FROM quota_member_caps WHERE guild_id = ?", (guild_id,)
            ).fetchall()
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
        def fn(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(
                f"SELECT daily FROM {table} WHERE guild_id = ? AND {column} = ?",
                (guild_id, subject),
            ).fetchone()
            before = int(row[0]) if row else None
            if daily is None:
                conn.execute(
                    f"DELETE FROM {table} WHERE guild_id = ? AND {column} = ?", (guild_id, subject)
                )
            else:
                conn.execute(
                    f"INSERT INTO {table} (guild_id, {column}, daily) VALUES (?, ?, ?)"
                    f" ON CONFLICT (guild_id, {column}) DO UPDATE SET daily = excluded.daily",
                    (guild_id, subject, daily),
                )
            if before != daily:
                kind = "role" if column == "role_id" else "member"
                _audit(
                    conn,
                    guild_id,
                    actor_id,
                    f"quota.{kind}_daily",
                    str(subject),
                    before,
                    daily,
                    now,
                )
            return before

        return await self._w.write(fn)

    async def grant(
        self, guild_id: int, member_id: int, credits: int, *, actor_id: int, now: float
    ) -> int:
        """Add ``credits`` (negative takes back, never below 0) to a member's grants; return it."""

        def fn(conn: sqlite3.Connection) -> int:
            before = _grant_balance(conn, guild_id, member_id)
            after = max(0, before + credits)
            conn.execute(
                "INSERT INTO quota_grants (guild_id, member_id, balance) VALUES (?, ?, ?)"
                " ON CONFLICT (guild_id, member_id) DO UPDATE SET balance = excluded.balance",
                (guild_id, member_id, after),
            )
            _audit(conn, guild_id, actor_id, "quota.grant", str(member_id), before, after, now)
            return after

        return await self._w.write(fn)

    # -- members ------------------------------------------------------------------------------

    async def remember_member(
        self, guild_id: int, member_id: int, role_ids: Iterable[int], moderator: bool, now: float
    ) -> None:
        """Record the member's roles and moderator flag, read later when their job reserves."""
        roles = json.dumps(sorted({int(r) for r in role_ids}))
        await self._w.run(
            lambda c: c.execute(
                "INSERT INTO quota_members (guild_id, member_id, role_ids_json, moderator, seen_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (guild_id, member_id) DO UPDATE SET"
                " role_ids_json = excluded.role_ids_json, moderator = excluded.moderator,"
                " seen_at = excluded.seen_at",
                (guild_id, member_id, roles, int(moderator), now),
            )
        )

    async def member_rules(
        self,
        guild_id: int,
        member_id: int,
        role_ids: Iterable[int] | None = None,
        moderator: bool | None = None,
    ) -> MemberRules:
        """Return what decides the member's cap; roles/moderator default to the last seen."""
        given = None if role_ids is None else tuple(int(r) for r in role_ids)

        def fn(conn: sqlite3.Connection) -> MemberRules:
            roles, mod = given, moderator
            if roles is None or mod is None:
                seen = conn.execute(
                    "SELECT role_ids_json, moderator FROM quota_members"
                    " WHERE guild_id = ? AND member_id = ?",
                    (guild_id, member_id),
                ).fetchone()
                if roles is None:
                    roles = tuple(json.loads(seen[0])) if seen else ()
                if mod is None:
                    mod = bool(seen[1]) if seen else False
            role_caps: dict[int, int] = {}
            if roles:
                marks = ", ".join("?" for _ in roles)
                for r in conn.execute(
                    f"SELECT role_id, daily FROM quota_role_caps WHERE guild_id = ?"
                    f" AND role_id IN ({marks})",
                    (guild_id, *roles),
                ):
                    role_caps[int(r[0])] = int(r[1])
            cap = conn.execute(
                "SELECT daily FROM quota_member_caps WHERE guild_id = ? AND member_id = ?",
                (guild_id, member_id),
            ).fetchone()
            return MemberRules(
                guild=_guild_row(conn, guild_id),
                role_caps=role_caps,
                member_cap=int(cap[0]) if cap else None,
                grant_balance=_grant_balance(conn, guild_id, member_id),
                role_ids=roles,
                moderator=mod,
            )

        return await self._w.run(fn)

    async def usage(self, guild_id: int, member_id: int, day_key: str, month_key: str) -> Usage:
        """Return credits held in the given windows by the pool and the member, and grants."""
        return await self._w.run(lambda c: _usage(c, guild_id, member_id, day_key, month_key))

    # -- reservations -------------------------------------------------------------------------

    async def reserve(self, r: Reservation) -> ReserveResult:
        """Check every budget and record the job's charge in one write transaction.

        Idempotent per job id: a job that already reserved gets ``repeated=True`` and nothing
        changes.
        """

        def fn(conn: sqlite3.Connection) -> ReserveResult:
            usage = _usage(conn, r.guild_id, r.member_id, r.day_key, r.month_key)
            existing = conn.execute(
                "SELECT from_grant FROM quota_charges WHERE job_id = ?", (r.job_id,)
            ).fetchone()
            if existing is not None:
                return ReserveResult(True, usage, from_grant=int(existing[0]), repeated=True)
            plan = plan_reservation(
                usage,
                r.credits,
                pool_daily=r.pool_daily,
                pool_monthly=r.pool_monthly,
                member_daily=r.member_daily,
            )
            if plan.refused_by is not None:
                return ReserveResult(False, usage, refused_by=plan.refused_by)
            conn.execute(
                "INSERT INTO quota_charges (job_id, guild_id, member_id, model, credits,"
                " from_grant, state, day_key, month_key, reserved_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 'reserved', ?, ?, ?)",
                (
                    r.job_id,
                    r.guild_id,
                    r.member_id,
                    r.model,
                    r.credits,
                    plan.from_grant,
                    r.day_key,
                    r.month_key,
                    r.now,
                ),
            )
            _add_usage(conn, r.guild_id, POOL, "pool_day", r.day_key, r.credits)
            _add_usage(conn, r.guild_id, POOL, "pool_month", r.month_key, r.credits)
            _add_usage(conn, r.guild_id, r.member_id, "day", r.day_key, plan.from_daily)
            if plan.from_grant:
                conn.execute(
                    "UPDATE quota_grants SET balance = balance - ? WHERE guild_id = ?"
                    " AND member_id = ?",
                    (plan.from_grant, r.guild_id, r.member_id),
                )
            return ReserveResult(True, usage, from_grant=plan.from_grant)

        return await self._w.write(fn)

    async def commit(self, job_id: int, *, now: float) -> bool:
        """Make a reservation final; True if this call changed it (idempotent)."""

        def fn(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE quota_charges SET state = 'committed', settled_at = ?"
                " WHERE job_id = ? AND state = 'reserved'",
                (now, job_id),
            )
            return cur.rowcount == 1

        return await self._w.run(fn)

    async def release(self, job_id: int, *, now: float) -> bool:
        """Give a reservation back to every budget it was taken from; True if this call did."""

        def fn(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT * FROM quota_charges WHERE job_id = ? AND state = 'reserved'", (job_id,)
            ).fetchone()
            if row is None:
                return False  # never reserved, or already settled
            conn.execute(
                "UPDATE quota_charges SET state = 'released', settled_at = ? WHERE job_id = ?",
                (now, job_id),
            )
            g, m, credits, grant = (
                row["guild_id"],
                row["member_id"],
                row["credits"],
                row["from_grant"],
            )
            if row["counts_pool"]:
                _add_usage(conn, g, POOL, "pool_day", row["day_key"], -credits)
                _add_usage(conn, g, POOL, "pool_month", row["month_key"], -credits)
            if row["counts_member"]:
                _add_usage(conn, g, m, "day", row["day_key"], -(credits - grant))
            if grant:
                conn.execute(
                    "UPDATE quota_grants SET balance = balance + ? WHERE guild_id = ?"
                    " AND member_id = ?",
                    (grant, g, m),
                )
            return True

        return await self._w.write(fn)

    async def get_charge(self, job_id: int) -> ChargeRecord | None:
        """Return the job's reservation, if it made one."""
        row = await self._w.run(
            lambda c: c.execute(
                "SELECT * FROM quota_charges WHERE job_id = ?", (job_id,)
            ).fetchone()
        )
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

        def fn(conn: sqlite3.Connection) -> int:
            if member_id is not None:
                forgiven = _used(conn, guild_id, member_id, "day", day_key)
                conn.execute(
                    "UPDATE quota_usage SET credits = 0 WHERE guild_id = ? AND member_id = ?"
                    " AND period = 'day' AND period_key = ?",
                    (guild_id, member_id, day_key),
                )
                conn.execute(
                    "UPDATE quota_charges SET counts_member = 0 WHERE guild_id = ?"
                    " AND member_id = ? AND day_key = ?",
                    (guild_id, member_id, day_key),
                )
                _audit(conn, guild_id, actor_id, "quota.reset", str(member_id), forgiven, 0, now)
                return forgiven
            forgiven = _used(conn, guild_id, POOL, "pool_month", month_key)
            conn.execute(
                "UPDATE quota_usage SET credits = 0 WHERE guild_id = ? AND ((period IN ('day',"
                " 'pool_day') AND period_key = ?) OR (period = 'pool_month' AND period_key = ?))",
                (guild_id, day_key, month_key),
            )
            conn.execute(
                "UPDATE quota_charges SET counts_pool = 0 WHERE guild_id = ? AND month_key = ?",
                (guild_id, month_key),
            )
            conn.execute(
                "UPDATE quota_charges SET counts_member = 0 WHERE guild_id = ? AND day_key = ?",
                (guild_id, day_key),
            )
            _audit(conn, guild_id, actor_id, "quota.reset", "server", forgiven, 0, now)
            return forgiven

        return await self._w.write(fn)

    async def report(self, guild_id: int, day_keys: list[str], *, top: int = 5) -> UsageReport:
        """Return committed credits for the given days (server-local keys), oldest first."""

        def fn(conn: sqlite3.Connection) -> UsageReport:
            if not day_keys:
                return UsageReport()
            marks = ", ".join("?" for _ in day_keys)
            where = f"guild_id = ? AND day_key IN ({marks}) AND state = 'committed'"
            params = (guild_id, *day_keys)
            per_day = dict.fromkeys(day_keys, 0)
            for r in conn.execute(
                f"SELECT day_key, SUM(credits) FROM quota_charges WHERE {where} GROUP BY day_key",
                params,
            ):
                per_day[r[0]] = int(r[1])
            members = conn.execute(
                f"SELECT member_id, SUM(credits) AS s FROM quota_charges WHERE {where}"
                " GROUP BY member_id ORDER BY s DESC, member_id LIMIT ?",
                (*params, top),
            ).fetchall()
            models = conn.execute(
                f"SELECT model, SUM(credits) AS s FROM quota_charges WHERE {where}"
                " GROUP BY model ORDER BY s DESC, model",
                params,
            ).fetchall()
            flight = conn.execute(
                "SELECT COALESCE(SUM(credits), 0) FROM quota_charges WHERE guild_id = ?"
                " AND state = 'reserved'",
                (guild_id,),
            ).fetchone()
            return UsageReport(
                days=list(per_day.items()),
                top_members=[(int(r[0]), int(r[1])) for r in members],
                by_model=[(str(r[0]), int(r[1])) for r in models],
                in_flight=int(flight[0]),
            )

        return await self._w.run(fn)


def _settings_row(conn: sqlite3.Connection, guild_id: int) -> GuildSettingsRow:
    row = conn.execute("SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,)).fetchone()
    channels = tuple(
        int(r[0])
        for r in conn.execute(
            "SELECT channel_id FROM guild_art_channels WHERE guild_id = ? ORDER BY added_at,"
            " channel_id",
            (guild_id,),
        )
    )
    terms = tuple(
        str(r[0])
        for r in conn.execute(
            "SELECT term FROM guild_blocklist WHERE guild_id = ? ORDER BY term", (guild_id,)
        )
    )
    if row is None:
        return GuildSettingsRow(guild_id, channels=channels, blocklist=terms)
    return GuildSettingsRow(
        guild_id=guild_id,
        gallery_channel_id=row["gallery_channel_id"],
        default_model=row["default_model"],
        default_quality=row["default_quality"],
        default_resolution=row["default_resolution"],
        max_count=row["max_count"],
        max_resolution=row["max_resolution"],
        channels=channels,
        blocklist=terms,
    )


class SQLiteGuildSettingsStore:
    """Art channels, gallery, defaults, limits, blocklist and the audit log."""

    def __init__(self, worker: SQLiteWorker) -> None:
        self._w = worker

    async def get(self, guild_id: int) -> GuildSettingsRow:
        """Return the server's settings (all unset if it configured nothing)."""
        return await self._w.run(lambda c: _settings_row(c, guild_id))

    async def update(
        self, guild_id: int, *, actor_id: int, now: float, **changes: Any
    ) -> tuple[GuildSettingsRow, GuildSettingsRow]:
        """Change settings (None clears), auditing each change; return (before, after)."""
        unknown = set(changes) - SETTING_FIELDS
        if unknown:
            raise ValueError(f"unknown guild settings: {sorted(unknown)}")

        def fn(conn: sqlite3.Connection) -> tuple[GuildSettingsRow, GuildSettingsRow]:
            before = _settings_row(conn, guild_id)
            conn.execute(
                "INSERT INTO guild_settings (guild_id, updated_at) VALUES (?, ?)"
                " ON CONFLICT (guild_id) DO NOTHING",
                (guild_id, now),
            )
            for name, value in changes.items():
                conn.execute(
                    f"UPDATE guild_settings SET {name} = ?, updated_at = ? WHERE guild_id = ?",
                    (value, now, guild_id),
                )
                old = getattr(before, name)
                if old != value:
                    _audit(conn, guild_id, actor_id, f"settings.{name}", None, old, value, now)
            return before, _settings_row(conn, guild_id)

        return await self._w.write(fn)

    async def add_channel(
        self, guild_id: int, channel_id: int, *, actor_id: int, now: float
    ) -> bool:
        """Add an art channel; False if it was already listed."""
        return await self._change_set(
            "guild_art_channels", "channel_id", guild_id, channel_id, True, actor_id, now
        )

    async def remove_channel(
        self, guild_id: int, channel_id: int, *, actor_id: int, now: float
    ) -> bool:
        """Remove an art channel; False if it was not listed."""
        return await self._change_set(
            "guild_art_channels", "channel_id", guild_id, channel_id, False, actor_id, now
        )

    async def add_term(self, guild_id: int, term: str, *, actor_id: int, now: float) -> bool:
        """Add a blocklist term (stored case-folded); False if it was already there."""
        return await self._change_set(
            "guild_blocklist", "term", guild_id, term, True, actor_id, now
        )

    async def remove_term(self, guild_id: int, term: str, *, actor_id: int, now: float) -> bool:
        """Remove a blocklist term; False if it was not there."""
        return await self._change_set(
            "guild_blocklist", "term", guild_id, term, False, actor_id, now
        )

    async def _change_set(
        self,
        table: str,
        column: str,
        guild_id: int,
        value: int | str,
        add: bool,
        actor_id: int,
        now: float,
    ) -> bool:
        action = {
            "guild_art_channels": "settings.channels",
            "guild_blocklist": "settings.blocklist",
        }[table]

        def fn(conn: sqlite3.Connection) -> bool:
            if add:
                cur = conn.execute(
                    f"INSERT INTO {table} (guild_id, {column}, added_at) VALUES (?, ?, ?)"
                    f" ON CONFLICT (guild_id, {column}) DO NOTHING",
                    (guild_id, value, now),
                )
            else:
                cur = conn.execute(
                    f"DELETE FROM {table} WHERE guild_id = ? AND {column} = ?", (guild_id, value)
                )
            changed = cur.rowcount == 1
            if changed:
                before, after = (None, str(value)) if add else (str(value), None)
                _audit(conn, guild_id, actor_id, action, str(value), before, after, now)
            return changed

        return await self._w.write(fn)

    async def audit(
        self, guild_id: int, *, limit: int = 20, before_id: int | None = None
    ) -> list[AuditEntry]:
        """Return the newest audit entries (newest first), optionally older than ``before_id``."""

        def fn(conn: sqlite3.Connection) -> list[AuditEntry]:
            rows = conn.execute(
                "SELECT * FROM guild_audit WHERE guild_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
                (guild_id, before_id if before_id is not None else 2**62, limit),
            ).fetchall()
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

        return await self._w.run(fn)


async def open_quota_worker(
    path: Path | None, *, migrations_dir: Path = MIGRATIONS_DIR
) -> SQLiteWorker:
    """Open the quota/settings connection to the database file (or a private in-memory one)."""
    worker = (
        SQLiteWorker(str(path))
        if path is not None
        else SQLiteWorker(":memory:", memory_schema=migrations_dir)
    )
    await worker.open()
    return worker
