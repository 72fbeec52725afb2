"""The engine end to end against the fake ToAPIs: the happy path and plain failures."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from bot.clock import ManualClock
from bot.jobs.engine import CancelOutcome, EngineConfig
from bot.jobs.hooks import DeliveryFailed
from bot.jobs.records import Job
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
    assert not engine.result_files.job_dir(job.id).exists()


async def _started(make_engine: EngineFactory, **kw: object):  # type: ignore[no-untyped-def]
    engine = make_engine(**kw)
    await engine.start()
    return engine


async def test_generation_failure_fails_job_and_releases(
    make_engine: EngineFactory,
    fake_toapis: FakeToAPIs,
    clock: ManualClock,
    delivery: RecordingDelivery,
    charge: CountingCharge,
) -> None:
    fake_toapis.script(queue_s=1, run_s=5, outcome="failed")
    engine = await _started(make_engine)
    job = await engine.submit(new_job())
    await run_for(engine, clock, 40)
    stored = await engine.get(job.id)
    assert stored is not None and stored.state == JobState.FAILED
    assert stored.error_code == "content_policy_violation"
    assert "safety system" in (stored.error_message or "")
    assert charge.release_calls == [job.id] and charge.commit_calls == []
    assert [j.id for j in delivery.failures] == [job.id]


async def test_task_that_never_finishes_hits_time_limit(
    make_engine: EngineFactory,
    fake_toapis: FakeToAPIs,
    clock: ManualClock,
    delivery: RecordingDelivery,
    charge: CountingCharge,
    config: EngineConfig,
) -> None:
    fake_toapis.script(outcome="never")
    engine = await _started(make_engine, config=replace(config, time_limit=120))
    job = await engine.submit(new_job())
    await run_for(engine, clock, 119, step=1.0)
    assert (await engine.get(job.id)).state in (JobState.SUBMITTED, JobState.RUNNING)  # type: ignore[union-attr]
    await run_for(engine, clock, 3, step=0.5)
    stored = await engine.get(job.id)
    assert stored is not None and stored.state == JobState.FAILED
    assert stored.error_code == "time_limit"
    # The member's sentence names the limit from these two, not from the stored detail.
    assert stored.deadline_at is not None and stored.submitted_at is not None
    assert stored.deadline_at - stored.submitted_at == 120
    assert charge.released == {job.id}
    assert len(engine.poller) == 0


async def test_4k_jobs_get_the_longer_time_limit(
    make_engine: EngineFactory, fake_toapis: FakeToAPIs, clock: ManualClock
) -> None:
    fake_toapis.script(outcome="never")
    engine = await _started(make_engine)
    job = await engine.submit(new_job(resolution="4k"))
    await run_for(engine, clock, 1)
    stored = await engine.get(job.id)
    assert stored is not None and stored.deadline_at is not None and stored.submitted_at is not None
    assert stored.deadline_at - stored.submitted_at == 30 * 60


async def test_result_expired_before_download_fails_cleanly(
    make_engine: EngineFactory,
    fake_toapis: FakeToAPIs,
    clock: ManualClock,
    delivery: RecordingDelivery,
    charge: CountingCharge,
) -> None:
    fake_toapis.script(queue_s=1, run_s=5, expires_after_s=0.0)
    engine = await _started(make_engine)
    job = await engine.submit(new_job())
    await run_for(engine, clock, 60)
    stored = await engine.get(job.id)
    assert stored is not None and stored.state == JobState.FAILED
    assert stored.error_code == "result_expired"
    assert charge.released == {job.id}
    assert delivery.delivered == []


async def test_task_forgotten_by_service_fails(
    make_engine: EngineFactory, fake_toapis: FakeToAPIs, clock: ManualClock, charge: CountingCharge
) -> None:
    fake_toapis.script(queue_s=1, run_s=50)
    engine = await _started(make_engine)
    job = await engine.submit(new_job())
    await run_for(engine, clock, 1)
    stored = await engine.get(job.id)
    assert stored is not None and stored.task_id is not None
    fake_toapis.forget(stored.task_id)
    await run_for(engine, clock, 60)
    stored = await engine.get(job.id)
    assert stored is not None and stored.state == JobState.FAILED
    assert stored.error_code == "task_not_found"
    assert charge.released == {job.id}


async def test_invalid_request_fails_without_retry(
    make_engine: EngineFactory, fake_toapis: FakeToAPIs, clock: ManualClock, charge: CountingCharge
) -> None:
    engine = await _started(make_engine)
    job = await engine.submit(new_job(size="7:3"))
    await run_for(engine, clock, 5)
    stored = await engine.get(job.id)
    assert stored is not None and stored.state == JobState.FAILED
    assert stored.error_code == "invalid_request"
    assert len(fake_toapis.requests_to("submit")) == 1
    assert charge.released == {job.id}


async def test_submission_lost_after_send_is_not_resubmitted(
    make_engine: EngineFactory, fake_toapis: FakeToAPIs, clock: ManualClock, charge: CountingCharge
) -> None:
    fake_toapis.faults.add("drop", endpoint="submit")
    engine = await _started(make_engine)
    job = await engine.submit(new_job())
    await run_for(engine, clock, 30)
    stored = await engine.get(job.id)
    assert stored is not None and stored.state == JobState.FAILED
    assert stored.error_code == "submission_unconfirmed"
    assert len(fake_toapis.requests_to("submit")) == 1
    assert charge.released == {job.id}


async def test_rejected_submission_is_retried(
    make_engine: EngineFactory,
    fake_toapis: FakeToAPIs,
    clock: ManualClock,
    delivery: RecordingDelivery,
) -> None:
    fake_toapis.faults.add("rate_limit", endpoint="submit", retry_after=3)
    fake_toapis.faults.add("server_error", endpoint="submit", status=500)
    fake_toapis.script(queue_s=1, run_s=5)
    engine = await _started(make_engine)
    job = await engine.submit(new_job())
    await run_for(engine, clock, 80)
    stored = await engine.get(job.id)
    assert stored is not None and stored.state == JobState.DELIVERED
    assert stored.attempts == 3
    assert len(fake_toapis.requests_to("submit")) == 3
    assert fake_toapis.charged_tasks == 1
    assert delivery.delivered_ids() == [job.id]


async def test_refused_reservation_fails_job_and_raises(
    make_engine: EngineFactory, fake_toapis: FakeToAPIs, charge: CountingCharge
) -> None:
    charge.refuse = True
    engine = await _started(make_engine)
    with pytest.raises(RuntimeError, match="no generations left"):
        await engine.submit(new_job())
    assert fake_toapis.requests == []
    assert charge.release_calls == []


async def test_delivery_retried_then_permanent_failure(
    make_engine: EngineFactory,
    fake_toapis: FakeToAPIs,
    clock: ManualClock,
    delivery: RecordingDelivery,
    charge: CountingCharge,
) -> None:
    fake_toapis.script(times=2, queue_s=1, run_s=5)
    delivery.fail_next = [DeliveryFailed("discord 500", permanent=False)]
    engine = await _started(make_engine)
    first = await engine.submit(new_job())
    await run_for(engine, clock, 60)
    assert delivery.delivered_ids() == [first.id]
    assert (await engine.get(first.id)).delivery_attempts == 2  # type: ignore[union-attr]

    delivery.fail_next = [DeliveryFailed("channel deleted", permanent=True)]
    second = await engine.submit(new_job())
    await run_for(engine, clock, 60)
    stored = await engine.get(second.id)
    assert stored is not None and stored.state == JobState.FAILED
    assert stored.error_code == "undeliverable"
    assert charge.released == {second.id} and charge.committed == {first.id}


@pytest.mark.parametrize("when", [0.0, 1.5, 20.0, "completed"])
async def test_cancel_at_any_state_discards_result_and_releases(
    make_engine: EngineFactory,
    fake_toapis: FakeToAPIs,
    clock: ManualClock,
    delivery: RecordingDelivery,
    charge: CountingCharge,
    config: EngineConfig,
    when: float | str,
) -> None:
    fake_toapis.script(queue_s=1, run_s=40)
    # A failed delivery attempt with a far retry holds the job in completed.
    engine = await _started(make_engine, config=replace(config, retry_base=500, retry_cap=900))
    delivery.fail_next = [DeliveryFailed("retry", permanent=False)]
    job = await engine.submit(new_job())
    if when == "completed":
        await run_for(engine, clock, 60)
        assert (await engine.get(job.id)).state == JobState.COMPLETED  # type: ignore[union-attr]
    elif when:
        await run_for(engine, clock, float(when))
    result = await engine.cancel(job.id)
    assert result.outcome == CancelOutcome.CANCELLED
    await run_for(engine, clock, 120)
    stored = await engine.get(job.id)
    assert stored is not None and stored.state == JobState.CANCELLED
    assert delivery.delivered == []
    assert charge.released == {job.id} and charge.commit_calls == []
    assert (await engine.cancel(job.id)).outcome == CancelOutcome.ALREADY_FINAL
    assert (await engine.cancel(999)).outcome == CancelOutcome.NOT_FOUND
    assert not engine.result_files.job_dir(job.id).exists()


async def test_cancel_during_delivery_is_too_late(
    make_engine: EngineFactory,
    fake_toapis: FakeToAPIs,
    clock: ManualClock,
    delivery: RecordingDelivery,
) -> None:
    fake_toapis.script(queue_s=1, run_s=5)
    engine = await _started(make_engine)
    outcomes: list[CancelOutcome] = []

    async def cancel_while_delivering(job: Job) -> None:
        outcomes.append((await engine.cancel(job.id)).outcome)

    delivery.on_deliver = cancel_while_delivering
    job = await engine.submit(new_job())
    await run_for(engine, clock, 60)
    assert outcomes == [CancelOutcome.TOO_LATE]
    assert (await engine.get(job.id)).state == JobState.DELIVERED  # type: ignore[union-attr]


async def test_progress_is_reported_and_tokens_not_logged(
    make_engine: EngineFactory,
    fake_toapis: FakeToAPIs,
    clock: ManualClock,
    delivery: RecordingDelivery,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_toapis.script(queue_s=2, run_s=30)
    engine = await _started(make_engine)
    job = await engine.submit(new_job())
    await run_for(engine, clock, 60)
    states = [j.state for j in delivery.progress_calls]
    assert JobState.SUBMITTED in states and JobState.COMPLETED in states
    assert any(j.progress and 0 < j.progress < 100 for j in delivery.progress_calls)
    assert delivery.delivered_ids() == [job.id]
    assert "secret-token" not in caplog.text
    assert fake_toapis.api_key not in caplog.text
