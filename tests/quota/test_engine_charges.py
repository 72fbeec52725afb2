"""The quota service as the real job engine's ChargeHook, against the fake ToAPIs.

Credits are committed once on delivery and released exactly once when the job fails, is
cancelled or cannot be delivered — also when the bot crashes at any write and restarts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from bot.clock import ManualClock
from bot.jobs.engine import Engine, EngineConfig
from bot.jobs.hooks import DeliveryFailed
from bot.jobs.records import NewJob, decode_request
from bot.jobs.states import ChargeState, JobState
from bot.jobs.toapis_service import ToAPIsService
from bot.quota.service import MemberRef, QuotaExceeded, QuotaService
from bot.storage import Database, open_database
from tests.fakes.toapis import FakeToAPIs
from tests.jobs.conftest import RecordingDelivery, request_json, run_for
from tests.jobs.test_recovery import CASES, CrashingStore, CrashPoint, SimulatedCrash

HIGH_1K = 4  # request_json() asks for one 1k high image

# The engine's crash matrix, less the upload steps (these jobs carry no reference images).
CRASHES = [c for c in CASES if c[0].target not in (JobState.UPLOADING, "references")]


def new_job(member_id: int = 42) -> NewJob:
    return NewJob(
        member_id=member_id, guild_id=1, channel_id=2, request=decode_request(request_json())
    )


@pytest.fixture
def quotas(db: Database, clock: ManualClock) -> QuotaService:
    return QuotaService(db.quotas, clock=clock)


@pytest_asyncio.fixture
async def engine_for(
    db: Database,
    service: ToAPIsService,
    delivery: RecordingDelivery,
    config: EngineConfig,
    clock: ManualClock,
    quotas: QuotaService,
) -> AsyncIterator[Callable[[], Awaitable[Engine]]]:
    engines: list[Engine] = []

    async def start() -> Engine:
        engine = Engine(
            db.jobs, db.durations, service, delivery, config=config, clock=clock, charge=quotas
        )
        engines.append(engine)
        await engine.start()
        return engine

    yield start
    for engine in engines:
        if engine._started:
            await engine.stop()


async def used(quotas: QuotaService, member_id: int = 42) -> tuple[int, int]:
    usage = (await quotas.status(MemberRef(1, member_id))).usage
    return usage.member_day, usage.pool_day


async def test_delivered_job_commits_its_credits(
    engine_for, quotas: QuotaService, db: Database, fake_toapis: FakeToAPIs, clock: ManualClock
) -> None:  # type: ignore[no-untyped-def]
    fake_toapis.script(queue_s=1, run_s=5)
    engine = await engine_for()
    job = await engine.submit(new_job())
    assert job.cost == HIGH_1K
    assert await used(quotas) == (HIGH_1K, HIGH_1K)
    await run_for(engine, clock, 20)
    await engine.stop()
    stored = await db.jobs.get(job.id)
    assert stored is not None and stored.state == JobState.DELIVERED
    assert stored.charge_state == ChargeState.COMMITTED
    assert (await db.quotas.get_charge(job.id)).state == "committed"  # type: ignore[union-attr]
    assert await used(quotas) == (HIGH_1K, HIGH_1K)


@pytest.mark.parametrize("how", ["failed", "cancelled", "undeliverable"])
async def test_failed_cancelled_or_undeliverable_job_releases_once(
    engine_for,
    quotas: QuotaService,
    db: Database,
    fake_toapis: FakeToAPIs,
    clock: ManualClock,
    delivery: RecordingDelivery,
    how: str,
) -> None:  # type: ignore[no-untyped-def]
    fake_toapis.script(queue_s=1, run_s=30, outcome="failed" if how == "failed" else "completed")
    if how == "undeliverable":
        delivery.fail_next.append(DeliveryFailed("channel gone", permanent=True))
    engine = await engine_for()
    job = await engine.submit(new_job())
    if how == "cancelled":
        await run_for(engine, clock, 3)
        await engine.cancel(job.id)
    await run_for(engine, clock, 60)
    await engine.stop()
    stored = await db.jobs.get(job.id)
    assert stored is not None
    assert stored.state == (JobState.CANCELLED if how == "cancelled" else JobState.FAILED)
    assert stored.charge_state == ChargeState.RELEASED
    assert (await db.quotas.get_charge(job.id)).state == "released"  # type: ignore[union-attr]
    assert await used(quotas) == (0, 0)


async def test_refused_job_makes_no_service_call_and_charges_nothing(
    engine_for, quotas: QuotaService, db: Database, fake_toapis: FakeToAPIs, clock: ManualClock
) -> None:  # type: ignore[no-untyped-def]
    await quotas.configure_server(1, 1, member_daily=3)
    engine = await engine_for()
    with pytest.raises(QuotaExceeded, match="3 credits left today"):
        await engine.submit(new_job())
    await run_for(engine, clock, 5)
    await engine.stop()
    assert fake_toapis.requests_to("submit") == []
    stored = await db.jobs.get(1)
    assert stored is not None and stored.state == JobState.FAILED
    assert stored.charge_state == ChargeState.NONE
    assert await db.quotas.get_charge(1) is None
    assert await used(quotas) == (0, 0)


async def test_a_repeated_release_after_a_crash_gives_back_once(
    quotas: QuotaService, db: Database, engine_for, clock: ManualClock
) -> None:  # type: ignore[no-untyped-def]
    # The hook released, then the bot died before recording it: the engine calls it again.
    other = await db.jobs.create(new_job(), now=clock.now())
    await quotas.reserve(other)
    await quotas.commit(other)  # (its row is left pending: recovery fails it, release is a no-op)
    job = await db.jobs.create(new_job(), now=clock.now())
    await quotas.reserve(job)
    await db.jobs.set_charge(job.id, ChargeState.NONE, ChargeState.RESERVED, now=clock.now())
    await quotas.release(job)
    await db.jobs.transition(
        job.id, JobState.PENDING, JobState.FAILED, now=clock.now(), charge="release", notified=True
    )
    assert await used(quotas) == (HIGH_1K, HIGH_1K)
    engine = await engine_for()  # recovery settles the unconfirmed release
    await engine.wait_idle()
    await engine.stop()
    assert (await db.jobs.get(job.id)).charge_state == ChargeState.RELEASED  # type: ignore[union-attr]
    assert await used(quotas) == (HIGH_1K, HIGH_1K)


@pytest.mark.parametrize(
    ("point", "outcome", "final", "window"),
    CRASHES,
    ids=[c[0].id for c in CRASHES],
)
async def test_crash_at_any_write_then_restart_settles_credits_once(
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
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    config = EngineConfig(data_dir=tmp_path / "data", poll_rate=50.0)
    delivery = RecordingDelivery()

    db = await open_database(url)
    quotas = QuotaService(db.quotas, clock=clock)
    crashing = CrashingStore(db.jobs, point)
    first = Engine(
        crashing,  # type: ignore[arg-type]
        db.durations,
        service,
        delivery,
        config=config,
        clock=clock,
        charge=quotas,
    )
    await first.start()
    try:
        job_id = (await first.submit(new_job())).id
    except SimulatedCrash:
        job_id = 1
    for _ in range(200):
        if crashing.crashed:
            break
        await run_for(first, clock, 0.5)
    assert crashing.crashed
    await first.stop()
    await db.close()

    db = await open_database(url)
    try:
        quotas = QuotaService(db.quotas, clock=clock)
        second = Engine(
            db.jobs, db.durations, service, delivery, config=config, clock=clock, charge=quotas
        )
        await second.start()
        await run_for(second, clock, 60)
        await second.stop()
        stored = await db.jobs.get(job_id)
        charge = await db.quotas.get_charge(job_id)
        member_day, pool_day = await used(quotas)
    finally:
        await db.close()

    assert stored is not None and stored.state == final
    if final == JobState.DELIVERED:
        assert charge is not None and charge.state == "committed"
        assert (member_day, pool_day) == (HIGH_1K, HIGH_1K)
    else:
        # Released exactly once, or never reserved (crash right after the row was written).
        assert charge is None or charge.state == "released"
        assert (member_day, pool_day) == (0, 0)
