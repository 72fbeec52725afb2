"""Job leases on both backends: claims, renewals, fencing, and the live-process count."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.jobs.records import NewJob, decode_request
from bot.jobs.states import ChargeState, JobState
from bot.jobs.store import Lease
from bot.storage import Database
from tests.storage.backends import open_test_database

REQUEST = json.dumps({"model": "gpt-image-1.5-official", "prompt": "x"})
NEW = NewJob(member_id=1, request=decode_request(REQUEST))


@pytest_asyncio.fixture
async def db(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    async with open_test_database(backend, tmp_path) as database:
        yield database


async def test_a_new_job_is_leased_to_its_creator(db: Database) -> None:
    job = await db.jobs.create(NEW, now=100.0, owner="a", lease_until=160.0)
    assert (job.lease_owner, job.lease_until, job.lease_fence) == ("a", 160.0, 1)
    plain = await db.jobs.create(NEW, now=100.0)
    assert (plain.lease_owner, plain.lease_until, plain.lease_fence) == (None, None, 0)


async def test_a_live_lease_cannot_be_claimed_and_an_expired_one_can(db: Database) -> None:
    job = await db.jobs.create(NEW, now=100.0, owner="a", lease_until=160.0)
    assert await db.jobs.claim("b", now=159.0, until=219.0, limit=10) == []
    taken = await db.jobs.claim("b", now=161.0, until=221.0, limit=10)
    assert [(j.id, j.lease_owner, j.lease_fence) for j in taken] == [(job.id, "b", 2)]
    # Taken: nobody else gets it, not even the old owner, until b's lease runs out.
    assert await db.jobs.claim("a", now=162.0, until=222.0, limit=10) == []


async def test_a_stale_owner_can_no_longer_write_the_job(db: Database) -> None:
    job = await db.jobs.create(NEW, now=100.0, owner="a", lease_until=160.0)
    await db.jobs.claim("b", now=161.0, until=221.0, limit=10)
    stale, current = Lease("a", 1), Lease("b", 2)
    assert (
        await db.jobs.transition(
            job.id, JobState.PENDING, JobState.UPLOADING, now=170.0, lease=stale
        )
        is None
    )
    assert (
        await db.jobs.update(job.id, JobState.PENDING, now=170.0, attempts=9, lease=stale) is None
    )
    assert (
        await db.jobs.set_charge(
            job.id, ChargeState.NONE, ChargeState.RESERVED, now=170.0, lease=stale
        )
        is None
    )
    unchanged = await db.jobs.get(job.id)
    assert unchanged is not None
    assert (unchanged.state, unchanged.attempts, unchanged.charge_state) == (
        JobState.PENDING,
        0,
        ChargeState.NONE,
    )
    moved = await db.jobs.transition(
        job.id, JobState.PENDING, JobState.UPLOADING, now=170.0, lease=current
    )
    assert moved is not None and moved.state == JobState.UPLOADING
    # A member's cancel from a process that holds no lease is a plain compare-and-set.
    cancelled = await db.jobs.transition(job.id, JobState.UPLOADING, JobState.CANCELLED, now=171.0)
    assert cancelled is not None and cancelled.state == JobState.CANCELLED


async def test_renew_keeps_the_owners_jobs_with_work_left(db: Database) -> None:
    mine = await db.jobs.create(NEW, now=100.0, owner="a", lease_until=160.0)
    owed = await db.jobs.create(NEW, now=100.0, owner="a", lease_until=160.0)
    await db.jobs.set_charge(owed.id, ChargeState.NONE, ChargeState.RESERVED, now=101.0)
    await db.jobs.transition(
        owed.id, JobState.PENDING, JobState.FAILED, now=102.0, charge="release"
    )
    done = await db.jobs.create(NEW, now=100.0, owner="a", lease_until=160.0)
    await db.jobs.transition(done.id, JobState.PENDING, JobState.CANCELLED, now=102.0)
    theirs = await db.jobs.create(NEW, now=100.0, owner="b", lease_until=160.0)

    kept = await db.jobs.renew("a", until=200.0)
    # The failed job still owes its release and its notice: still a's to finish.
    assert kept == {mine.id: 1, owed.id: 1}
    # At 170 b's lease has run out; a's renewed ones have not.
    taken = await db.jobs.claim("c", now=170.0, until=230.0, limit=10)
    assert [j.id for j in taken] == [theirs.id]
    renewed = await db.jobs.get(mine.id)
    assert renewed is not None and renewed.lease_until == 200.0


async def test_claim_takes_jobs_with_work_left_only(db: Database) -> None:
    active = await db.jobs.create(NEW, now=1.0)
    unsettled = await db.jobs.create(NEW, now=1.0)
    await db.jobs.set_charge(unsettled.id, ChargeState.NONE, ChargeState.RESERVED, now=1.0)
    await db.jobs.transition(
        unsettled.id, JobState.PENDING, JobState.CANCELLED, now=2.0, charge="release"
    )
    finished = await db.jobs.create(NEW, now=1.0)
    await db.jobs.transition(finished.id, JobState.PENDING, JobState.CANCELLED, now=2.0)
    taken = await db.jobs.claim("a", now=10.0, until=70.0, limit=10)
    assert [j.id for j in taken] == [active.id, unsettled.id]


async def test_released_leases_are_claimable_at_once(db: Database) -> None:
    job = await db.jobs.create(NEW, now=100.0, owner="a", lease_until=160.0)
    assert await db.jobs.release_leases("a") == 1
    taken = await db.jobs.claim("b", now=101.0, until=161.0, limit=10)
    assert [(j.id, j.lease_fence) for j in taken] == [(job.id, 2)]


async def test_force_takes_every_job_whatever_its_lease(db: Database) -> None:
    job = await db.jobs.create(NEW, now=100.0, owner="old", lease_until=160.0)
    taken = await db.jobs.claim("new", now=101.0, until=161.0, limit=10, force=True)
    assert [(j.id, j.lease_owner) for j in taken] == [(job.id, "new")]


async def test_concurrent_claimers_take_disjoint_jobs(db: Database) -> None:
    ids = {(await db.jobs.create(NEW, now=1.0)).id for _ in range(120)}

    async def claimer(owner: str) -> list[int]:
        got: list[int] = []
        while True:
            batch = await db.jobs.claim(owner, now=10.0, until=70.0, limit=7)
            if not batch:
                return got
            got += [j.id for j in batch]

    results = await asyncio.gather(*(claimer(f"p{i}") for i in range(4)))
    claimed = [job_id for got in results for job_id in got]
    assert sorted(claimed) == sorted(ids)  # every job once: none twice, none missed
    for job_id in ids:
        job = await db.jobs.get(job_id)
        assert job is not None and job.lease_fence == 1


async def test_beat_counts_live_processes(db: Database) -> None:
    assert await db.jobs.beat("a", now=100.0, window=60.0) == 1
    assert await db.jobs.beat("b", now=110.0, window=60.0) == 2
    # a stopped beating 70 s ago: gone from b's count.
    assert await db.jobs.beat("b", now=170.0, window=60.0) == 1
    await db.jobs.beat("a", now=171.0, window=60.0)
    await db.jobs.leave("a")
    assert await db.jobs.beat("b", now=172.0, window=60.0) == 1


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_claims_skip_rows_another_transaction_holds(db: Database) -> None:
    """A claimer never waits behind another: locked rows are skipped (FOR UPDATE SKIP LOCKED)."""
    first = await db.jobs.create(NEW, now=1.0)
    second = await db.jobs.create(NEW, now=1.0)
    pool = db.connection.raw  # type: ignore[attr-defined]
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE", first.id)
        taken = await asyncio.wait_for(
            db.jobs.claim("b", now=10.0, until=70.0, limit=10), timeout=30
        )
    assert [j.id for j in taken] == [second.id]
