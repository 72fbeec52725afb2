"""The engine end to end against the fake ToAPIs: the happy path and plain failures."""

from __future__ import annotations

from bot.clock import ManualClock
from bot.jobs.states import ChargeState, JobState
from tests.fakes.toapis import FakeToAPIs
from tests.jobs.conftest import CountingCharge, EngineFactory, RecordingDelivery, new_job, run_for


async def test_job_is_delivered_once_and_charge_committed(
    make_engine: EngineFactory,
    fake_toapis: FakeToAPIs,
    clock: ManualClock,
    delivery: RecordingDelivery,
    charge: CountingCharge,
) -> None:
    fake_toapis.script(queue_s=2, run_s=10)
    engine = make_engine()
    await engine.start()
    job = await engine.submit(new_job())
    await run_for(engine, clock, 20)
    stored = await engine.get(job.id)
    assert stored is not None
    assert stored.state == JobState.DELIVERED
    assert stored.charge_state == ChargeState.COMMITTED
    assert delivery.delivered_ids() == [job.id]
    assert delivery.delivered[0][1][0].startswith(b"\x89PNG")
    assert charge.commit_calls == [job.id]
    assert charge.release_calls == []
    assert not engine.results.job_dir(job.id).exists()
