"""How jobs end without images, and how every ended job's charge and notice are settled.

``Settlement.end`` is the one write that fails or cancels a job: the final state, the charge
decision (release), the ``FailureCode`` and its neutral detail, and ``finished_at`` go in the
same compare-and-set. Only after that write come the side effects: the job's memory and files
are dropped, the charge hook is called (and its confirmation recorded; retried until it
works), and the member is told. The interaction token is cleared once the member was told.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from typing import Any

from bot.clock import Clock
from bot.jobs.downloads import ResultFiles
from bot.jobs.hooks import ChargeHook, Delivery, DeliveryFailed
from bot.jobs.records import Job
from bot.jobs.states import ChargeState, FailureCode, JobState
from bot.jobs.store import JobStore
from bot.jobs.work import JobWork

log = logging.getLogger(__name__)


class Settlement:
    """End jobs (fail, cancel), settle charges and send failure notices."""

    def __init__(
        self,
        jobs: JobStore,
        charge: ChargeHook,
        delivery: Delivery,
        files: ResultFiles,
        work: JobWork,
        *,
        clock: Clock,
        forget: Callable[[int], None],
        charge_retry: float,
    ) -> None:
        self._jobs = jobs
        self._charge = charge
        self._delivery = delivery
        self._files = files
        self._work = work
        self._clock = clock
        self._forget = forget
        self._charge_retry = charge_retry

    async def fail(
        self,
        job_id: int,
        expected: JobState | Collection[JobState],
        code: FailureCode,
        detail: str,
        *,
        told: bool = False,
    ) -> Job | None:
        """Fail the job if it is in ``expected``; ``told``: the member already knows why."""
        return await self._end(job_id, expected, JobState.FAILED, code, detail, told=told)

    async def cancel(
        self, job_id: int, expected: JobState | Collection[JobState], *, by: str
    ) -> Job | None:
        """Cancel the job if it is in ``expected``, then show who cancelled it."""
        return await self._end(
            job_id, expected, JobState.CANCELLED, FailureCode.CANCELLED, "", by=by
        )

    async def _end(
        self,
        job_id: int,
        expected: JobState | Collection[JobState],
        state: JobState,
        code: FailureCode,
        detail: str,
        *,
        told: bool = False,
        by: str = "",
    ) -> Job | None:
        now = self._clock.now()
        changes: dict[str, Any] = {
            "error_code": code.value,
            "error_message": detail,
            "finished_at": now,
        }
        if told:
            changes["interaction_token"] = None
        if told or state == JobState.CANCELLED:
            # A cancellation's note is best effort: nothing would resend it after a crash.
            changes["notified"] = True
        job = await self._jobs.transition(
            job_id, expected, state, now=now, charge="release", **changes
        )
        if job is None:
            return None
        log.info(
            "job %d %s (%s)%s", job_id, state.value, code.value, f": {detail}" if detail else ""
        )
        self._forget(job_id)
        self._files.remove(job_id)
        job = await self.settle_charge(job)
        if state == JobState.CANCELLED:
            return await self._tell_cancelled(job, by)
        if not job.notified:
            return await self.notify_failed(job)
        return job

    # -- charges ------------------------------------------------------------------------------

    async def settle_charge(self, job: Job) -> Job:
        """Call the hook for the recorded charge decision and record that it confirmed."""
        if job.charge_state == ChargeState.COMMIT_PENDING:
            call, done = self._charge.commit, ChargeState.COMMITTED
        elif job.charge_state == ChargeState.RELEASE_PENDING:
            call, done = self._charge.release, ChargeState.RELEASED
        else:
            return job
        try:
            await call(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("charge hook failed for job %d; retrying later", job.id)
            job_id = job.id
            self._work.timers.call_later(
                self._charge_retry,
                lambda: self._work.spawn(self._resettle(job_id), f"job-{job_id}-charge"),
            )
            return job
        settled = await self._jobs.set_charge(job.id, job.charge_state, done, now=self._clock.now())
        return settled or job

    async def _resettle(self, job_id: int) -> None:
        job = await self._jobs.get(job_id)
        if job is not None:
            await self.settle_charge(job)

    async def settle(self, job: Job) -> None:
        """Finish what a restart interrupted: the charge decision, then the failure notice."""
        job = await self.settle_charge(job)
        if job.state == JobState.FAILED and not job.notified:
            await self.notify_failed(job)

    # -- telling the member -------------------------------------------------------------------

    async def notify_failed(self, job: Job) -> Job:
        """Tell the member the job failed; once told (or never reachable), clear the token."""
        try:
            await self._delivery.failed(job)
        except asyncio.CancelledError:
            raise
        except DeliveryFailed as exc:
            if not exc.permanent:
                log.warning("could not tell the member job %d failed: %s", job.id, exc)
                return job
            log.info("job %d: the member cannot be told it failed: %s", job.id, exc)
        except Exception:
            log.exception("could not tell the member job %d failed", job.id)
            return job
        told = await self._jobs.update(
            job.id, JobState.FAILED, now=self._clock.now(), notified=True, interaction_token=None
        )
        return told or job

    async def _tell_cancelled(self, job: Job, by: str) -> Job:
        try:
            await self._delivery.cancelled(job, by)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("could not show that job %d was cancelled", job.id, exc_info=True)
        cleared = await self._jobs.update(
            job.id, JobState.CANCELLED, now=self._clock.now(), interaction_token=None
        )
        return cleared or job
