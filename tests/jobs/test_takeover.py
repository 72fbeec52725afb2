"""Two engine processes on one database: one dies at every write of a job's life.

The survivor takes the job over within the lease time (``JOB_LEASE_SECONDS``) and ends it
exactly once, by the same rules as a restart: one delivery (two only in the documented
window), one charge decision, no second generation request. Also: live processes share one
poll budget (that a stale owner's writes are refused is in tests/storage/test_leases.py).
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from bot.clock import ManualClock
from bot.jobs.engine import Engine, EngineConfig
from bot.jobs.records import Job, NewJob, ReferenceImage, decode_request
from bot.jobs.states import ChargeState, JobState
from bot.jobs.toapis_service import ToAPIsService
from bot.storage import Database
from tests.fakes.toapis import FakeToAPIs
from tests.jobs.conftest import (
    CountingCharge,
    RecordingDelivery,
    RecordingListener,
    request_json,
    run_for,
)
from tests.jobs.test_recovery import CASES, CrashingStore, CrashPoint, SimulatedCrash
from tests.storage.backends import open_test_database

S = JobState
C = ChargeState
LEASE = 60.0
STEP = 1.0


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 30)).save(buf, "PNG")
    return buf.getvalue()


def _done(job: Job) -> bool:
    """No work left: final, charge settled, listeners done, member told."""
    return (
        job.is_final
        and job.charge_state in (C.COMMITTED, C.RELEASED, C.NONE)
        and not job.files
        and (job.state != S.FAILED or job.notified)
    )


def _engine(
    db: Database,
    jobs: object,
    service: ToAPIsService,
    delivery: RecordingDelivery,
    listener: RecordingListener,
    charge: CountingCharge,
    clock: ManualClock,
    config: EngineConfig,
) -> Engine:
    return Engine(
        jobs,  # type: ignore[arg-type]
        db.durations,
        service,
        delivery,
        listeners=[listener],
        config=config,
        clock=clock,
        charge=charge,
    )


@pytest.mark.parametrize(
    ("point", "outcome", "final", "window"),
    CASES,
    ids=[c[0].id for c in CASES],
)
async def test_a_killed_process_s_job_is_taken_over_and_ends_exactly_once(
    backend: str,
    tmp_path: Path,
    fake_toapis: FakeToAPIs,
    clock: ManualClock,
    service: ToAPIsService,
    point: CrashPoint,
    outcome: str,
    final: JobState,
    window: str | None,
) -> None:
    fake_toapis.script(queue_s=2, run_s=30, outcome=outcome)
    ref_path = tmp_path / "ref.png"
    ref_path.write_bytes(_png())
    config = EngineConfig(
        data_dir=tmp_path / "data-a", poll_rate=50.0, exclusive=False, lease_seconds=LEASE
    )
    delivery = RecordingDelivery()
    charge = CountingCharge()
    listener = RecordingListener()
    new = NewJob(
        member_id=5,
        request=decode_request(request_json()),
        interaction_token="secret-token",
        references=(ReferenceImage("ref.png", "image/png", path=str(ref_path)),),
    )
    async with open_test_database(backend, tmp_path) as db:
        crashing = CrashingStore(db.jobs, point)
        first = _engine(db, crashing, service, delivery, listener, charge, clock, config)
        # Another machine: its own disk.
        second = _engine(
            db,
            db.jobs,
            service,
            delivery,
            listener,
            charge,
            clock,
            replace(config, data_dir=tmp_path / "data-b"),
        )
        await first.start()
        await second.start()
        try:
            try:
                job_id = (await first.submit(new)).id
            except SimulatedCrash:
                job_id = 1  # the crash hit right after the row was written
            for _ in range(200):
                if crashing.crashed:
                    break
                await run_for(first, clock, 0.5)
            assert crashing.crashed, "the crash point was never reached"
            await first.stop(release=False)  # like kill -9: its leases stay until they expire
            died_at = clock.now()
            at_death = await db.jobs.get(job_id)
            assert at_death is not None
            posts_before = len(fake_toapis.tasks)

            taken_at: float | None = None
            stored = at_death
            for _ in range(int((LEASE + 120) / STEP)):
                clock.advance(STEP)
                second.wake()
                await second.wait_idle()
                current = await db.jobs.get(job_id)
                assert current is not None
                stored = current
                if taken_at is None and stored.lease_owner == second.owner:
                    taken_at = clock.now()
                if _done(stored) and taken_at is not None:
                    break
        finally:
            await second.stop()

    if not _done(at_death):
        assert taken_at is not None, "the survivor never took the job over"
        assert taken_at - died_at <= LEASE + STEP
    assert stored.state == final, stored.error_message
    assert stored.charge_state in (C.COMMITTED, C.RELEASED)
    # Never a second generation request for one job: a stored task id is polled, not resent.
    assert len(fake_toapis.tasks) <= 1
    if at_death.task_id is not None or at_death.state == S.SUBMITTING:
        assert len(fake_toapis.tasks) == posts_before
    delivered = delivery.delivered_ids().count(job_id)
    if final == S.DELIVERED:
        assert delivered == (2 if window == "delivery" else 1)
        assert charge.committed == {job_id} and charge.released == set()
        assert listener.ids() == [job_id] * (2 if window == "listeners" else 1)
        assert stored.files == ()
    else:
        assert delivered == 0
        assert charge.released == {job_id} and charge.committed == set()
        assert stored.notified
        notices = [j.id for j in delivery.failures].count(job_id)
        assert notices == (2 if window == "notice" else 1)
    calls = charge.commit_calls + charge.release_calls
    assert calls.count(job_id) == (2 if window == "charge" else 1)
    assert stored.interaction_token is None


async def test_live_processes_share_one_poll_budget(
    backend: str,
    tmp_path: Path,
    fake_toapis: FakeToAPIs,
    clock: ManualClock,
    service: ToAPIsService,
) -> None:
    config = EngineConfig(
        data_dir=tmp_path / "data", poll_rate=12.0, exclusive=False, lease_seconds=LEASE
    )
    parts = (RecordingDelivery(), RecordingListener(), CountingCharge())
    async with open_test_database(backend, tmp_path) as db:
        engines = [_engine(db, db.jobs, service, *parts, clock, config) for _ in range(3)]
        for engine in engines:
            await engine.start()
        try:
            for engine in engines:  # a heartbeat each: every one has seen the other two
                await run_for(engine, clock, engine.heartbeat_interval)
            assert [e.live_processes for e in engines] == [3, 3, 3]
            assert sum(e.poller.budget.rate for e in engines) == pytest.approx(12.0)
            await engines[2].stop()  # a clean stop leaves at once
            for engine in engines[:2]:
                await run_for(engine, clock, engine.heartbeat_interval)
            assert [e.live_processes for e in engines[:2]] == [2, 2]
            assert engines[0].poller.budget.rate == pytest.approx(6.0)
        finally:
            for engine in engines:
                await engine.stop()
