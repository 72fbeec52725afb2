"""The job store: compare-and-set transitions, every legal and illegal one, charge states."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.jobs.records import NewJob, ReferenceImage, decode_request
from bot.jobs.states import (
    ACTIVE_STATES,
    FINAL_STATES,
    TRANSITIONS,
    ChargeState,
    IllegalTransition,
    JobState,
    can_transition,
)
from bot.storage import Database, DurationStat
from tests.storage.backends import open_test_database

REQUEST = json.dumps({"model": "gpt-image-1.5-official", "prompt": "x", "resolution": "2k"})

# The shortest legal path from pending to each state, to put a job there.
PATHS: dict[JobState, list[JobState]] = {
    JobState.PENDING: [],
    JobState.UPLOADING: [JobState.UPLOADING],
    JobState.SUBMITTING: [JobState.SUBMITTING],
    JobState.SUBMITTED: [JobState.SUBMITTING, JobState.SUBMITTED],
    JobState.RUNNING: [JobState.SUBMITTING, JobState.SUBMITTED, JobState.RUNNING],
    JobState.COMPLETED: [JobState.SUBMITTING, JobState.SUBMITTED, JobState.COMPLETED],
    JobState.DELIVERING: [
        JobState.SUBMITTING,
        JobState.SUBMITTED,
        JobState.COMPLETED,
        JobState.DELIVERING,
    ],
    JobState.DELIVERED: [
        JobState.SUBMITTING,
        JobState.SUBMITTED,
        JobState.COMPLETED,
        JobState.DELIVERING,
        JobState.DELIVERED,
    ],
    JobState.FAILED: [JobState.FAILED],
    JobState.CANCELLED: [JobState.CANCELLED],
}


@pytest_asyncio.fixture
async def db(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    async with open_test_database(backend, tmp_path) as database:
        yield database


async def _job_in(db: Database, state: JobState) -> int:
    job = await db.jobs.create(NewJob(member_id=1, request=decode_request(REQUEST)), now=1.0)
    current = JobState.PENDING
    for target in PATHS[state]:
        moved = await db.jobs.transition(job.id, current, target, now=2.0)
        assert moved is not None
        current = target
    return job.id


async def test_create_records_who_and_what(db: Database) -> None:
    ref = ReferenceImage(filename="a.png", content_type="image/png", path="/tmp/a.png")
    job = await db.jobs.create(
        NewJob(
            member_id=7,
            guild_id=8,
            channel_id=9,
            interaction_token="tok",
            interaction_expires_at=99.5,
            request=decode_request(REQUEST),
            references=(ref,),
        ),
        now=5.0,
    )
    again = await db.jobs.get(job.id)
    assert again == job
    assert job.state == JobState.PENDING and job.charge_state == ChargeState.NONE
    assert (job.model, job.resolution, job.quality) == ("gpt-image-1.5-official", "2k", None)
    assert job.references == (ref,)
    assert job.interaction_token == "tok"
    assert "tok" not in repr(job)
    assert job.profile == "gpt-image-1.5-official/2k/-"


@pytest.mark.parametrize(
    ("source", "target"), list(itertools.product(list(JobState), list(JobState)))
)
async def test_every_transition(db: Database, source: JobState, target: JobState) -> None:
    job_id = await _job_in(db, source)
    if can_transition(source, target):
        moved = await db.jobs.transition(job_id, source, target, now=3.0)
        assert moved is not None and moved.state == target
        # Idempotent: the same CAS again finds the job no longer in ``source``.
        if source != target:
            assert await db.jobs.transition(job_id, source, target, now=4.0) is None
    else:
        with pytest.raises(IllegalTransition):
            await db.jobs.transition(job_id, source, target, now=3.0)
        stored = await db.jobs.get(job_id)
        assert stored is not None and stored.state == source


def test_state_machine_shape() -> None:
    assert all(not TRANSITIONS[s] for s in FINAL_STATES)
    assert all(JobState.FAILED in TRANSITIONS[s] for s in ACTIVE_STATES)
    assert JobState.CANCELLED not in TRANSITIONS[JobState.DELIVERING]


async def test_cas_with_wrong_expected_state_changes_nothing(db: Database) -> None:
    job_id = await _job_in(db, JobState.RUNNING)
    assert await db.jobs.transition(job_id, JobState.SUBMITTED, JobState.COMPLETED, now=3.0) is None
    stored = await db.jobs.get(job_id)
    assert stored is not None and stored.state == JobState.RUNNING


async def test_cas_from_several_states_only_uses_legal_ones(db: Database) -> None:
    job_id = await _job_in(db, JobState.RUNNING)
    moved = await db.jobs.transition(
        job_id, (JobState.SUBMITTED, JobState.RUNNING), JobState.COMPLETED, now=3.0
    )
    assert moved is not None and moved.state == JobState.COMPLETED


async def test_final_transition_records_charge_decision_atomically(db: Database) -> None:
    job_id = await _job_in(db, JobState.RUNNING)
    assert await db.jobs.set_charge(
        job_id, ChargeState.NONE, ChargeState.RESERVED, now=3.0, cost=2.5
    )
    failed = await db.jobs.transition(
        job_id, JobState.RUNNING, JobState.FAILED, now=4.0, charge="release", error_code="x"
    )
    assert failed is not None
    assert failed.charge_state == ChargeState.RELEASE_PENDING
    assert failed.cost == 2.5
    assert [j.id for j in await db.jobs.list_unsettled()] == [job_id]
    assert await db.jobs.set_charge(
        job_id, ChargeState.RELEASE_PENDING, ChargeState.RELEASED, now=5.0
    )
    # Settling twice is a no-op.
    assert (
        await db.jobs.set_charge(job_id, ChargeState.RELEASE_PENDING, ChargeState.RELEASED, now=6.0)
        is None
    )
    await db.jobs.update(job_id, JobState.FAILED, now=6.0, notified=True)
    assert await db.jobs.list_unsettled() == []


async def test_charge_decision_without_reservation_stays_none(db: Database) -> None:
    job_id = await _job_in(db, JobState.PENDING)
    failed = await db.jobs.transition(
        job_id, JobState.PENDING, JobState.FAILED, now=2.0, charge="release"
    )
    assert failed is not None and failed.charge_state == ChargeState.NONE


async def test_update_fields_and_refuse_unknown_ones(db: Database) -> None:
    job_id = await _job_in(db, JobState.COMPLETED)
    job = await db.jobs.update(
        job_id, JobState.COMPLETED, now=3.0, files=("a.png", "b.png"), result_urls=("u",)
    )
    assert job is not None and job.files == ("a.png", "b.png") and job.result_urls == ("u",)
    assert await db.jobs.update(job_id, JobState.RUNNING, now=3.0, progress=5) is None
    with pytest.raises(ValueError):
        await db.jobs.update(job_id, JobState.COMPLETED, now=3.0, state="delivered")


async def test_list_active_and_counts(db: Database) -> None:
    ids = {state: await _job_in(db, state) for state in JobState}
    active = await db.jobs.list_active()
    assert {j.id for j in active} == {ids[s] for s in ACTIVE_STATES}
    counts = await db.jobs.count_by_state()
    assert all(counts[s] == 1 for s in JobState)


async def test_duration_stats_round_trip(db: Database) -> None:
    assert await db.durations.load() == {}
    await db.durations.save({"m/1k/high": DurationStat(3.4, 0.09, 12)}, now=1.0)
    await db.durations.save({"m/1k/high": DurationStat(3.5, 0.08, 13)}, now=2.0)
    assert await db.durations.load() == {"m/1k/high": DurationStat(3.5, 0.08, 13)}


async def test_list_active_narrows_by_server_and_member_in_the_database(db: Database) -> None:
    def new(guild: int, member: int) -> NewJob:
        return NewJob(member_id=member, guild_id=guild, request=decode_request(REQUEST))

    a = await db.jobs.create(new(1, 10), now=1.0)
    await db.jobs.create(new(2, 10), now=1.0)  # another server
    c = await db.jobs.create(new(1, 11), now=1.0)  # another member
    d = await db.jobs.create(new(1, 10), now=1.0)
    done = await db.jobs.create(new(1, 10), now=1.0)
    await db.jobs.transition(done.id, JobState.PENDING, JobState.CANCELLED, now=2.0)
    assert [j.id for j in await db.jobs.list_active(guild_id=1, member_id=10)] == [a.id, d.id]
    assert [j.id for j in await db.jobs.list_active(guild_id=1)] == [a.id, c.id, d.id]
    assert [j.id for j in await db.jobs.list_active(guild_id=1, limit=2)] == [a.id, c.id]


async def test_queue_position_counts_only_the_given_states(db: Database) -> None:
    first = await _job_in(db, JobState.PENDING)
    await _job_in(db, JobState.RUNNING)
    third = await _job_in(db, JobState.SUBMITTED)
    waiting = (JobState.PENDING, JobState.SUBMITTED)
    assert await db.jobs.queue_position(first, waiting) == (1, 2)
    assert await db.jobs.queue_position(third, waiting) == (2, 2)
    running = await _job_in(db, JobState.RUNNING)
    assert await db.jobs.queue_position(running, waiting) is None


async def test_roles_and_moderator_flag_travel_with_the_job(db: Database) -> None:
    job = await db.jobs.create(
        NewJob(member_id=1, request=decode_request(REQUEST), role_ids=(5, 6), moderator=True),
        now=1.0,
    )
    again = await db.jobs.get(job.id)
    assert again is not None and again.role_ids == (5, 6) and again.moderator


async def test_followups_are_delivered_jobs_that_still_record_files(db: Database) -> None:
    delivered = await _job_in(db, JobState.DELIVERED)
    await _job_in(db, JobState.DELIVERED)
    await db.jobs.update(delivered, JobState.DELIVERED, now=3.0, files=("r.png",))
    assert [j.id for j in await db.jobs.list_followups()] == [delivered]
    await db.jobs.update(delivered, JobState.DELIVERED, now=4.0, files=())
    assert await db.jobs.list_followups() == []


async def test_racing_transitions_of_one_job_let_exactly_one_win(db: Database) -> None:
    # On PostgreSQL the attempts run on several pooled connections at once.
    job_id = await _job_in(db, JobState.RUNNING)
    targets = [JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED] * 10
    results = await asyncio.gather(
        *(db.jobs.transition(job_id, JobState.RUNNING, t, now=3.0) for t in targets)
    )
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    stored = await db.jobs.get(job_id)
    assert stored is not None and stored.state == winners[0].state
