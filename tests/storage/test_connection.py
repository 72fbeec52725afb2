"""One connection for every store: ``:memory:`` is one database; transactions never swallow
another coroutine's statements; concurrent reservations never overspend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.clock import ManualClock
from bot.jobs.states import JobState
from bot.quota.service import MemberRef, QuotaExceeded, QuotaService
from bot.storage import Database, open_database
from bot.storage.sqlite import SQLiteDatabase
from tests.quota.conftest import NOON_JAN_15, make_job


@pytest_asyncio.fixture
async def mem() -> AsyncIterator[SQLiteDatabase]:
    database = await open_database("sqlite://:memory:")
    assert isinstance(database, SQLiteDatabase)
    try:
        yield database
    finally:
        await database.close()


def service(db: Database) -> QuotaService:
    return QuotaService(db.quotas, clock=ManualClock(NOON_JAN_15))


async def attempt(quotas: QuotaService, job_id: int, member_id: int, db: Database) -> bool:
    job = await db.jobs.get(job_id)
    assert job is not None
    try:
        await quotas.reserve(job)
    except QuotaExceeded:
        return False
    return True


async def test_memory_database_holds_quota_and_job_tables_together(mem: SQLiteDatabase) -> None:
    quotas = service(mem)
    job = await make_job(mem, member_id=7)
    await quotas.reserve(job)
    rows = await mem.connection.fetchall(
        "SELECT jobs.id, jobs.member_id, quota_charges.credits FROM jobs"
        " JOIN quota_charges ON quota_charges.job_id = jobs.id"
    )
    assert [tuple(r) for r in rows] == [(job.id, 7, 1)]
    report = await quotas.store.report(1, ["2026-01-15"])
    assert report.in_flight == 1


async def test_50_concurrent_reservations_never_overspend_a_small_pool(
    mem: SQLiteDatabase,
) -> None:
    quotas = service(mem)
    await quotas.configure_server(1, 999, daily=7, member_daily="unlimited")
    jobs = [await make_job(mem, member_id=100 + i) for i in range(50)]
    results = await asyncio.gather(*(attempt(quotas, j.id, j.member_id, mem) for j in jobs))
    assert results.count(True) == 7
    status = await quotas.status(MemberRef(1, 100))
    assert status.usage.pool_day == 7
    row = await mem.connection.fetchone("SELECT COUNT(*), SUM(credits) FROM quota_charges")
    assert row is not None and tuple(row) == (7, 7)


async def test_a_rolled_back_transaction_keeps_concurrent_job_writes(
    mem: SQLiteDatabase,
) -> None:
    quotas = service(mem)
    await quotas.configure_server(1, 999, daily=0, member_daily="unlimited")
    conn = mem.connection
    started = asyncio.Event()

    async def failing_transaction(i: int) -> None:
        with pytest.raises(RuntimeError):
            async with conn.transaction() as q:
                await q.execute(
                    "INSERT INTO quota_usage (guild_id, member_id, period, period_key, credits)"
                    " VALUES (?, ?, 'day', 'k', 1)",
                    (9, i),
                )
                started.set()
                for _ in range(5):
                    await asyncio.sleep(0)  # let the job writers queue up behind the lock
                raise RuntimeError("abandon")

    async def refused_reserve(job_id: int) -> None:
        job = await mem.jobs.get(job_id)
        assert job is not None
        with pytest.raises(QuotaExceeded):
            await quotas.reserve(job)

    async def job_writer() -> int:
        await started.wait()
        job = await make_job(mem)
        moved = await mem.jobs.transition(job.id, JobState.PENDING, JobState.SUBMITTING, now=1.0)
        assert moved is not None
        moved = await mem.jobs.transition(
            job.id, JobState.SUBMITTING, JobState.SUBMITTED, now=2.0, task_id=f"t{job.id}"
        )
        assert moved is not None
        return job.id

    to_refuse = [await make_job(mem, member_id=50 + i) for i in range(10)]
    results = await asyncio.gather(
        *(failing_transaction(i) for i in range(10)),
        *(refused_reserve(j.id) for j in to_refuse),
        *(job_writer() for _ in range(30)),
    )
    written = [r for r in results if isinstance(r, int)]
    assert len(written) == 30
    for job_id in written:
        job = await mem.jobs.get(job_id)
        assert job is not None
        assert job.state is JobState.SUBMITTED and job.task_id == f"t{job_id}"
    leftover = await conn.fetchone("SELECT COUNT(*) FROM quota_usage WHERE guild_id = 9")
    assert leftover is not None and leftover[0] == 0
    charges = await conn.fetchone("SELECT COUNT(*) FROM quota_charges")
    assert charges is not None and charges[0] == 0


async def test_statements_after_close_are_refused(mem: SQLiteDatabase) -> None:
    await mem.close()
    with pytest.raises(RuntimeError, match="closed"):
        await mem.jobs.get(1)


async def test_reserve_asks_the_planner_inside_its_transaction(mem: SQLiteDatabase) -> None:
    from bot.quota.records import Reservation, ReservationPlan, Usage

    job = await make_job(mem, member_id=7)
    seen: list[Usage] = []

    def planner(usage: Usage) -> ReservationPlan:
        seen.append(usage)
        return ReservationPlan(None, from_daily=3)

    r = Reservation(job.id, 1, 7, "m", 3, "2026-01-15", "2026-01", now=NOON_JAN_15)
    result = await mem.quotas.reserve(r, planner)
    assert result.accepted and seen == [Usage()]
    again = await mem.quotas.reserve(r, planner)
    assert again.repeated and len(seen) == 1  # idempotent: the planner is not asked again
    assert (await mem.quotas.usage(1, 7, "2026-01-15", "2026-01")).member_day == 3

    def broken(usage: Usage) -> ReservationPlan:
        raise ValueError("rules blew up")

    other = await make_job(mem, member_id=8)
    with pytest.raises(ValueError):
        await mem.quotas.reserve(
            Reservation(other.id, 1, 8, "m", 3, "2026-01-15", "2026-01", now=NOON_JAN_15), broken
        )
    assert await mem.quotas.get_charge(other.id) is None
    assert await mem.jobs.get(other.id) is not None  # the connection is usable afterwards
