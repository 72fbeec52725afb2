"""How jobs end without images: one write with a FailureCode and a neutral detail, one release,
one notice, and the interaction token gone once the member was told."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.jobs.engine import CancelOutcome, EngineConfig
from bot.jobs.hooks import DeliveryFailed
from bot.jobs.records import Job, NewJob, ReferenceImage, decode_request
from bot.jobs.states import ChargeState, FailureCode, JobState
from bot.refusal import Refusal
from tests.fakes.toapis import FakeToAPIs
from tests.jobs.conftest import (
    CountingCharge,
    EngineFactory,
    RecordingDelivery,
    new_job,
    request_json,
    run_for,
)

# Words of a sentence for a member: the stored detail must not carry any.
MEMBER_WORDING = ("please", "nothing was charged", "try again", "we could not")

SAFETY = "Image generation failed: the request was rejected by the safety system"


def _assert_neutral(detail: str | None) -> None:
    assert detail is not None
    assert not any(words in detail.lower() for words in MEMBER_WORDING), detail


@pytest.mark.parametrize(
    ("script", "code", "detail"),
    [
        (
            {"error_code": "content_policy_violation", "error_message": SAFETY},
            "content_policy_violation",
            SAFETY,
        ),
        (
            {"error_code": "moderation_blocked", "error_message": "blocked"},
            "generation_failed",
            "blocked",
        ),
        ({"error_code": "cancelled", "error_message": "x"}, "generation_failed", "x"),
        ({"error_code": None, "error_message": ""}, "generation_failed", ""),
    ],
    ids=["content-policy", "unknown-vendor-code", "vendor-code-clash", "no-reason"],
)
async def test_a_task_failure_keeps_the_service_words_as_detail_and_a_known_code(
    make_engine: EngineFactory,
    fake_toapis: FakeToAPIs,
    clock: ManualClock,
    delivery: RecordingDelivery,
    charge: CountingCharge,
    script: dict[str, Any],
    code: str,
    detail: str,
) -> None:
    fake_toapis.script(queue_s=1, run_s=5, outcome="failed", **script)
    engine = make_engine()
    await engine.start()
    job = await engine.submit(new_job())
    await run_for(engine, clock, 40)
    stored = await engine.get(job.id)
    assert stored is not None and stored.state == JobState.FAILED
    assert stored.error_code == code and FailureCode.parse(stored.error_code).value == code
    assert stored.error_message == detail
    assert charge.release_calls == [job.id] and charge.commit_calls == []
    assert [j.id for j in delivery.failures] == [job.id]
    assert delivery.failures[0].error_code == code  # the notice gets the code to word it


async def test_every_engine_failure_stores_a_neutral_detail(
    make_engine: EngineFactory,
    fake_toapis: FakeToAPIs,
    clock: ManualClock,
    delivery: RecordingDelivery,
    charge: CountingCharge,
    config: EngineConfig,
    tmp_path: Path,
) -> None:
    engine = make_engine(config=replace(config, time_limit=60))
    await engine.start()
    fake_toapis.script(queue_s=1, run_s=5)
    fake_toapis.script(outcome="never")
    undeliverable = await engine.submit(new_job())
    delivery.fail_next = [DeliveryFailed("the channel is gone (10003)", permanent=True)]
    await run_for(engine, clock, 30)
    timed_out = await engine.submit(new_job())
    await run_for(engine, clock, 70)
    invalid = await engine.submit(new_job(size="7:3"))
    missing = await engine.submit(
        NewJob(
            member_id=42,
            request=decode_request(request_json()),
            references=(ReferenceImage("cat.png", "image/png", path=str(tmp_path / "gone.png")),),
        )
    )
    await run_for(engine, clock, 10)

    expected = {
        undeliverable.id: (FailureCode.UNDELIVERABLE, "the channel is gone (10003)"),
        timed_out.id: (FailureCode.TIME_LIMIT, None),
        invalid.id: (FailureCode.INVALID_REQUEST, None),
        missing.id: (FailureCode.REFERENCE_MISSING, "cat.png"),
    }
    for job_id, (code, detail) in expected.items():
        stored = await engine.get(job_id)
        assert stored is not None and stored.state == JobState.FAILED
        assert stored.error_code == code.value
        _assert_neutral(stored.error_message)
        if detail is not None:
            assert stored.error_message == detail
        assert stored.charge_state == ChargeState.RELEASED
    timed = await engine.get(timed_out.id)
    assert timed is not None and timed.deadline_at is not None and timed.submitted_at is not None
    assert timed.deadline_at - timed.submitted_at == 60  # what the member's sentence says
    invalid_job = await engine.get(invalid.id)
    assert invalid_job is not None and invalid_job.error_message  # the service's own words
    assert sorted(charge.release_calls) == sorted(expected)
    assert sorted(j.id for j in delivery.failures) == sorted(expected)


async def test_cancel_is_one_end_that_tells_who_cancelled_and_releases_once(
    make_engine: EngineFactory,
    fake_toapis: FakeToAPIs,
    clock: ManualClock,
    delivery: RecordingDelivery,
    charge: CountingCharge,
) -> None:
    fake_toapis.script(queue_s=1, run_s=40)
    engine = make_engine()
    await engine.start()
    job = await engine.submit(new_job())
    await run_for(engine, clock, 20)
    result = await engine.cancel(job.id, by="Moderator Mo")
    assert result.outcome == CancelOutcome.CANCELLED

    # The member is told by the engine, with the token still there to edit the response...
    assert [(j.id, by) for j, by in delivery.cancellations] == [(job.id, "Moderator Mo")]
    told = delivery.cancellations[0][0]
    assert told.state == JobState.CANCELLED and told.interaction_token == "secret-token"
    # ...which is gone once that ran.
    assert result.job is not None and result.job.interaction_token is None
    stored = await engine.get(job.id)
    assert stored is not None and stored.interaction_token is None
    assert stored.error_code == FailureCode.CANCELLED.value
    _assert_neutral(stored.error_message)
    assert stored.finished_at is not None and stored.notified

    await run_for(engine, clock, 60)
    again = await engine.cancel(job.id, by="Someone Else")
    assert again.outcome == CancelOutcome.ALREADY_FINAL
    assert len(delivery.cancellations) == 1 and delivery.failures == []
    assert charge.release_calls == [job.id] and charge.commit_calls == []
    assert delivery.delivered == []


async def test_a_failure_and_a_cancel_at_once_end_the_job_once(
    make_engine: EngineFactory,
    fake_toapis: FakeToAPIs,
    clock: ManualClock,
    delivery: RecordingDelivery,
    charge: CountingCharge,
) -> None:
    fake_toapis.script(times=3, queue_s=1, run_s=40)
    engine = make_engine()
    await engine.start()
    jobs = [await engine.submit(new_job()) for _ in range(3)]
    await run_for(engine, clock, 20)
    for job in jobs:
        task = engine.poller.get(job.id)
        assert task is not None
        await asyncio.gather(
            engine.cancel(job.id, by="Mo"),
            engine.task_lost(task, FailureCode.TIME_LIMIT, "deadline"),
        )
    await run_for(engine, clock, 60)
    for job in jobs:
        stored = await engine.get(job.id)
        assert stored is not None and stored.state in (JobState.CANCELLED, JobState.FAILED)
        told = [j.id for j, _ in delivery.cancellations] + [j.id for j in delivery.failures]
        assert told.count(job.id) == 1
        assert charge.release_calls.count(job.id) == 1
    assert charge.commit_calls == []


async def test_the_token_stays_until_the_failure_notice_got_through(
    make_engine: EngineFactory,
    fake_toapis: FakeToAPIs,
    clock: ManualClock,
    delivery: RecordingDelivery,
) -> None:
    class FlakyNotices(RecordingDelivery):
        def __init__(self) -> None:
            super().__init__()
            self.refuse = True

        async def failed(self, job: Job) -> None:
            if self.refuse:
                raise DeliveryFailed("Discord answered 503", permanent=False)
            await super().failed(job)

    flaky = FlakyNotices()
    fake_toapis.script(queue_s=1, run_s=5, outcome="failed")
    fake_toapis.script(queue_s=1, run_s=5)
    engine = make_engine(delivery=flaky)
    await engine.start()
    failed = await engine.submit(new_job())
    await run_for(engine, clock, 30)
    stored = await engine.get(failed.id)
    assert stored is not None and stored.state == JobState.FAILED
    assert not stored.notified and stored.interaction_token == "secret-token"
    await engine.stop()

    flaky.refuse = False
    again = make_engine(delivery=flaky)
    await again.start()  # the notice is retried on start-up
    delivered = await again.submit(new_job())
    await run_for(again, clock, 30)
    stored = await again.get(failed.id)
    assert stored is not None and stored.notified and stored.interaction_token is None
    assert [j.id for j in flaky.failures] == [failed.id]
    assert flaky.failures[0].interaction_token == "secret-token"  # it could still edit
    done = await again.get(delivered.id)
    assert done is not None and done.state == JobState.DELIVERED
    assert done.interaction_token is None


async def test_a_refused_reservation_ends_with_the_refusal_as_detail_and_no_notice(
    make_engine: EngineFactory,
    fake_toapis: FakeToAPIs,
    delivery: RecordingDelivery,
    charge: CountingCharge,
) -> None:
    class Refusing(CountingCharge):
        async def reserve(self, job: Job) -> float | None:
            raise Refusal("You have 2 credits left today; this needs 4.")

    engine = make_engine(charge=Refusing())
    await engine.start()
    with pytest.raises(Refusal):
        await engine.submit(new_job())
    stored = await engine.get(1)
    assert stored is not None and stored.state == JobState.FAILED
    assert stored.error_code == FailureCode.CHARGE_REFUSED.value
    assert stored.error_message == "You have 2 credits left today; this needs 4."
    assert stored.notified and stored.interaction_token is None
    assert stored.charge_state == ChargeState.NONE
    assert delivery.failures == [] and fake_toapis.requests == []
