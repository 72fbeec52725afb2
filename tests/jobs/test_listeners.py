"""Listeners (the gallery) run after the ``delivered`` write, outside the delivery slots, once."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from bot.clock import ManualClock
from bot.jobs.engine import Engine, EngineConfig
from bot.jobs.records import Job
from bot.jobs.states import ChargeState, JobState
from bot.jobs.toapis_service import ToAPIsService
from bot.storage import Database, open_database
from tests.fakes.toapis import FakeToAPIs
from tests.jobs.conftest import (
    CountingCharge,
    EngineFactory,
    RecordingDelivery,
    RecordingListener,
    new_job,
    run_for,
)
from tests.jobs.test_recovery import CrashingStore, CrashPoint


async def test_a_listener_sees_the_job_delivered_and_charged_with_its_files_on_disk(
    make_engine: EngineFactory,
    db: Database,
    fake_toapis: FakeToAPIs,
    clock: ManualClock,
    delivery: RecordingDelivery,
) -> None:
    fake_toapis.script(queue_s=1, run_s=5)
    listener = RecordingListener(jobs=db.jobs)
    engine = make_engine(listeners=[listener])
    await engine.start()
    job = await engine.submit(new_job())
    await run_for(engine, clock, 30)

    assert delivery.delivered_ids() == [job.id]
    assert listener.ids() == [job.id]
    seen = listener.stored[0]
    assert seen is not None and seen.state == JobState.DELIVERED
    assert seen.charge_state == ChargeState.COMMITTED
    assert listener.calls[0].charge_state == ChargeState.COMMITTED
    assert listener.files_present == [True]
    # Then the files are released: on disk and in the row.
    stored = await engine.get(job.id)
    assert stored is not None and stored.files == ()
    assert not engine.result_files.job_dir(job.id).exists()
    assert await db.jobs.list_followups() == []


async def test_a_slow_listener_does_not_hold_the_only_delivery_slot(
    make_engine: EngineFactory,
    fake_toapis: FakeToAPIs,
    clock: ManualClock,
    delivery: RecordingDelivery,
    config: EngineConfig,
) -> None:
    # Two jobs finish at the same poll; one delivery slot. Whichever is delivered first has a
    # listener that waits for the other's delivery: inside the slot, it would wait forever.
    fake_toapis.script(times=2, queue_s=1, run_s=5)
    saw_other: dict[int, bool] = {}
    ids: list[int] = []
    delivered: dict[int, asyncio.Event] = {}

    async def mark_delivered(job: Job) -> None:
        delivered.setdefault(job.id, asyncio.Event()).set()

    async def wait_for_the_other(job: Job) -> None:
        other = next(i for i in ids if i != job.id)
        try:
            async with asyncio.timeout(5):
                await delivered.setdefault(other, asyncio.Event()).wait()
            saw_other[job.id] = True
        except TimeoutError:
            saw_other[job.id] = False

    delivery.on_deliver = mark_delivered

    listener = RecordingListener()
    listener.before = wait_for_the_other
    engine = make_engine(
        listeners=[listener],
        config=replace(config, delivery_concurrency=1, listener_timeout=10),
    )
    await engine.start()
    ids += [(await engine.submit(new_job())).id, (await engine.submit(new_job())).id]
    await run_for(engine, clock, 30)

    assert sorted(delivery.delivered_ids()) == sorted(ids)
    assert saw_other == {ids[0]: True, ids[1]: True}
    assert sorted(listener.ids()) == sorted(ids)


class Raising:
    async def job_delivered(self, job: Job, files: list[Path]) -> None:
        raise RuntimeError("gallery channel exploded")


class Hanging:
    def __init__(self) -> None:
        self.cancelled = 0

    async def job_delivered(self, job: Job, files: list[Path]) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


async def test_a_listener_that_raises_or_hangs_never_fails_the_delivery(
    make_engine: EngineFactory,
    fake_toapis: FakeToAPIs,
    clock: ManualClock,
    delivery: RecordingDelivery,
    charge: CountingCharge,
    config: EngineConfig,
) -> None:
    fake_toapis.script(times=2, queue_s=1, run_s=5)
    hanging, recording = Hanging(), RecordingListener()
    engine = make_engine(
        listeners=[Raising(), hanging, recording],
        config=replace(config, listener_timeout=0.2),
    )
    await engine.start()
    first = await engine.submit(new_job())
    await run_for(engine, clock, 30)
    second = await engine.submit(new_job())
    await run_for(engine, clock, 30)

    assert delivery.delivered_ids() == [first.id, second.id]
    for job_id in (first.id, second.id):
        stored = await engine.get(job_id)
        assert stored is not None and stored.state == JobState.DELIVERED
        assert stored.charge_state == ChargeState.COMMITTED
        assert stored.files == ()
    assert charge.committed == {first.id, second.id} and charge.released == set()
    assert recording.ids() == [first.id, second.id]  # the others did not stop it
    assert hanging.cancelled == 2  # abandoned at its time limit, each time


async def test_a_crash_between_the_delivered_write_and_the_listeners_runs_them_once_on_restart(
    tmp_path: Path,
    fake_toapis: FakeToAPIs,
    clock: ManualClock,
    service: ToAPIsService,
    config: EngineConfig,
) -> None:
    fake_toapis.script(queue_s=1, run_s=5)
    url = f"sqlite:///{tmp_path / 'listeners.db'}"
    delivery, listener = RecordingDelivery(), RecordingListener()

    def engine(jobs: object, db: Database) -> Engine:
        return Engine(
            jobs,  # type: ignore[arg-type]
            db.durations,
            service,
            delivery,
            listeners=[listener],
            config=config,
            clock=clock,
        )

    db = await open_database(url)
    crashing = CrashingStore(db.jobs, CrashPoint("transition", "after", JobState.DELIVERED))
    first = engine(crashing, db)
    await first.start()
    job = await first.submit(new_job())
    await run_for(first, clock, 30)
    assert crashing.crashed and listener.calls == []
    await first.stop()
    await db.close()

    for _ in range(2):  # the second restart finds nothing left to do
        db = await open_database(url)
        try:
            again = engine(db.jobs, db)
            report = await again.start()
            await run_for(again, clock, 5)
            await again.stop()
            stored = await db.jobs.get(job.id)
        finally:
            await db.close()
        assert listener.ids() == [job.id]
        assert listener.files_present == [True]
        assert stored is not None and stored.files == ()
    assert report.followups == 0
    assert delivery.delivered_ids() == [job.id]
    assert not (config.data_dir / "results" / str(job.id)).exists()


async def test_delivered_rows_whose_files_are_long_gone_get_no_listener_call_on_start(
    make_engine: EngineFactory,
    db: Database,
    fake_toapis: FakeToAPIs,
    clock: ManualClock,
    tmp_path: Path,
) -> None:
    # Rows delivered before listeners existed still name their (deleted) result files.
    fake_toapis.script(queue_s=1, run_s=5)
    engine = make_engine()
    await engine.start()
    job = await engine.submit(new_job())
    await run_for(engine, clock, 30)
    await engine.stop()
    gone = str(tmp_path / "data" / "results" / str(job.id) / "1.png")
    await db.jobs.update(job.id, JobState.DELIVERED, now=clock.now(), files=(gone,))

    listener = RecordingListener()
    again = make_engine(listeners=[listener])
    report = await again.start()
    await run_for(again, clock, 1)
    assert report.followups == 1
    assert listener.calls == []  # nothing to show: never a post without its images
    stored = await again.get(job.id)
    assert stored is not None and stored.files == ()
    assert await db.jobs.list_followups() == []
