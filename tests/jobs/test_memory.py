"""Memory follows the jobs in flight: nothing per job is kept once it has ended."""

from __future__ import annotations

from dataclasses import replace

from bot.clock import ManualClock
from bot.jobs.engine import CancelOutcome, EngineConfig
from bot.jobs.hooks import DeliveryFailed
from bot.jobs.states import JobState
from tests.fakes.toapis import FakeToAPIs
from tests.fakes.toapis_model import TaskScript
from tests.jobs.conftest import CountingCharge, EngineFactory, RecordingDelivery, new_job, run_for


async def test_per_job_memory_is_empty_after_many_jobs_end_every_way(
    make_engine: EngineFactory,
    fake_toapis: FakeToAPIs,
    clock: ManualClock,
    delivery: RecordingDelivery,
    charge: CountingCharge,
    config: EngineConfig,
) -> None:
    # A failed delivery waits a long retry, so some jobs are cancelled with a retry pending.
    engine = make_engine(config=replace(config, retry_base=500, retry_cap=900))
    await engine.start()
    ended: dict[int, JobState] = {}

    # Outcomes by prompt: concurrent POSTs may reach the fake in any order.
    scripts = {
        "deliver": TaskScript(queue_s=1, run_s=5),
        "fail": TaskScript(queue_s=1, run_s=5, outcome="failed"),
        "never": TaskScript(outcome="never"),
    }
    fake_toapis.duration_policy = lambda body: scripts[str(body["prompt"])]
    batch = [
        await engine.submit(new_job(prompt=prompt))
        for prompt in ["deliver"] * 20 + ["fail"] * 20 + ["never"] * 20
    ]
    invalid = [await engine.submit(new_job(size="7:3")) for _ in range(5)]
    await run_for(engine, clock, 40)
    assert engine.memory()["tracked_tasks"] == 20  # the never-ending ones, polled
    for job in batch[40:]:
        assert (await engine.cancel(job.id, by="Mo")).outcome == CancelOutcome.CANCELLED
    # At once, not when their next polls fall due.
    assert engine.memory()["tracked_tasks"] == engine.memory()["poll_schedule"] == 0
    ended |= {j.id: JobState.DELIVERED for j in batch[:20]}
    ended |= {j.id: JobState.FAILED for j in batch[20:40] + invalid}
    ended |= {j.id: JobState.CANCELLED for j in batch[40:]}

    delivery.fail_next = [DeliveryFailed("Discord answered 500", permanent=False)] * 5
    waiting = [await engine.submit(new_job(prompt="deliver")) for _ in range(5)]
    await run_for(engine, clock, 30)
    for job in waiting:
        stored = await engine.get(job.id)
        assert stored is not None and stored.state == JobState.COMPLETED  # retry far away
    assert engine.memory()["retries"] == 5
    for job in waiting:
        await engine.cancel(job.id)
        ended[job.id] = JobState.CANCELLED
    pending = [await engine.submit(new_job(prompt="never")) for _ in range(5)]
    for job in pending:  # cancelled before its first step ran
        await engine.cancel(job.id)
        ended[job.id] = JobState.CANCELLED
    await run_for(engine, clock, 5)

    for job_id, state in ended.items():
        stored = await engine.get(job_id)
        assert stored is not None and stored.state == state, (job_id, stored)
    unpaid = sorted(i for i, state in ended.items() if state != JobState.DELIVERED)
    assert sorted(charge.release_calls) == unpaid  # each exactly once
    memory = engine.memory()
    timers = memory.pop("timers")
    assert memory == dict.fromkeys(memory, 0)
    assert timers == 2  # only the periodic flush of learned durations and the lease heartbeat
    assert len(engine.poller) == 0 and engine.poller.heap_size == 0
