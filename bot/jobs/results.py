"""A finished task's way to the member: download its files, deliver them, then the listeners.

The ``delivering -> delivered`` write follows ``Delivery.deliver`` immediately: that gap is the
one at-least-once window of delivery. Nothing else runs inside it. The listeners (the gallery)
run after that write and after the charge settled, outside the delivery slots, each with a
time limit; then the files are released (``files=()`` written, the directory removed). A crash
before that write makes the next start call the listeners again (``Followups.resume``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.clock import Clock
from bot.jobs.downloads import ResultFiles
from bot.jobs.hooks import Delivery, DeliveryFailed, JobListener
from bot.jobs.records import Job
from bot.jobs.service import ImageService, ServiceError, ServiceErrorKind
from bot.jobs.settlement import Settlement
from bot.jobs.states import FailureCode, JobState
from bot.jobs.store import JobStore
from bot.jobs.work import JobWork

log = logging.getLogger(__name__)


class Followups:
    """Call the listeners of delivered jobs, then release the jobs' result files."""

    def __init__(
        self,
        jobs: JobStore,
        files: ResultFiles,
        listeners: Sequence[JobListener],
        *,
        clock: Clock,
        timeout: float,
    ) -> None:
        self._jobs = jobs
        self._files = files
        self._listeners = tuple(listeners)
        self._clock = clock
        self._timeout = timeout

    async def run(self, job: Job) -> None:
        """Call every listener (concurrently, each time-limited), then release the files."""
        paths = [Path(f) for f in job.files]
        present = [p for p in paths if p.is_file()]
        if self._listeners and present:
            await asyncio.gather(
                *(self._call(listener, job, present) for listener in self._listeners)
            )
        elif self._listeners and paths:
            # Rows written before listeners existed keep file names whose files are long gone.
            log.info("job %d: result files are gone; its listeners are skipped", job.id)
        # Written before the files go: a crash in between leaves an orphan directory (removed
        # on start), never a second round of listeners.
        await self._jobs.update(job.id, JobState.DELIVERED, now=self._clock.now(), files=())
        self._files.remove(job.id)

    async def resume(self, jobs: Sequence[Job]) -> None:
        """Finish the listeners a restart interrupted, one job after another."""
        for job in jobs:
            try:
                await self.run(job)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job %d: could not finish its listeners", job.id)

    async def _call(self, listener: JobListener, job: Job, files: list[Path]) -> None:
        try:
            await asyncio.wait_for(listener.job_delivered(job, list(files)), self._timeout)
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            log.warning(
                "job %d: listener %s took longer than %.0f s; abandoned",
                job.id,
                type(listener).__name__,
                self._timeout,
            )
        except Exception:
            log.exception("job %d: listener %s failed", job.id, type(listener).__name__)


class Results:
    """Download a completed job's files and deliver them to the member."""

    def __init__(
        self,
        jobs: JobStore,
        service: ImageService,
        delivery: Delivery,
        files: ResultFiles,
        settlement: Settlement,
        followups: Followups,
        work: JobWork,
        *,
        clock: Clock,
        forget: Callable[[int], None],
        redrive: Callable[[int, float], None],
        download_concurrency: int,
        delivery_concurrency: int,
        max_download_attempts: int,
        max_delivery_attempts: int,
    ) -> None:
        self._jobs = jobs
        self._service = service
        self._delivery = delivery
        self._files = files
        self._settlement = settlement
        self._followups = followups
        self._work = work
        self._clock = clock
        self._forget = forget
        self._redrive = redrive
        self._download_slots = asyncio.Semaphore(download_concurrency)
        self._delivery_slots = asyncio.Semaphore(delivery_concurrency)
        self._max_download_attempts = max_download_attempts
        self._max_delivery_attempts = max_delivery_attempts

    async def finish(self, job: Job) -> None:
        """Fetch the files unless all are on disk, deliver them, then run the follow-ups."""
        if not self._files.all_present(job):
            fetched = await self._download(job)
            if fetched is None:
                return
            job = fetched
        delivered = await self._deliver(job)
        if delivered is not None:
            await self._followups.run(delivered)

    # -- download -----------------------------------------------------------------------------

    async def _download(self, job: Job) -> Job | None:
        try:
            async with self._download_slots:
                paths = await self._files.fetch(job, self._service)
        except ServiceError as exc:
            self._files.remove(job.id)
            await self._download_failed(job, exc)
            return None
        stored = await self._jobs.update(
            job.id, JobState.COMPLETED, now=self._clock.now(), files=tuple(str(p) for p in paths)
        )
        if stored is None:
            self._files.remove(job.id)  # cancelled while downloading
        return stored

    async def _download_failed(self, job: Job, exc: ServiceError) -> None:
        code = {
            ServiceErrorKind.NOT_FOUND: FailureCode.RESULT_EXPIRED,
            ServiceErrorKind.TOO_LARGE: FailureCode.RESULT_TOO_LARGE,
        }.get(exc.kind)
        if code is not None:
            await self._settlement.fail(job.id, JobState.COMPLETED, code, exc.message)
            return
        failures = self._work.count_failure(job.id, "download")
        if failures >= self._max_download_attempts:
            await self._settlement.fail(
                job.id,
                JobState.COMPLETED,
                FailureCode.DOWNLOAD_FAILED,
                f"{failures} attempts, last ({exc.kind.value}): {exc.message}",
            )
            return
        delay = exc.retry_after if exc.retry_after is not None else self._work.backoff(failures)
        self._redrive(job.id, delay)

    # -- delivery -----------------------------------------------------------------------------

    async def _deliver(self, job: Job) -> Job | None:
        async with self._delivery_slots:
            delivering = await self._jobs.transition(
                job.id,
                JobState.COMPLETED,
                JobState.DELIVERING,
                now=self._clock.now(),
                delivery_attempts=job.delivery_attempts + 1,
            )
            if delivering is None:
                return None
            try:
                await self._delivery.deliver(delivering, [Path(f) for f in delivering.files])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._delivery_failed(delivering, exc)
                return None
            # Keep this write right after deliver(): the gap is the at-least-once window.
            now = self._clock.now()
            delivered = await self._jobs.transition(
                job.id,
                JobState.DELIVERING,
                JobState.DELIVERED,
                now=now,
                charge="commit",
                finished_at=now,
                notified=True,
                interaction_token=None,
            )
        if delivered is None:
            return None
        log.info("job %d delivered", job.id)
        self._forget(job.id)
        return await self._settlement.settle_charge(delivered)

    async def _delivery_failed(self, job: Job, exc: Exception) -> None:
        permanent = isinstance(exc, DeliveryFailed) and exc.permanent
        if not isinstance(exc, DeliveryFailed):
            log.exception("delivery of job %d raised", job.id, exc_info=exc)
        if permanent or job.delivery_attempts >= self._max_delivery_attempts:
            await self._settlement.fail(
                job.id,
                JobState.DELIVERING,
                FailureCode.UNDELIVERABLE,
                str(exc) or type(exc).__name__,
            )
            return
        moved = await self._jobs.transition(
            job.id, JobState.DELIVERING, JobState.COMPLETED, now=self._clock.now()
        )
        if moved is not None:
            delay = self._work.backoff(job.delivery_attempts)
            log.info("delivery of job %d failed (%s); retry in %.1fs", job.id, exc, delay)
            self._redrive(job.id, delay)
