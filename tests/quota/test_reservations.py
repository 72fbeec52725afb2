"""Reservations on SQLite and PostgreSQL (tests.storage.backends): atomicity, windows, roles, grants, exemption, reset."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.jobs.records import Job
from bot.quota.rules import OperatorDefaults
from bot.quota.service import MemberRef, QuotaError, QuotaExceeded, QuotaService
from bot.storage import Database, open_database
from bot.storage.postgres import PostgresDatabase
from tests.quota.conftest import NOON_JAN_15, body, make_job
from tests.storage.backends import fresh_postgres_url

ADMIN = 999


async def jobs(db: Database, count: int, **kw: object) -> list[Job]:
    return [await make_job(db, **kw) for _ in range(count)]  # type: ignore[arg-type]


async def attempt(service: QuotaService, job: Job) -> bool:
    try:
        await service.reserve(job)
    except QuotaExceeded:
        return False
    return True


async def test_500_concurrent_reservations_against_a_budget_of_100(
    qdb: Database, quotas: QuotaService
) -> None:
    await quotas.configure_server(1, ADMIN, daily=100, member_daily="unlimited")
    # 500 different members click at once, each asking for 1 credit.
    many = [await make_job(qdb, member_id=1000 + i) for i in range(500)]
    results = await asyncio.gather(*(attempt(quotas, j) for j in many))
    assert results.count(True) == 100
    assert results.count(False) == 400
    status = await quotas.status(MemberRef(1, 1000))
    assert status.usage.pool_day == 100 and status.usage.pool_month == 100
    charges = [await qdb.quotas.get_charge(j.id) for j in many]
    held = [c for c in charges if c is not None]
    assert len(held) == 100 and sum(c.credits for c in held) == 100


async def test_two_processes_on_one_postgres_never_overspend() -> None:
    # Two databases = two pools of 10 connections each (two bot processes), 500 callers, one
    # budget of 100: the row locks on the pool's usage rows let exactly 100 through.
    async with fresh_postgres_url() as url:
        first, second = await open_database(url), await open_database(url)
        clock = ManualClock(NOON_JAN_15)
        try:
            a = QuotaService(first.quotas, clock=clock)
            b = QuotaService(second.quotas, clock=clock)
            await a.configure_server(1, ADMIN, daily=100, member_daily="unlimited")
            many = [await make_job(first, member_id=1000 + i) for i in range(500)]
            results = await asyncio.gather(
                *(attempt(a if i % 2 else b, j) for i, j in enumerate(many))
            )
            assert results.count(True) == 100 and results.count(False) == 400
            usage = (await b.status(MemberRef(1, 1000))).usage
            assert usage.pool_day == 100 and usage.pool_month == 100
            # The burst really ran over many connections per process.
            for db in (first, second):
                assert isinstance(db, PostgresDatabase)
                assert db.connection.raw.get_size() >= 10
        finally:
            await first.close()
            await second.close()


async def test_two_processes_on_one_file_never_overspend(tmp_path: Path) -> None:
    # Two Database objects = two connections (as two bot processes would have): BEGIN IMMEDIATE
    # makes one wait for the other.
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = await open_database(url), await open_database(url)
    clock = ManualClock(NOON_JAN_15)
    try:
        a = QuotaService(first.quotas, clock=clock)
        b = QuotaService(second.quotas, clock=clock)
        await a.configure_server(1, ADMIN, daily=60, member_daily="unlimited")
        many = [await make_job(first, member_id=i) for i in range(300)]
        results = await asyncio.gather(*(attempt(a if i % 2 else b, j) for i, j in enumerate(many)))
        assert results.count(True) == 60
        assert (await a.status(MemberRef(1, 0))).usage.pool_day == 60
    finally:
        await first.close()
        await second.close()


async def test_one_member_clicking_many_times_gets_exactly_their_cap(
    qdb: Database, quotas: QuotaService
) -> None:
    many = await jobs(qdb, 60)  # default cap: 20 credits, 1 credit each
    results = await asyncio.gather(*(attempt(quotas, j) for j in many))
    assert results.count(True) == 20


async def test_refusal_says_why_what_is_left_and_when_it_resets(
    qdb: Database, quotas: QuotaService
) -> None:
    await quotas.configure_server(1, ADMIN, member_daily=5)
    big = await make_job(qdb, request_json=body(n=4, quality="high"))  # 16 credits
    with pytest.raises(QuotaExceeded) as err:
        await quotas.reserve(big)
    message = str(err.value)
    assert "5 credits left today" in message
    assert "costs 16" in message
    midnight = int(NOON_JAN_15 + 12 * 3600)
    assert f"<t:{midnight}:R>" in message
    assert "Nothing was charged" in message
    assert err.value.budget == "member_daily" and err.value.left == 5
    assert err.value.resets_at == midnight
    assert await qdb.quotas.get_charge(big.id) is None


async def test_pool_refusal_names_the_pool(qdb: Database, quotas: QuotaService) -> None:
    await quotas.configure_server(1, ADMIN, daily=3, monthly=10)
    await quotas.reserve(await make_job(qdb, request_json=body(n=3)))
    with pytest.raises(QuotaExceeded, match="daily credit pool") as err:
        await quotas.reserve(await make_job(qdb, member_id=8))
    assert err.value.budget == "pool_daily" and err.value.left == 0


async def test_daily_window_rolls_over_at_midnight_utc(
    qdb: Database, quotas: QuotaService, qclock: ManualClock
) -> None:
    await quotas.configure_server(1, ADMIN, member_daily=2)
    for _ in range(2):
        await quotas.reserve(await make_job(qdb))
    with pytest.raises(QuotaExceeded):
        await quotas.reserve(await make_job(qdb))
    qclock.advance(12 * 3600 - 1)  # 23:59:59
    with pytest.raises(QuotaExceeded):
        await quotas.reserve(await make_job(qdb))
    qclock.advance(1)  # midnight
    await quotas.reserve(await make_job(qdb))
    status = await quotas.status(MemberRef(1, 7))
    assert status.usage.member_day == 1 and status.usage.pool_month == 3


async def test_monthly_pool_rolls_over_on_the_first(
    qdb: Database, quotas: QuotaService, qclock: ManualClock
) -> None:
    await quotas.configure_server(1, ADMIN, monthly=3, member_daily="unlimited")
    for _ in range(3):
        await quotas.reserve(await make_job(qdb))
    qclock.advance(86400)  # a new day does not refill a monthly pool
    with pytest.raises(QuotaExceeded) as err:
        await quotas.reserve(await make_job(qdb))
    assert err.value.budget == "pool_monthly"
    assert err.value.resets_at == 1_769_904_000  # 2026-02-01 00:00 UTC
    qclock.advance(1_769_904_000 - qclock.now())
    await quotas.reserve(await make_job(qdb))


async def test_server_time_zone_decides_when_the_day_resets(
    qdb: Database, quotas: QuotaService, qclock: ManualClock
) -> None:
    await quotas.configure_server(1, ADMIN, member_daily=1, timezone="Asia/Tokyo")
    # Noon UTC is 21:00 in Tokyo; the Tokyo day ends at 15:00 UTC.
    await quotas.reserve(await make_job(qdb))
    with pytest.raises(QuotaExceeded) as err:
        await quotas.reserve(await make_job(qdb))
    assert err.value.resets_at == NOON_JAN_15 + 3 * 3600
    qclock.advance(3 * 3600)
    await quotas.reserve(await make_job(qdb))
    # Another server on UTC is still on the same day.
    await quotas.configure_server(2, ADMIN, member_daily=1)
    assert (await quotas.status(MemberRef(2, 7))).windows.day_key == "2026-01-15"
    with pytest.raises(QuotaError, match="IANA"):
        await quotas.configure_server(1, ADMIN, timezone="Nowhere/Special")


async def test_most_generous_role_wins_and_member_override_wins_over_roles(
    qdb: Database, quotas: QuotaService
) -> None:
    await quotas.configure_server(1, ADMIN, member_daily=20)
    await quotas.set_role_cap(1, 100, 5, ADMIN)  # newcomers
    await quotas.set_role_cap(1, 200, 50, ADMIN)  # artists
    assert (await quotas.status(MemberRef(1, 7, (100,)))).limits.member_daily == 5
    assert (await quotas.status(MemberRef(1, 7, (100, 200)))).limits.member_daily == 50
    assert (await quotas.status(MemberRef(1, 7, (300,)))).limits.member_daily == 20
    await quotas.set_role_cap(1, 300, "unlimited", ADMIN)
    assert (await quotas.status(MemberRef(1, 7, (200, 300)))).limits.member_daily is None
    await quotas.set_member_cap(1, 7, 3, ADMIN)
    status = await quotas.status(MemberRef(1, 7, (200, 300)))
    assert status.limits.member_daily == 3 and status.limits.source == "your own limit"
    await quotas.set_member_cap(1, 7, "default", ADMIN)
    assert (await quotas.status(MemberRef(1, 7, (200,)))).limits.member_daily == 50
    await quotas.set_role_cap(1, 200, "default", ADMIN)
    assert (await quotas.status(MemberRef(1, 7, (200,)))).limits.member_daily == 20


async def test_reservation_uses_the_roles_that_travel_with_the_job(
    qdb: Database, quotas: QuotaService
) -> None:
    await quotas.set_role_cap(1, 200, 40, ADMIN)
    await quotas.precheck(MemberRef(1, 7, (200,)), 30)
    twenty = body(n=10, quality="medium")  # 20 credits
    await quotas.reserve(await make_job(qdb, request_json=twenty, role_ids=(200,)))
    await quotas.reserve(await make_job(qdb, request_json=twenty, role_ids=(200,)))
    assert (await quotas.status(MemberRef(1, 7, (200,)))).usage.member_day == 40
    # The same member asking without the role (it was taken away) gets the default cap of 20.
    with pytest.raises(QuotaExceeded):
        await quotas.reserve(await make_job(qdb, request_json=body(n=1)))


async def test_the_policy_check_writes_nothing(qdb: Database, quotas: QuotaService) -> None:
    await quotas.set_role_cap(1, 200, 40, ADMIN)
    before = await quotas.status(MemberRef(1, 7))
    await quotas.precheck(MemberRef(1, 7, (200,), moderator=True), 30)
    # Nothing about the member was remembered: without roles they still have the default cap.
    after = await quotas.status(MemberRef(1, 7))
    assert after.limits == before.limits and after.usage == before.usage


async def test_grants_are_spent_after_the_daily_cap_and_refunded_on_release(
    qdb: Database, quotas: QuotaService
) -> None:
    await quotas.configure_server(1, ADMIN, member_daily=2)
    assert await quotas.grant(1, 7, 5, ADMIN) == 5
    first = await make_job(qdb, request_json=body(n=4))  # 4 credits: 2 daily + 2 granted
    await quotas.reserve(first)
    status = await quotas.status(MemberRef(1, 7))
    assert status.usage.member_day == 2 and status.usage.grant_balance == 3
    assert status.spendable == 3
    with pytest.raises(QuotaExceeded, match="plus 3 granted"):
        await quotas.reserve(await make_job(qdb, request_json=body(n=4)))
    await quotas.release(first)
    status = await quotas.status(MemberRef(1, 7))
    assert status.usage.member_day == 0 and status.usage.grant_balance == 5
    assert await quotas.grant(1, 7, -10, ADMIN) == 0
    with pytest.raises(QuotaError):
        await quotas.grant(1, 7, 0, ADMIN)


async def test_exempt_moderators_skip_their_cap_but_not_the_pool(
    qdb: Database, quotas: QuotaService
) -> None:
    await quotas.configure_server(1, ADMIN, member_daily=1, daily=5)
    mod = MemberRef(1, 7, (), moderator=True)
    await quotas.precheck(mod, 1)
    await quotas.reserve(await make_job(qdb, moderator=True))
    with pytest.raises(QuotaExceeded):  # not exempt yet
        await quotas.reserve(await make_job(qdb, moderator=True))
    await quotas.configure_server(1, ADMIN, exempt_moderators=True)
    for _ in range(4):
        await quotas.reserve(await make_job(qdb, moderator=True))
    assert (await quotas.status(mod)).limits.exempt
    with pytest.raises(QuotaExceeded) as err:
        await quotas.reserve(await make_job(qdb, moderator=True))
    assert err.value.budget == "pool_daily"
    # A member who is not a moderator keeps their cap.
    await quotas.precheck(MemberRef(1, 8), 0)
    assert (await quotas.status(MemberRef(1, 8))).limits.member_daily == 1


async def test_unconfigured_server_gets_operator_defaults(
    qdb: Database, qclock: ManualClock
) -> None:
    service = QuotaService(
        qdb.quotas, defaults=OperatorDefaults(pool_daily=50, member_daily=7), clock=qclock
    )
    status = await service.status(MemberRef(5, 7))
    assert status.limits.member_daily == 7 and status.limits.pool_daily == 50
    assert status.limits.pool_monthly is None
    await service.configure_server(5, ADMIN, daily="unlimited")
    assert (await service.status(MemberRef(5, 7))).limits.pool_daily is None


async def test_reserve_commit_release_are_idempotent_per_job(
    qdb: Database, quotas: QuotaService
) -> None:
    a, b = await make_job(qdb), await make_job(qdb)
    assert await quotas.reserve(a) == 1.0
    assert await quotas.reserve(a) == 1.0  # repeated: nothing more reserved
    await quotas.reserve(b)
    assert (await quotas.status(MemberRef(1, 7))).usage.member_day == 2
    await quotas.commit(a)
    await quotas.commit(a)
    await quotas.release(a)  # after commit: nothing happens
    await quotas.release(b)
    await quotas.release(b)
    usage = (await quotas.status(MemberRef(1, 7))).usage
    assert (usage.member_day, usage.pool_day, usage.pool_month) == (1, 1, 1)
    assert (await qdb.quotas.get_charge(a.id)).state == "committed"  # type: ignore[union-attr]
    assert (await qdb.quotas.get_charge(b.id)).state == "released"  # type: ignore[union-attr]
    # Releasing a job that never reserved (refused, or crashed before) is harmless.
    await quotas.release(await make_job(qdb))


async def test_release_after_the_day_rolled_gives_back_to_the_old_day(
    qdb: Database, quotas: QuotaService, qclock: ManualClock
) -> None:
    await quotas.configure_server(1, ADMIN, member_daily=1)
    job = await make_job(qdb)
    await quotas.reserve(job)
    qclock.advance(86400)
    await quotas.reserve(await make_job(qdb))
    await quotas.release(job)  # yesterday's reservation: today's usage is unchanged
    assert (await quotas.status(MemberRef(1, 7))).usage.member_day == 1


async def test_reset_forgives_a_member_or_the_whole_server(
    qdb: Database, quotas: QuotaService
) -> None:
    await quotas.configure_server(1, ADMIN, member_daily=2, daily=100)
    held = await make_job(qdb)
    await quotas.reserve(held)
    await quotas.reserve(await make_job(qdb))
    await quotas.reserve(await make_job(qdb, member_id=8))
    assert await quotas.reset(1, 7, ADMIN) == 2
    status = await quotas.status(MemberRef(1, 7))
    assert status.usage.member_day == 0 and status.usage.pool_day == 3
    await quotas.reserve(await make_job(qdb))
    # A job reserved before the reset fails later: nothing is given back twice.
    await quotas.release(held)
    status = await quotas.status(MemberRef(1, 7))
    assert status.usage.member_day == 1 and status.usage.pool_day == 3
    assert await quotas.reset(1, None, ADMIN) == 3
    for member in (7, 8):
        usage = (await quotas.status(MemberRef(1, member))).usage
        assert (usage.member_day, usage.pool_day, usage.pool_month) == (0, 0, 0)


async def test_usage_report_per_day_member_and_model(
    qdb: Database, quotas: QuotaService, qclock: ManualClock
) -> None:
    await quotas.configure_server(1, ADMIN, member_daily="unlimited")
    a = await make_job(qdb, member_id=7, request_json=body(n=2))
    b = await make_job(qdb, member_id=8, request_json=body("gpt-4o-image", n=4))
    c = await make_job(qdb, member_id=8)
    for job in (a, b, c):
        await quotas.reserve(job)
    await quotas.commit(a)
    await quotas.commit(b)
    await quotas.release(c)
    qclock.advance(86400)
    d = await make_job(qdb, member_id=9, request_json=body(quality="high"))
    await quotas.reserve(d)
    await quotas.commit(d)
    pending = await make_job(qdb, member_id=9)
    await quotas.reserve(pending)
    report, _ = await quotas.usage_report(1, 3)
    assert report.days == [("2026-01-14", 0), ("2026-01-15", 10), ("2026-01-16", 4)]
    assert report.top_members == [(8, 8), (9, 4), (7, 2)]
    assert report.by_model == [("gpt-4o-image", 8), ("gpt-image-1.5-official", 6)]
    assert report.total == 14 and report.in_flight == 1
    with pytest.raises(QuotaError):
        await quotas.usage_report(1, 0)


async def test_moderator_changes_are_audited(qdb: Database, quotas: QuotaService) -> None:
    await quotas.configure_server(1, ADMIN, daily=10, monthly="unlimited")
    await quotas.set_role_cap(1, 100, 5, ADMIN)
    await quotas.grant(1, 7, 3, ADMIN)
    entries = await qdb.audit.recent(1)
    assert [(e.action, e.subject, e.before, e.after) for e in entries] == [
        ("quota.grant", "7", "0", "3"),
        ("quota.role_daily", "100", None, "5"),
        ("quota.pool_monthly", None, None, "-1"),
        ("quota.pool_daily", None, None, "10"),
    ]
    assert all(e.actor_id == ADMIN for e in entries)


@pytest.mark.parametrize("bad", ["-5", "lots", "1e9", "12.5", "99999999999"])
async def test_bad_limits_are_refused_without_change(quotas: QuotaService, bad: str) -> None:
    with pytest.raises(QuotaError):
        await quotas.configure_server(1, ADMIN, daily=bad)
    row, _, _ = await quotas.overview(1)
    assert row.pool_daily is None


async def test_in_memory_database_has_quotas_too(qclock: ManualClock) -> None:
    db = await open_database("sqlite://:memory:")
    try:
        service = QuotaService(db.quotas, clock=qclock)
        await service.configure_server(1, ADMIN, daily=1)
        job = await make_job(db)
        await service.reserve(job)
        with pytest.raises(QuotaExceeded):
            await service.reserve(await make_job(db))
    finally:
        await db.close()


async def test_one_job_reserved_many_times_at_once_is_charged_once(
    qdb: Database, quotas: QuotaService
) -> None:
    # Retries of one job racing each other (on PostgreSQL: over several pooled connections).
    await quotas.configure_server(1, ADMIN, daily=100, member_daily="unlimited")
    job = await make_job(qdb, member_id=5)
    await asyncio.gather(*(quotas.reserve(job) for _ in range(30)))
    charge = await qdb.quotas.get_charge(job.id)
    assert charge is not None and charge.state == "reserved"
    usage = (await quotas.status(MemberRef(1, 5))).usage
    assert usage.pool_day == charge.credits and usage.member_day == charge.credits


async def test_reserve_release_grant_and_reset_at_once_never_deadlock(
    qdb: Database, quotas: QuotaService
) -> None:
    # Every writer takes the usage rows in one order (PostgreSQL: row locks), so a burst of
    # all of them together finishes, and what is left adds up.
    await quotas.configure_server(1, ADMIN, daily=10_000, member_daily="unlimited")
    held = [await make_job(qdb, member_id=100 + i % 6) for i in range(40)]
    await asyncio.gather(*(quotas.reserve(j) for j in held))
    fresh = [await make_job(qdb, member_id=100 + i % 6) for i in range(20)]
    await asyncio.gather(
        *(quotas.release(j) for j in held[:20]),
        *(quotas.commit(j) for j in held[20:30]),
        *(quotas.reserve(j) for j in fresh),
        *(quotas.grant(1, 100 + i, 3, ADMIN) for i in range(6)),
        quotas.reset(1, 103, ADMIN),
        quotas.reset(1, None, ADMIN),
    )
    states = [await qdb.quotas.get_charge(j.id) for j in held + fresh]
    assert all(c is not None for c in states)
    assert sum(c.state == "released" for c in states if c is not None) == 20
    usage = (await quotas.status(MemberRef(1, 100))).usage
    assert usage.pool_day >= 0 and usage.member_day >= 0 and usage.grant_balance == 3
