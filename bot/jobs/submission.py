"""Getting a job to the image service: upload its references, then send the one generation POST.

Uploads are harmless to repeat. The POST is not: once it may have reached the service, the job
is ``submitting`` and an answer that is lost fails it as ``submission_unconfirmed`` rather than
risk a second paid task. A POST that surely did not arrive goes back to ``pending`` for a retry.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from bot.clock import Clock
from bot.jobs.progress import ProgressNotices
from bot.jobs.records import Job, ReferenceImage
from bot.jobs.service import ImageService, ServiceError, ServiceErrorKind
from bot.jobs.settlement import Settlement
from bot.jobs.states import FailureCode, JobState
from bot.jobs.store import JobStore
from bot.jobs.work import JobWork

log = logging.getLogger(__name__)

# The operator must act (API key, balance): retrying cannot help, and members cannot fix it.
_OPERATOR_ERRORS = (ServiceErrorKind.AUTHENTICATION, ServiceErrorKind.INSUFFICIENT_BALANCE)


class Submission:
    """Upload a pending job's references and submit it."""

    def __init__(
        self,
        jobs: JobStore,
        service: ImageService,
        settlement: Settlement,
        work: JobWork,
        progress: ProgressNotices,
        *,
        clock: Clock,
        redrive: Callable[[int, float], None],
        max_upload_attempts: int,
        max_submit_attempts: int,
        time_limit: float,
        time_limit_4k: float,
    ) -> None:
        self._jobs = jobs
        self._service = service
        self._settlement = settlement
        self._work = work
        self._progress = progress
        self._clock = clock
        self._redrive = redrive
        self._max_upload_attempts = max_upload_attempts
        self._max_submit_attempts = max_submit_attempts
        self._time_limit = time_limit
        self._time_limit_4k = time_limit_4k
        self.posts_in_flight = 0
        self._posts_idle = asyncio.Event()
        self._posts_idle.set()

    async def wait_posts(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for generation POSTs in flight; False if some remain."""
        try:
            await asyncio.wait_for(self._posts_idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def run(self, job: Job) -> Job | None:
        """Upload what is missing and submit; return the submitted job, or None if it stopped."""
        uploaded = await self._upload(job)
        if uploaded is None:
            return None
        return await self._submit(uploaded)

    async def _back_to_pending(self, job_id: int, source: JobState, delay: float) -> bool:
        """Return the job to ``pending`` and drive it again after ``delay``; False if it moved on."""
        moved = await self._jobs.transition(
            job_id,
            source,
            JobState.PENDING,
            now=self._clock.now(),
            not_before=self._clock.now() + delay,
        )
        if moved is None:
            return False
        self._redrive(job_id, delay)
        return True

    # -- uploads ------------------------------------------------------------------------------

    async def _upload(self, job: Job) -> Job | None:
        if all(r.url is not None for r in job.references):
            return job
        if job.state == JobState.PENDING:
            moved = await self._jobs.transition(
                job.id, JobState.PENDING, JobState.UPLOADING, now=self._clock.now()
            )
            if moved is None:
                return None
            job = moved
        refs = list(job.references)
        for i, ref in enumerate(refs):
            if ref.url is not None:
                continue
            try:
                if ref.path is None:
                    raise FileNotFoundError("no local file")
                url = await self._service.upload(Path(ref.path), ref.filename, ref.content_type)
            except OSError:
                await self._settlement.fail(
                    job.id, JobState.UPLOADING, FailureCode.REFERENCE_MISSING, ref.filename
                )
                return None
            except ServiceError as exc:
                await self._upload_failed(job, ref, exc)
                return None
            refs[i] = ReferenceImage(
                filename=ref.filename,
                content_type=ref.content_type,
                path=ref.path,
                url=url,
                role=ref.role,
            )
            updated = await self._jobs.update(
                job.id, JobState.UPLOADING, now=self._clock.now(), references=tuple(refs)
            )
            if updated is None:
                return None
            job = updated
        return job

    async def _upload_failed(self, job: Job, ref: ReferenceImage, exc: ServiceError) -> None:
        if exc.kind in (ServiceErrorKind.INVALID_REQUEST, ServiceErrorKind.TOO_LARGE):
            await self._settlement.fail(
                job.id,
                JobState.UPLOADING,
                FailureCode.REFERENCE_REJECTED,
                f"{ref.filename}: {exc.message}",
            )
            return
        if exc.kind in _OPERATOR_ERRORS:
            log.error("the image service refused an upload: %s", exc.message)
            await self._settlement.fail(
                job.id,
                JobState.UPLOADING,
                FailureCode.SERVICE_UNAVAILABLE,
                f"upload refused ({exc.kind.value}): {exc.message}",
            )
            return
        failures = self._work.count_failure(job.id, "upload")
        if failures >= self._max_upload_attempts:
            await self._settlement.fail(
                job.id,
                JobState.UPLOADING,
                FailureCode.SERVICE_UNAVAILABLE,
                f"upload failed {failures} times, last ({exc.kind.value}): {exc.message}",
            )
            return
        delay = exc.retry_after if exc.retry_after is not None else self._work.backoff(failures)
        await self._back_to_pending(job.id, JobState.UPLOADING, delay)

    # -- the generation request ---------------------------------------------------------------

    async def _submit(self, job: Job) -> Job | None:
        # Counted from the write that makes the job "submitting" (it may land even if this task
        # is cancelled while waiting for it) through the POST to the write that records its
        # answer: a stop with grace waits for all of it, or the job would restart as
        # "submitting" and fail as unconfirmed.
        self.posts_in_flight += 1
        self._posts_idle.clear()
        try:
            submitting = await self._jobs.transition(
                job.id,
                (JobState.PENDING, JobState.UPLOADING),
                JobState.SUBMITTING,
                now=self._clock.now(),
                attempts=job.attempts + 1,
                not_before=None,
            )
            if submitting is None:
                return None
            return await self._send(submitting)
        finally:
            self.posts_in_flight -= 1
            if not self.posts_in_flight:
                self._posts_idle.set()

    async def _send(self, job: Job) -> Job | None:
        image_urls = [r.url for r in job.references if r.role == "image" and r.url]
        mask_url = next((r.url for r in job.references if r.role == "mask"), None)
        try:
            snapshot = await self._service.submit(job.request, image_urls, mask_url)
        except ServiceError as exc:
            await self._submit_failed(job, exc)
            return None
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # An unexpected error after the POST may have been sent: treat it as in doubt.
            log.exception("submitting job %d failed unexpectedly", job.id)
            await self._settlement.fail(
                job.id,
                JobState.SUBMITTING,
                FailureCode.SUBMISSION_UNCONFIRMED,
                f"unexpected error: {type(exc).__name__}",
            )
            return None
        now = self._clock.now()
        limit = self._time_limit_4k if job.resolution == "4k" else self._time_limit
        submitted = await self._jobs.transition(
            job.id,
            JobState.SUBMITTING,
            JobState.SUBMITTED,
            now=now,
            task_id=snapshot.id,
            raw_status=snapshot.raw_status or None,
            progress=snapshot.progress,
            submitted_at=now,
            deadline_at=now + limit,
        )
        if submitted is None:
            log.info(
                "job %d was cancelled while submitting; task %s is discarded", job.id, snapshot.id
            )
            return None
        log.info("job %d submitted as task %s", job.id, snapshot.id)
        self._progress.notify(submitted)
        return submitted

    async def _submit_failed(self, job: Job, exc: ServiceError) -> None:
        kind = exc.kind
        if kind == ServiceErrorKind.UNCERTAIN:
            log.warning("job %d: submission in doubt (%s); failing it", job.id, exc.message)
            await self._settlement.fail(
                job.id, JobState.SUBMITTING, FailureCode.SUBMISSION_UNCONFIRMED, exc.message
            )
            return
        if kind == ServiceErrorKind.INVALID_REQUEST:
            await self._settlement.fail(
                job.id, JobState.SUBMITTING, FailureCode.INVALID_REQUEST, exc.message
            )
            return
        if kind in _OPERATOR_ERRORS:
            log.error("the image service refused a submission (%s): %s", kind.value, exc.message)
            await self._settlement.fail(
                job.id,
                JobState.SUBMITTING,
                FailureCode.SERVICE_UNAVAILABLE,
                f"submission refused ({kind.value}): {exc.message}",
            )
            return
        # Rate limited or transient: the POST surely did not create a task, so it may be repeated.
        if job.attempts >= self._max_submit_attempts:
            await self._settlement.fail(
                job.id,
                JobState.SUBMITTING,
                FailureCode.SERVICE_UNAVAILABLE,
                f"submission not accepted after {job.attempts} attempts, last ({kind.value}): "
                f"{exc.message}",
            )
            return
        delay = exc.retry_after if exc.retry_after is not None else self._work.backoff(job.attempts)
        if await self._back_to_pending(job.id, JobState.SUBMITTING, delay):
            log.info(
                "job %d: submission not accepted (%s); retry in %.1fs", job.id, kind.value, delay
            )
