"""The job engine: records each job first, then drives it to exactly one end.

Every step is a compare-and-set transition on the stored job (see ``bot.jobs.states``), so a
step that lost a race (a cancellation, a second driver) simply stops. Work per job runs in
short background tasks bounded by semaphores; polling is done for all jobs by one
``TaskPoller``. ``start()`` resumes unfinished jobs by the rules in ``bot.jobs.recovery``.

Charging: ``ChargeHook.reserve`` runs right after the job row is written; the decision to commit
(delivered) or release (failed, cancelled, undeliverable) is written in the same statement as
the final state, then the hook is called, then its confirmation is recorded. Unconfirmed
decisions are retried on start-up and every ``charge_retry`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Collection, Coroutine
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from bot.clock import Clock, SystemClock
from bot.jobs.downloads import ResultFiles
from bot.jobs.hooks import ChargeHook, Delivery, DeliveryFailed, NoCharge
from bot.jobs.poller import RateBudget, TaskPoller
from bot.jobs.records import Job, NewJob, ReferenceImage
from bot.jobs.recovery import (
    INTERRUPTED_MESSAGE,
    UNCONFIRMED_MESSAGE,
    RecoveryAction,
    recovery_action,
)
from bot.jobs.service import ImageService, ServiceError, ServiceErrorKind, TaskPhase, TaskSnapshot
from bot.jobs.states import CANCELLABLE_STATES, ChargeState, JobState
from bot.jobs.strategy import (
    AdaptiveStrategy,
    DurationModel,
    PollStrategy,
    TrackedTask,
    VendorRhythm,
)
from bot.jobs.timing import ClockScheduler
from bot.storage.base import Database

log = logging.getLogger(__name__)

POLLING_STATES = frozenset({JobState.SUBMITTED, JobState.RUNNING})

SERVICE_UNAVAILABLE = (
    "The image service is unavailable right now; nothing was charged, please try again later."
)


@dataclass(frozen=True)
class EngineConfig:
    """Knobs of the job engine (times in seconds)."""

    data_dir: Path = Path("data")
    poll_rate: float = 10.0  # status requests per second toward ToAPIs, for all jobs together
    poll_burst: float | None = None  # default: one second's worth
    max_polls_in_flight: int = 8
    strategy: Literal["adaptive", "vendor"] = "adaptive"
    time_limit: float = 15 * 60  # per task, from submission (1k and 2k)
    time_limit_4k: float = 30 * 60
    max_result_bytes: int = 50 * 1024 * 1024
    max_submit_attempts: int = 3  # POSTs that surely did not arrive
    max_upload_attempts: int = 3
    max_download_attempts: int = 3
    max_delivery_attempts: int = 5
    retry_base: float = 2.0
    retry_cap: float = 60.0
    charge_retry: float = 30.0
    submit_concurrency: int = 4
    download_concurrency: int = 4
    delivery_concurrency: int = 4
    stats_flush_interval: float = 60.0


class CancelOutcome(StrEnum):
    """What ``Engine.cancel`` did."""

    CANCELLED = "cancelled"
    ALREADY_FINAL = "already_final"  # delivered, failed or cancelled before
    TOO_LATE = "too_late"  # being delivered right now
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class CancelResult:
    """The outcome of a cancellation and the job as it is now."""

    outcome: CancelOutcome
    job: Job | None


@dataclass
class RecoveryReport:
    """What ``start()`` found and did."""

    resumed: int = 0
    failed_unconfirmed: int = 0
    failed_interrupted: int = 0
    redelivered: int = 0
    settled: int = 0
    orphans_removed: int = 0
    by_state: dict[str, int] = field(default_factory=dict)


class Engine:
    """Run image jobs from request to delivery, surviving restarts."""

    def __init__(
        self,
        db: Database,
        service: ImageService,
        delivery: Delivery,
        *,
        config: EngineConfig | None = None,
        clock: Clock | None = None,
        charge: ChargeHook | None = None,
        strategy: PollStrategy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config or EngineConfig()
        self.clock: Clock = clock or SystemClock()
        self.store = db.jobs
        self._durations_store = db.durations
        self.service = service
        self.delivery = delivery
        self.charge: ChargeHook = charge or NoCharge()
        self._rng = rng or random.Random()
        self.durations = DurationModel()
        if strategy is None:
            strategy = (
                VendorRhythm()
                if self.config.strategy == "vendor"
                else AdaptiveStrategy(self.durations)
            )
        elif isinstance(strategy, AdaptiveStrategy):
            self.durations = strategy.durations
        self.poller = TaskPoller(
            service.get_task,
            self,
            clock=self.clock,
            strategy=strategy,
            budget=RateBudget(self.config.poll_rate, self.config.poll_burst),
            max_in_flight=self.config.max_polls_in_flight,
            backoff_base=self.config.retry_base,
            backoff_cap=self.config.retry_cap,
            rng=self._rng,
        )
        self.results = ResultFiles(self.config.data_dir, max_bytes=self.config.max_result_bytes)
        self.timers = ClockScheduler(self.clock, name="job-timers")
        self._submit_slots = asyncio.Semaphore(self.config.submit_concurrency)
        self._download_slots = asyncio.Semaphore(self.config.download_concurrency)
        self._delivery_slots = asyncio.Semaphore(self.config.delivery_concurrency)
        self._background: set[asyncio.Task[Any]] = set()
        self._busy: set[int] = set()
        self._failures: dict[tuple[int, str], int] = {}
        self._progress_latest: dict[int, Job] = {}
        self._submits_in_flight = 0
        self._submits_idle = asyncio.Event()
        self._started = False

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> RecoveryReport:
        """Load learned durations, start the poller and resume every unfinished job."""
        if self._started:
            raise RuntimeError("the engine is already started")
        self._started = True
        try:
            for profile, stat in (await self._durations_store.load()).items():
                self.durations._stats.setdefault(profile, stat)
        except Exception:
            log.exception("could not load learned task durations; starting cold")
        self.timers.start()
        self.poller.start()
        report = await self._recover()
        self.timers.call_later(self.config.stats_flush_interval, self._flush_stats_later)
        log.info(
            "job engine started: %d resumed, %d failed (unconfirmed submission), "
            "%d failed (interrupted), %d to redeliver, %d charges/notices settled",
            report.resumed,
            report.failed_unconfirmed,
            report.failed_interrupted,
            report.redelivered,
            report.settled,
        )
        return report

    async def stop(self, *, grace: float = 0.0) -> None:
        """Stop polling and background work; unfinished jobs resume on the next start.

        With ``grace`` > 0, generation requests already being sent get up to that many seconds
        to be answered first: cut off mid-flight, they could only end as "unconfirmed".
        """
        if grace > 0 and self._submits_in_flight:
            self._submits_idle.clear()
            try:
                await asyncio.wait_for(self._submits_idle.wait(), grace)
            except TimeoutError:
                log.warning("stopping with %d submissions still in flight", self._submits_in_flight)
        await self.poller.stop()
        await self.timers.stop()
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._flush_stats()
        self._started = False

    def wake(self) -> None:
        """Re-check due work now (tests call this after advancing a ManualClock)."""
        self.poller.wake()
        self.timers.wake()

    async def wait_idle(self) -> None:
        """Return once nothing can happen until the clock moves (for tests and benchmarks)."""
        while True:
            await self.poller.wait_idle()
            await self.timers.wait_idle()
            if self._background:
                await asyncio.gather(*list(self._background), return_exceptions=True)
                continue
            await asyncio.sleep(0)
            if (
                not self._background
                and self.poller._idle.is_set()
                and self.timers._idle.is_set()
                and self.poller.in_flight == 0
            ):
                return

    # -- public calls -------------------------------------------------------------------------

    async def submit(self, new: NewJob) -> Job:
        """Record a job, reserve its cost, and start it; raises what ``reserve`` raises."""
        now = self.clock.now()
        job = await self.store.create(new, now=now)
        try:
            cost = await self.charge.reserve(job)
        except Exception as exc:
            await self.store.transition(
                job.id,
                JobState.PENDING,
                JobState.FAILED,
                now=self.clock.now(),
                error_code="charge_refused",
                error_message=str(exc) or "The request could not be accepted.",
                notified=True,  # the caller sees the exception and tells the user
                finished_at=self.clock.now(),
            )
            raise
        reserved = await self.store.set_charge(
            job.id, ChargeState.NONE, ChargeState.RESERVED, now=self.clock.now(), cost=cost
        )
        job = reserved or job
        self._spawn(self._drive(job.id), f"job-{job.id}")
        return job

    async def get(self, job_id: int) -> Job | None:
        """Return the stored job."""
        return await self.store.get(job_id)

    async def cancel(self, job_id: int) -> CancelResult:
        """Cancel a job in any state before delivery; a running task's result is discarded."""
        job = await self.store.get(job_id)
        if job is None:
            return CancelResult(CancelOutcome.NOT_FOUND, None)
        now = self.clock.now()
        cancelled = await self.store.transition(
            job_id,
            CANCELLABLE_STATES,
            JobState.CANCELLED,
            now=now,
            charge="release",
            notified=True,
            finished_at=now,
            error_code="cancelled",
            error_message="Cancelled.",
        )
        if cancelled is None:
            current = await self.store.get(job_id)
            outcome = (
                CancelOutcome.ALREADY_FINAL
                if current is not None and current.is_final
                else CancelOutcome.TOO_LATE
            )
            return CancelResult(outcome, current)
        log.info("job %d cancelled (was %s)", job_id, job.state.value)
        self.poller.untrack(job_id)
        self.results.remove(job_id)
        await self._settle_charge(cancelled)
        return CancelResult(CancelOutcome.CANCELLED, await self.store.get(job_id))

    # -- recovery -----------------------------------------------------------------------------

    async def _recover(self) -> RecoveryReport:
        report = RecoveryReport()
        for job in await self.store.list_unsettled():
            await self._settle(job)
            report.settled += 1
        active = await self.store.list_active()
        keep = {j.id for j in active if j.state in (JobState.COMPLETED, JobState.DELIVERING)}
        report.orphans_removed = self.results.remove_orphans(keep)
        for job in active:
            report.by_state[job.state.value] = report.by_state.get(job.state.value, 0) + 1
            action = recovery_action(job)
            if action == RecoveryAction.FAIL_UNCONFIRMED:
                report.failed_unconfirmed += 1
                await self._fail(
                    job.id, JobState.SUBMITTING, "submission_unconfirmed", UNCONFIRMED_MESSAGE
                )
                continue
            if action == RecoveryAction.FAIL_INTERRUPTED:
                report.failed_interrupted += 1
                # The reservation may or may not have happened: release (idempotent) to be safe.
                await self.store.set_charge(
                    job.id, ChargeState.NONE, ChargeState.RESERVED, now=self.clock.now()
                )
                await self._fail(job.id, job.state, "interrupted", INTERRUPTED_MESSAGE)
                continue
            if action == RecoveryAction.REDELIVER:
                report.redelivered += 1
                log.warning(
                    "job %d was being delivered when the bot stopped: delivering again", job.id
                )
                await self.store.transition(
                    job.id, JobState.DELIVERING, JobState.COMPLETED, now=self.clock.now()
                )
            report.resumed += 1
            self._spawn(self._drive(job.id), f"job-{job.id}")
        return report

    async def _settle(self, job: Job) -> None:
        await self._settle_charge(job)
        if job.state == JobState.FAILED and not job.notified:
            await self._notify_failed(job)

    # -- driving a job ------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> None:
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background job work crashed", exc_info=task.exception())

    def _later(self, job_id: int, delay: float) -> None:
        self.timers.call_later(
            delay, lambda: self._spawn(self._drive(job_id), f"job-{job_id}-retry")
        )

    async def _back_to_pending(self, job_id: int, source: JobState, delay: float) -> bool:
        """Return the job to ``pending`` and drive it again after ``delay``; False if it moved on."""
        moved = await self.store.transition(
            job_id,
            source,
            JobState.PENDING,
            now=self.clock.now(),
            not_before=self.clock.now() + delay,
        )
        if moved is None:
            return False
        self._later(job_id, delay)
        return True

    def _backoff(self, failures: int) -> float:
        ceiling = min(self.config.retry_cap, self.config.retry_base * 2 ** max(0, failures - 1))
        return ceiling * (0.5 + 0.5 * self._rng.random())

    def _count_failure(self, job_id: int, what: str) -> int:
        key = (job_id, what)
        self._failures[key] = self._failures.get(key, 0) + 1
        return self._failures[key]

    def _clear_failures(self, job_id: int) -> None:
        for what in ("upload", "download", "delivery", "submit"):
            self._failures.pop((job_id, what), None)

    async def _drive(self, job_id: int) -> None:
        """Take the job as far as it can go now; CAS makes a concurrent change stop it."""
        if job_id in self._busy:
            return
        self._busy.add(job_id)
        try:
            job = await self.store.get(job_id)
            if job is None or job.is_final:
                return
            if job.state in (JobState.PENDING, JobState.UPLOADING):
                if job.not_before is not None and job.not_before > self.clock.now():
                    self._later(job_id, job.not_before - self.clock.now())
                    return
                async with self._submit_slots:
                    job = await self._upload(job)
                    if job is not None:
                        self._submits_in_flight += 1
                        try:
                            job = await self._submit(job)
                        finally:
                            self._submits_in_flight -= 1
                            if not self._submits_in_flight:
                                self._submits_idle.set()
                if job is not None and job.state in POLLING_STATES:
                    self._track(job)
            elif job.state in POLLING_STATES:
                self._track(job)
            elif job.state == JobState.COMPLETED:
                await self._finish(job)
        finally:
            self._busy.discard(job_id)

    async def _upload(self, job: Job) -> Job | None:
        missing = [r for r in job.references if r.url is None]
        if not missing:
            return job
        now = self.clock.now()
        if job.state == JobState.PENDING:
            moved = await self.store.transition(
                job.id, JobState.PENDING, JobState.UPLOADING, now=now
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
                url = await self.service.upload(Path(ref.path), ref.filename, ref.content_type)
            except OSError:
                await self._fail(
                    job.id,
                    JobState.UPLOADING,
                    "reference_missing",
                    f"The reference image {ref.filename} could not be read; please try again.",
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
            updated = await self.store.update(
                job.id, JobState.UPLOADING, now=self.clock.now(), references=tuple(refs)
            )
            if updated is None:
                return None
            job = updated
        return job

    async def _upload_failed(self, job: Job, ref: ReferenceImage, exc: ServiceError) -> None:
        if exc.kind in (ServiceErrorKind.INVALID_REQUEST, ServiceErrorKind.TOO_LARGE):
            await self._fail(
                job.id,
                JobState.UPLOADING,
                "reference_rejected",
                f"The image service refused the reference image {ref.filename}: {exc.message}",
            )
            return None
        if exc.kind in (ServiceErrorKind.AUTHENTICATION, ServiceErrorKind.INSUFFICIENT_BALANCE):
            log.error("the image service refused an upload: %s", exc.message)
            await self._fail(job.id, JobState.UPLOADING, "service_unavailable", SERVICE_UNAVAILABLE)
            return None
        failures = self._count_failure(job.id, "upload")
        if failures >= self.config.max_upload_attempts:
            await self._fail(job.id, JobState.UPLOADING, "service_unavailable", SERVICE_UNAVAILABLE)
            return None
        delay = exc.retry_after if exc.retry_after is not None else self._backoff(failures)
        await self._back_to_pending(job.id, JobState.UPLOADING, delay)
        return None

    async def _submit(self, job: Job) -> Job | None:
        now = self.clock.now()
        submitting = await self.store.transition(
            job.id,
            (JobState.PENDING, JobState.UPLOADING),
            JobState.SUBMITTING,
            now=now,
            attempts=job.attempts + 1,
            not_before=None,
        )
        if submitting is None:
            return None
        image_urls = [r.url for r in submitting.references if r.role == "image" and r.url]
        mask_url = next((r.url for r in submitting.references if r.role == "mask"), None)
        try:
            snapshot = await self.service.submit(submitting.request, image_urls, mask_url)
        except ServiceError as exc:
            await self._submit_failed(submitting, exc)
            return None
        except asyncio.CancelledError:
            raise
        except Exception:
            # An unexpected error after the POST may have been sent: treat it as in doubt.
            log.exception("submitting job %d failed unexpectedly", job.id)
            await self._fail(
                job.id, JobState.SUBMITTING, "submission_unconfirmed", UNCONFIRMED_MESSAGE
            )
            return None
        now = self.clock.now()
        limit = (
            self.config.time_limit_4k if submitting.resolution == "4k" else self.config.time_limit
        )
        submitted = await self.store.transition(
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
        self._notify_progress(submitted)
        return submitted

    async def _submit_failed(self, job: Job, exc: ServiceError) -> None:
        kind = exc.kind
        if kind == ServiceErrorKind.UNCERTAIN:
            log.warning("job %d: submission in doubt (%s); failing it", job.id, exc.message)
            await self._fail(
                job.id, JobState.SUBMITTING, "submission_unconfirmed", UNCONFIRMED_MESSAGE
            )
            return None
        if kind == ServiceErrorKind.INVALID_REQUEST:
            await self._fail(
                job.id,
                JobState.SUBMITTING,
                "invalid_request",
                f"The image service refused the request: {exc.message}",
            )
            return None
        if kind in (ServiceErrorKind.AUTHENTICATION, ServiceErrorKind.INSUFFICIENT_BALANCE):
            log.error("the image service refused a submission (%s): %s", kind.value, exc.message)
            await self._fail(
                job.id, JobState.SUBMITTING, "service_unavailable", SERVICE_UNAVAILABLE
            )
            return None
        # Rate limited or transient: the POST surely did not create a task, so it may be repeated.
        if job.attempts >= self.config.max_submit_attempts:
            await self._fail(
                job.id, JobState.SUBMITTING, "service_unavailable", SERVICE_UNAVAILABLE
            )
            return None
        delay = exc.retry_after if exc.retry_after is not None else self._backoff(job.attempts)
        if await self._back_to_pending(job.id, JobState.SUBMITTING, delay):
            log.info(
                "job %d: submission not accepted (%s); retry in %.1fs", job.id, kind.value, delay
            )
        return None

    def _track(self, job: Job) -> None:
        if job.id in self.poller or job.task_id is None:
            return
        now = self.clock.now()
        self.poller.track(
            job.id,
            job.task_id,
            profile=job.profile,
            submitted_at=job.submitted_at if job.submitted_at is not None else now,
            deadline_at=job.deadline_at
            if job.deadline_at is not None
            else now + self.config.time_limit,
            now_wall=now,
        )

    # -- poll listener ------------------------------------------------------------------------

    async def task_changed(self, task: TrackedTask, snapshot: TaskSnapshot) -> None:
        """Record a new phase or progress of a polled task."""
        now = self.clock.now()
        changes: dict[str, Any] = {"raw_status": snapshot.raw_status or None}
        if snapshot.progress is not None:
            changes["progress"] = snapshot.progress
        if snapshot.phase == TaskPhase.RUNNING:
            job = await self.store.transition(
                task.key, JobState.SUBMITTED, JobState.RUNNING, now=now, **changes
            )
            if job is None:
                job = await self.store.update(task.key, JobState.RUNNING, now=now, **changes)
        else:
            job = await self.store.update(task.key, POLLING_STATES, now=now, **changes)
        if job is None:
            self.poller.untrack(task.key)  # cancelled (or otherwise ended) meanwhile
            return
        self._notify_progress(job)

    async def task_finished(self, task: TrackedTask, snapshot: TaskSnapshot) -> None:
        """Record a completed task and fetch its results, or fail the job."""
        now = self.clock.now()
        if snapshot.phase == TaskPhase.FAILED:
            detail = snapshot.error_message or "no reason given"
            await self._fail(
                task.key,
                POLLING_STATES,
                snapshot.error_code or "generation_failed",
                f"The image service could not make this image: {detail}",
            )
            return
        if not snapshot.image_urls:
            await self._fail(
                task.key,
                POLLING_STATES,
                "no_result",
                "The image service finished but sent no image; nothing was charged.",
            )
            return
        job = await self.store.transition(
            task.key,
            POLLING_STATES,
            JobState.COMPLETED,
            now=now,
            result_urls=snapshot.image_urls,
            completed_at=now,
            result_expires_at=snapshot.expires_at,
            raw_status=snapshot.raw_status or None,
            progress=100,
        )
        if job is None:
            return  # cancelled meanwhile: the result is discarded
        self._notify_progress(job)
        self._spawn(self._drive(job.id), f"job-{job.id}-results")

    async def task_lost(self, task: TrackedTask, code: str, message: str) -> None:
        """Fail a job whose task cannot be followed any more."""
        await self._fail(task.key, POLLING_STATES, code, message + " Nothing was charged.")

    # -- results and delivery -----------------------------------------------------------------

    async def _finish(self, job: Job) -> None:
        if not self.results.all_present(job):
            fetched = await self._download(job)
            if fetched is None:
                return
            job = fetched
        await self._deliver(job)

    async def _download(self, job: Job) -> Job | None:
        try:
            async with self._download_slots:
                paths = await self.results.fetch(job, self.service)
        except ServiceError as exc:
            self.results.remove(job.id)
            if exc.kind == ServiceErrorKind.NOT_FOUND:
                await self._fail(
                    job.id,
                    JobState.COMPLETED,
                    "result_expired",
                    "The finished image expired before it could be fetched; nothing was charged, "
                    "please try again.",
                )
                return None
            if exc.kind == ServiceErrorKind.TOO_LARGE:
                await self._fail(
                    job.id,
                    JobState.COMPLETED,
                    "result_too_large",
                    "The finished image was too large to fetch; nothing was charged.",
                )
                return None
            failures = self._count_failure(job.id, "download")
            if failures >= self.config.max_download_attempts:
                await self._fail(
                    job.id,
                    JobState.COMPLETED,
                    "download_failed",
                    "The finished image could not be fetched; nothing was charged, please try again.",
                )
                return None
            delay = exc.retry_after if exc.retry_after is not None else self._backoff(failures)
            self._later(job.id, delay)
            return None
        stored = await self.store.update(
            job.id, JobState.COMPLETED, now=self.clock.now(), files=tuple(str(p) for p in paths)
        )
        if stored is None:
            self.results.remove(job.id)  # cancelled while downloading
        return stored

    async def _deliver(self, job: Job) -> None:
        async with self._delivery_slots:
            delivering = await self.store.transition(
                job.id,
                JobState.COMPLETED,
                JobState.DELIVERING,
                now=self.clock.now(),
                delivery_attempts=job.delivery_attempts + 1,
            )
            if delivering is None:
                return
            try:
                await self.delivery.deliver(delivering, [Path(f) for f in delivering.files])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._delivery_failed(delivering, exc)
                return
            # Keep this write right after deliver(): the gap is the at-least-once window.
            now = self.clock.now()
            delivered = await self.store.transition(
                job.id,
                JobState.DELIVERING,
                JobState.DELIVERED,
                now=now,
                charge="commit",
                finished_at=now,
                notified=True,
            )
        if delivered is None:
            return
        log.info("job %d delivered", job.id)
        self._clear_failures(job.id)
        self.results.remove(job.id)
        await self._settle_charge(delivered)

    async def _delivery_failed(self, job: Job, exc: Exception) -> None:
        permanent = isinstance(exc, DeliveryFailed) and exc.permanent
        if not isinstance(exc, DeliveryFailed):
            log.exception("delivery of job %d raised", job.id, exc_info=exc)
        if permanent or job.delivery_attempts >= self.config.max_delivery_attempts:
            await self._fail(
                job.id,
                JobState.DELIVERING,
                "undeliverable",
                "The image was made but could not be delivered; nothing was charged.",
            )
            return
        moved = await self.store.transition(
            job.id, JobState.DELIVERING, JobState.COMPLETED, now=self.clock.now()
        )
        if moved is not None:
            delay = self._backoff(job.delivery_attempts)
            log.info("delivery of job %d failed (%s); retry in %.1fs", job.id, exc, delay)
            self._later(job.id, delay)

    # -- endings ------------------------------------------------------------------------------

    async def _fail(
        self,
        job_id: int,
        expected: JobState | Collection[JobState],
        code: str,
        message: str,
    ) -> Job | None:
        now = self.clock.now()
        job = await self.store.transition(
            job_id,
            expected,
            JobState.FAILED,
            now=now,
            charge="release",
            error_code=code,
            error_message=message,
            finished_at=now,
        )
        if job is None:
            return None
        log.info("job %d failed (%s)", job_id, code)
        self.poller.untrack(job_id)
        self.results.remove(job_id)
        self._clear_failures(job_id)
        await self._settle_charge(job)
        await self._notify_failed(job)
        return job

    async def _settle_charge(self, job: Job) -> None:
        if job.charge_state == ChargeState.COMMIT_PENDING:
            call, done = self.charge.commit, ChargeState.COMMITTED
        elif job.charge_state == ChargeState.RELEASE_PENDING:
            call, done = self.charge.release, ChargeState.RELEASED
        else:
            return
        try:
            await call(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("charge hook failed for job %d; retrying later", job.id)
            self.timers.call_later(
                self.config.charge_retry, lambda: self._spawn(self._resettle(job.id))
            )
            return
        await self.store.set_charge(job.id, job.charge_state, done, now=self.clock.now())

    async def _resettle(self, job_id: int) -> None:
        job = await self.store.get(job_id)
        if job is not None:
            await self._settle_charge(job)

    async def _notify_failed(self, job: Job) -> None:
        try:
            await self.delivery.failed(job)
        except asyncio.CancelledError:
            raise
        except DeliveryFailed as exc:
            if not exc.permanent:
                log.warning("could not tell the user job %d failed: %s", job.id, exc)
                return
        except Exception:
            log.exception("could not tell the user job %d failed", job.id)
            return
        await self.store.update(job.id, JobState.FAILED, now=self.clock.now(), notified=True)

    def _notify_progress(self, job: Job) -> None:
        # Coalesce: one sender per job, always sending the latest state.
        pending = job.id in self._progress_latest
        self._progress_latest[job.id] = job
        if not pending:
            self._spawn(self._send_progress(job.id), f"job-{job.id}-progress")

    async def _send_progress(self, job_id: int) -> None:
        while (job := self._progress_latest.get(job_id)) is not None:
            try:
                await self.delivery.progress(job)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("progress update for job %d failed", job_id, exc_info=True)
            if self._progress_latest.get(job_id) is job:
                del self._progress_latest[job_id]

    # -- learned durations --------------------------------------------------------------------

    def _flush_stats_later(self) -> None:
        self._spawn(self._flush_stats(), "flush-duration-stats")
        self.timers.call_later(self.config.stats_flush_interval, self._flush_stats_later)

    async def _flush_stats(self) -> None:
        dirty = self.durations.take_dirty()
        if not dirty:
            return
        try:
            await self._durations_store.save(dirty, now=self.clock.now())
        except Exception:
            log.exception("could not save learned task durations")
