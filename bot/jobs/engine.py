"""The job engine: records each job first, then drives it to exactly one end.

Every step is a compare-and-set transition on the stored job (see ``bot.jobs.states``), so a
step that lost a race (a cancellation, a second driver) simply stops. ``Engine`` is the facade:
its public calls, its lifecycle, driving one job a step at a time, the poller's reports and the
dispatch of recovery at start-up (rules in ``bot.jobs.recovery``). The steps live beside it:

* ``bot.jobs.submission`` — uploads and the one generation POST;
* ``bot.jobs.results`` — download, delivery, then the listeners;
* ``bot.jobs.settlement`` — the one end for failures and cancellations, charges, notices;
* ``bot.jobs.work`` — background tasks, per-job retries and failure counts.

Charging: ``ChargeHook.reserve`` runs right after the job row is written; the decision to commit
(delivered) or release (failed, cancelled, undeliverable) is written in the same statement as
the final state, then the hook is called, then its confirmation is recorded. Unconfirmed
decisions are retried on start-up and every ``charge_retry`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from bot import logcontext
from bot.clock import Clock, SystemClock
from bot.jobs.downloads import ResultFiles
from bot.jobs.hooks import ChargeHook, Delivery, JobListener, NoCharge
from bot.jobs.leases import LeasedJobs, new_owner_id
from bot.jobs.poller import RateBudget, TaskPoller
from bot.jobs.progress import ProgressNotices
from bot.jobs.records import Job, NewJob
from bot.jobs.recovery import RecoveryAction, recovery_action
from bot.jobs.results import Followups, Results
from bot.jobs.service import ImageService, TaskPhase, TaskSnapshot
from bot.jobs.settlement import Settlement
from bot.jobs.states import CANCELLABLE_STATES, ChargeState, FailureCode, JobState
from bot.jobs.store import DurationStatsStore, JobStore
from bot.jobs.strategy import (
    AdaptiveStrategy,
    DurationModel,
    PollStrategy,
    TrackedTask,
    VendorRhythm,
)
from bot.jobs.submission import Submission
from bot.jobs.work import JobWork
from bot.refusal import Refusal

log = logging.getLogger(__name__)

POLLING_STATES = frozenset({JobState.SUBMITTED, JobState.RUNNING})

# The codes a task failure reported by the service may carry; anything else is generic.
TASK_FAILURE_CODES = frozenset(
    {FailureCode.GENERATION_FAILED, FailureCode.CONTENT_POLICY, FailureCode.INVALID_REQUEST}
)


@dataclass(frozen=True)
class EngineConfig:
    """Knobs of the job engine (times in seconds)."""

    data_dir: Path = Path("data")
    # Status requests per second toward ToAPIs, for all jobs and all processes together: the
    # starting rate; it grows while used up and without 429s, up to ``poll_rate_max`` (None: a
    # fixed rate). Both are divided between the live processes.
    poll_rate: float = 10.0
    poll_rate_max: float | None = None
    poll_burst_seconds: float = 0.25  # the bucket holds this much of the current rate
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
    listener_timeout: float = 30.0  # real seconds per listener call (e.g. a gallery post)
    stats_flush_interval: float = 60.0
    # Leases (bot.jobs.leases): a job whose owner stops renewing is taken over after this long.
    lease_seconds: float = 60.0
    # True when no other process shares the database (SQLite): at start, every job is ours.
    exclusive: bool = True
    claim_batch: int = 200


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
    followups: int = 0
    orphans_removed: int = 0
    by_state: dict[str, int] = field(default_factory=dict)


def task_failure_code(vendor_code: str | None) -> FailureCode:
    """Return the failure code of a task the service reported failed."""
    code = FailureCode.parse(vendor_code)
    return code if code in TASK_FAILURE_CODES else FailureCode.GENERATION_FAILED


class Engine:
    """Run image jobs from request to delivery, surviving restarts."""

    def __init__(
        self,
        jobs: JobStore,
        durations_store: DurationStatsStore,
        service: ImageService,
        delivery: Delivery,
        *,
        listeners: Sequence[JobListener] = (),
        config: EngineConfig | None = None,
        clock: Clock | None = None,
        charge: ChargeHook | None = None,
        strategy: PollStrategy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = cfg = config or EngineConfig()
        self.clock: Clock = clock or SystemClock()
        self.owner = new_owner_id()
        # Every component writes through the lease: a process that lost a job cannot write it.
        # Written leases last two heartbeats: a live owner has one heartbeat of slack, and a
        # dead owner's jobs are claimed at the next heartbeat after that: within ``lease_seconds``
        # of its death.
        self.leases = LeasedJobs(
            jobs, self.owner, lease_seconds=cfg.lease_seconds - self.heartbeat_interval
        )
        self.jobs = jobs = self.leases
        self._live_processes = 1
        self._durations_store = durations_store
        self.service = service
        self.delivery = delivery
        self.listeners = tuple(listeners)
        self.charge: ChargeHook = charge or NoCharge()
        rng = rng or random.Random()
        self.durations = DurationModel()
        if strategy is None:
            strategy = (
                VendorRhythm() if cfg.strategy == "vendor" else AdaptiveStrategy(self.durations)
            )
        elif isinstance(strategy, AdaptiveStrategy):
            self.durations = strategy.durations
        self._budget = RateBudget(
            cfg.poll_rate,
            ceiling=max(cfg.poll_rate_max or cfg.poll_rate, cfg.poll_rate),
            burst_seconds=cfg.poll_burst_seconds,
        )
        self.poller = TaskPoller(
            service.get_task,
            self,
            clock=self.clock,
            strategy=strategy,
            budget=self._budget,
            max_in_flight=cfg.max_polls_in_flight,
            backoff_base=cfg.retry_base,
            backoff_cap=cfg.retry_cap,
            rng=rng,
        )
        self.result_files = ResultFiles(cfg.data_dir, max_bytes=cfg.max_result_bytes)
        self._work = JobWork(
            self.clock, retry_base=cfg.retry_base, retry_cap=cfg.retry_cap, rng=rng
        )
        self._progress = ProgressNotices(delivery, self._work.spawn)
        self._settlement = Settlement(
            jobs,
            self.charge,
            delivery,
            self.result_files,
            self._work,
            clock=self.clock,
            forget=self._forget,
            charge_retry=cfg.charge_retry,
        )
        self._submission = Submission(
            jobs,
            service,
            self._settlement,
            self._work,
            self._progress,
            clock=self.clock,
            redrive=self._redrive,
            max_upload_attempts=cfg.max_upload_attempts,
            max_submit_attempts=cfg.max_submit_attempts,
            time_limit=cfg.time_limit,
            time_limit_4k=cfg.time_limit_4k,
        )
        self._followups = Followups(
            jobs, self.result_files, self.listeners, clock=self.clock, timeout=cfg.listener_timeout
        )
        self._results = Results(
            jobs,
            service,
            delivery,
            self.result_files,
            self._settlement,
            self._followups,
            self._work,
            clock=self.clock,
            forget=self._forget,
            redrive=self._redrive,
            download_concurrency=cfg.download_concurrency,
            delivery_concurrency=cfg.delivery_concurrency,
            max_download_attempts=cfg.max_download_attempts,
            max_delivery_attempts=cfg.max_delivery_attempts,
        )
        self._submit_slots = asyncio.Semaphore(cfg.submit_concurrency)
        self._busy: set[int] = set()  # jobs being driven now
        self._calls = 0  # public submit()/cancel() calls under way
        self._calls_done = asyncio.Event()
        self._calls_done.set()
        self._started = False

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> RecoveryReport:
        """Load learned durations, start the poller and resume every unfinished job."""
        if self._started:
            raise RuntimeError("the engine is already started")
        self._started = True
        try:
            self.durations.load(await self._durations_store.load())
        except Exception:
            log.exception("could not load learned task durations; starting cold")
        self._work.start()
        self.poller.start()
        await self._beat()
        report = await self._recover()
        self._work.timers.call_later(self.config.stats_flush_interval, self._flush_stats_later)
        self._work.timers.call_later(self.heartbeat_interval, self._heartbeat_later)
        log.info(
            "job engine started: %d resumed, %d failed (unconfirmed submission), "
            "%d failed (interrupted), %d to redeliver, %d charges/notices settled, "
            "%d delivered jobs' listeners to finish",
            report.resumed,
            report.failed_unconfirmed,
            report.failed_interrupted,
            report.redelivered,
            report.settled,
            report.followups,
        )
        return report

    async def stop(self, *, grace: float = 0.0, release: bool = True) -> None:
        """Stop polling and background work; unfinished jobs resume on the next start.

        With ``grace`` > 0, generation requests already being sent get up to that many seconds
        to be answered first: cut off mid-flight, they could only end as "unconfirmed".
        ``release`` ends this process's leases so another process may take its jobs at once
        (tests pass False to stop like a killed process, whose leases must expire).
        """
        if grace > 0 and self._submission.posts_in_flight:
            if not await self._submission.wait_posts(grace):
                log.warning(
                    "stopping with %d submissions still in flight",
                    self._submission.posts_in_flight,
                )
        await self.poller.stop()
        await self._work.stop()
        self._progress.clear()
        await self._flush_stats()
        if release:
            try:
                released = await self.leases.let_go()
                await self.leases.leave(self.owner)
                if released:
                    log.info("released the leases of %d jobs", released)
            except Exception:
                log.exception("could not release this process's job leases")
        self._started = False

    @property
    def running(self) -> bool:
        """Tell whether the engine is started and its poll scheduler alive (for health checks)."""
        return self._started and self.poller.running

    def wake(self) -> None:
        """Re-check due work now (tests call this after advancing a ManualClock)."""
        self.poller.wake()
        self._work.timers.wake()

    async def wait_idle(self) -> None:
        """Return once nothing can happen until the clock moves (for tests and benchmarks).

        Quiet means, all at the same instant: no public call under way, no background task,
        no status request open, and neither the poller nor the timers with anything due.
        """
        while True:
            await self._calls_done.wait()
            await self.poller.wait_idle()
            await self._work.timers.wait_idle()
            if self._work.busy:
                await self._work.wait_tasks()
                continue
            await asyncio.sleep(0)  # let done-callbacks and just-woken loops run first
            if (
                not self._calls
                and not self._work.busy
                and self.poller.idle
                and self._work.timers.idle
            ):
                return

    def memory(self) -> dict[str, int]:
        """Return the sizes of every per-job structure (all 0 once no job is in flight)."""
        return {
            "driving": len(self._busy),
            "progress_notices": len(self._progress),
            "tracked_tasks": len(self.poller),
            "poll_schedule": self.poller.heap_size,
            "leases_held": len(self.leases.held),
            **self._work.memory(),
        }

    @asynccontextmanager
    async def _public_call(self) -> AsyncIterator[None]:
        # Counted so that wait_idle() does not return between a job's row and its first step.
        self._calls += 1
        self._calls_done.clear()
        try:
            yield
        finally:
            self._calls -= 1
            if not self._calls:
                self._calls_done.set()

    # -- public calls -------------------------------------------------------------------------

    async def submit(self, new: NewJob) -> Job:
        """Record a job, reserve its cost, and start it; raises what ``reserve`` raises."""
        async with self._public_call():
            job = await self.jobs.create(new, now=self.clock.now())
            logcontext.bind(job_id=job.id, guild_id=job.guild_id)
            try:
                cost = await self.charge.reserve(job)
            except Exception as exc:
                detail = exc.message if isinstance(exc, Refusal) else str(exc)
                # The caller sees the exception and tells the member: nothing more to say.
                await self._settlement.fail(
                    job.id,
                    JobState.PENDING,
                    FailureCode.CHARGE_REFUSED,
                    detail or type(exc).__name__,
                    told=True,
                )
                raise
            reserved = await self.jobs.set_charge(
                job.id, ChargeState.NONE, ChargeState.RESERVED, now=self.clock.now(), cost=cost
            )
            job = reserved or job
            self._work.spawn(self._drive(job.id), f"job-{job.id}")
            return job

    async def get(self, job_id: int) -> Job | None:
        """Return the stored job."""
        return await self.jobs.get(job_id)

    async def cancel(self, job_id: int, *, by: str = "") -> CancelResult:
        """Cancel a job in any state before delivery, then tell its member who cancelled it.

        A running task's result is discarded.
        """
        async with self._public_call():
            job = await self.jobs.get(job_id)
            if job is None:
                return CancelResult(CancelOutcome.NOT_FOUND, None)
            cancelled = await self._settlement.cancel(job_id, CANCELLABLE_STATES, by=by)
            if cancelled is None:
                current = await self.jobs.get(job_id)
                outcome = (
                    CancelOutcome.ALREADY_FINAL
                    if current is not None and current.is_final
                    else CancelOutcome.TOO_LATE
                )
                return CancelResult(outcome, current)
            log.info("job %d cancelled (was %s)", job_id, job.state.value)
            return CancelResult(CancelOutcome.CANCELLED, cancelled)

    # -- recovery -----------------------------------------------------------------------------

    @property
    def heartbeat_interval(self) -> float:
        """Return how often leases are renewed and expired ones claimed (a third of the lease)."""
        return self.config.lease_seconds / 3

    @property
    def live_processes(self) -> int:
        """Return how many engine processes shared the database at the last heartbeat."""
        return self._live_processes

    async def _recover(self) -> RecoveryReport:
        report = RecoveryReport()
        followups = await self.jobs.list_followups()
        active = await self.jobs.list_active()
        # Files of every process's unfinished jobs are kept: a data directory may be shared.
        keep = {j.id for j in active if j.state in (JobState.COMPLETED, JobState.DELIVERING)}
        keep |= {j.id for j in followups}
        report.orphans_removed = self.result_files.remove_orphans(keep)
        while True:
            taken = await self.leases.take(
                now=self.clock.now(), limit=self.config.claim_batch, force=self.config.exclusive
            )
            await self._take_over(taken, report)
            if len(taken) < self.config.claim_batch:
                return report

    async def _take_over(self, jobs: list[Job], report: RecoveryReport) -> None:
        """Resume jobs just leased (at start, or from a process that stopped renewing)."""
        followups: list[Job] = []
        for job in jobs:
            if job.is_final:
                if job.state == JobState.DELIVERED and job.files:
                    followups.append(job)
                await self._settlement.settle(job)
                report.settled += 1
                # Ended: its writes are plain compare-and-sets now; the row stays leased to
                # this process (renewed while work is left) so no other process settles it too.
                self.leases.drop(job.id)
        if followups:
            # Delivered, charges settled above, but the listeners may not have run. One task
            # for all: after an upgrade every older delivered row is here, and must not crowd
            # out the jobs in flight.
            report.followups += len(followups)
            self._work.spawn(self._followups.resume(followups), "resume-followups")
        for job in jobs:
            if job.is_final:
                continue
            report.by_state[job.state.value] = report.by_state.get(job.state.value, 0) + 1
            action = recovery_action(job)
            if action == RecoveryAction.FAIL_UNCONFIRMED:
                report.failed_unconfirmed += 1
                await self._settlement.fail(
                    job.id,
                    JobState.SUBMITTING,
                    FailureCode.SUBMISSION_UNCONFIRMED,
                    "restarted while the generation request was in flight",
                )
                continue
            if action == RecoveryAction.FAIL_INTERRUPTED:
                report.failed_interrupted += 1
                # The reservation may or may not have happened: release (idempotent) to be safe.
                await self.jobs.set_charge(
                    job.id, ChargeState.NONE, ChargeState.RESERVED, now=self.clock.now()
                )
                await self._settlement.fail(
                    job.id,
                    job.state,
                    FailureCode.INTERRUPTED,
                    "restarted before the reservation was confirmed",
                )
                continue
            if action == RecoveryAction.REDELIVER:
                report.redelivered += 1
                log.warning(
                    "job %d was being delivered when its process stopped: delivering again",
                    job.id,
                )
                await self.jobs.transition(
                    job.id, JobState.DELIVERING, JobState.COMPLETED, now=self.clock.now()
                )
            report.resumed += 1
            self._work.spawn(self._drive(job.id), f"job-{job.id}")

    # -- leases and the shared request budget ---------------------------------------------------

    def _heartbeat_later(self) -> None:
        self._work.spawn(self._heartbeat(), "lease-heartbeat")
        self._work.timers.call_later(self.heartbeat_interval, self._heartbeat_later)

    async def _heartbeat(self) -> None:
        """Renew this process's leases, share the budget, and take over expired leases."""
        try:
            lost = await self.leases.keep(now=self.clock.now())
            for job_id in lost:
                log.warning("job %d: its lease was taken over by another process", job_id)
                self._forget(job_id)
            await self._beat()
            if self.config.exclusive:
                return
            report = RecoveryReport()
            while True:
                taken = await self.leases.take(now=self.clock.now(), limit=self.config.claim_batch)
                await self._take_over(taken, report)
                if len(taken) < self.config.claim_batch:
                    break
            if report.resumed or report.settled or report.failed_unconfirmed:
                log.warning(
                    "took over jobs of a process that stopped: %d resumed, %d settled, "
                    "%d failed (unconfirmed submission), %d failed (interrupted)",
                    report.resumed,
                    report.settled,
                    report.failed_unconfirmed,
                    report.failed_interrupted,
                )
        except Exception:
            log.exception("lease heartbeat failed; retrying at the next one")

    async def _beat(self) -> None:
        """Record this process as alive and poll at its share of the one request budget."""
        try:
            live = await self.leases.beat(
                self.owner, now=self.clock.now(), window=self.config.lease_seconds
            )
        except Exception:
            log.exception("could not record this process as alive")
            return
        if live != self._live_processes:
            log.info("%d engine processes share the ToAPIs request budget", live)
        self._live_processes = live
        # The starting rate and the ceiling are totals for the bot: each process gets its share,
        # and what it learned about the limit is scaled to the new share.
        cfg = self.config
        self._budget.share(
            cfg.poll_rate / live, max(cfg.poll_rate_max or cfg.poll_rate, cfg.poll_rate) / live
        )

    # -- driving a job ------------------------------------------------------------------------

    def _redrive(self, job_id: int, delay: float) -> None:
        """Drive the job again after ``delay`` clock seconds."""
        self._work.retry_later(
            job_id, delay, lambda: self._work.spawn(self._drive(job_id), f"job-{job_id}-retry")
        )

    def _forget(self, job_id: int) -> None:
        """Drop what memory holds for an ended job (its files are handled by the caller)."""
        self.poller.untrack(job_id)
        self._work.forget(job_id)
        self.leases.drop(job_id)

    async def _drive(self, job_id: int) -> None:
        """Take the job as far as it can go now; CAS makes a concurrent change stop it."""
        if job_id in self._busy:
            return
        self._busy.add(job_id)
        logcontext.bind(job_id=job_id)  # this task's log lines are about this job
        try:
            if not self.leases.holds(job_id):
                return  # another process took it over
            job = await self.jobs.get(job_id)
            if job is None or job.is_final:
                return
            logcontext.bind(guild_id=job.guild_id)
            if job.state in (JobState.PENDING, JobState.UPLOADING):
                if job.not_before is not None and job.not_before > self.clock.now():
                    self._redrive(job_id, job.not_before - self.clock.now())
                    return
                async with self._submit_slots:
                    submitted = await self._submission.run(job)
                if submitted is not None:
                    self._track(submitted)
            elif job.state in POLLING_STATES:
                self._track(job)
            elif job.state == JobState.COMPLETED:
                await self._results.finish(job)
        finally:
            self._busy.discard(job_id)

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

    # -- poll reports -------------------------------------------------------------------------

    async def task_changed(self, task: TrackedTask, snapshot: TaskSnapshot) -> None:
        """Record a new phase or progress of a polled task."""
        logcontext.bind(job_id=task.key)
        now = self.clock.now()
        changes: dict[str, Any] = {"raw_status": snapshot.raw_status or None}
        if snapshot.progress is not None:
            changes["progress"] = snapshot.progress
        if snapshot.phase == TaskPhase.RUNNING:
            job = await self.jobs.transition(
                task.key, JobState.SUBMITTED, JobState.RUNNING, now=now, **changes
            )
            if job is None:
                job = await self.jobs.update(task.key, JobState.RUNNING, now=now, **changes)
        else:
            job = await self.jobs.update(task.key, POLLING_STATES, now=now, **changes)
        if job is None:
            self.poller.untrack(task.key)  # cancelled (or otherwise ended) meanwhile
            return
        self._progress.notify(job)

    async def task_finished(self, task: TrackedTask, snapshot: TaskSnapshot) -> None:
        """Record a completed task and fetch its results, or fail the job."""
        logcontext.bind(job_id=task.key)
        if snapshot.phase == TaskPhase.FAILED:
            code = task_failure_code(snapshot.error_code)
            log.info(
                "task %s of job %d failed (service code %s)",
                task.task_id,
                task.key,
                snapshot.error_code,
            )
            await self._settlement.fail(
                task.key, POLLING_STATES, code, snapshot.error_message or ""
            )
            return
        if not snapshot.image_urls:
            await self._settlement.fail(
                task.key,
                POLLING_STATES,
                FailureCode.NO_RESULT,
                f"task {task.task_id} completed without image URLs",
            )
            return
        now = self.clock.now()
        job = await self.jobs.transition(
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
        self._progress.notify(job)
        self._work.spawn(self._drive(job.id), f"job-{job.id}-results")

    async def task_lost(self, task: TrackedTask, code: FailureCode, detail: str) -> None:
        """Fail a job whose task cannot be followed any more."""
        logcontext.bind(job_id=task.key)
        await self._settlement.fail(task.key, POLLING_STATES, code, detail)

    # -- learned durations --------------------------------------------------------------------

    def _flush_stats_later(self) -> None:
        self._work.spawn(self._flush_stats(), "flush-duration-stats")
        self._work.timers.call_later(self.config.stats_flush_interval, self._flush_stats_later)

    async def _flush_stats(self) -> None:
        dirty = self.durations.take_dirty()
        if not dirty:
            return
        try:
            await self._durations_store.save(dirty, now=self.clock.now())
        except Exception:
            log.exception("could not save learned task durations")
