"""The image service's recent health: API call outcomes, 429s and task times in a rolling window.

Fed by the ToAPIs client's HTTP answers (an aiohttp trace on the one session, for calls to the
ToAPIs API only) and by the job engine's outcomes (a listener for delivered jobs and a
delivery wrapper for failed ones). Read by ``/status``. Kept in memory, per process; no
Prometheus here (that is ``/metrics``' business).
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp

from bot.clock import Clock, SystemClock
from bot.jobs.hooks import Delivery
from bot.jobs.records import Job

__all__ = ["HealthDelivery", "HealthSnapshot", "ServiceHealth"]

#: How far back ``/status`` looks.
DEFAULT_WINDOW_SECONDS = 15 * 60
#: Most events kept per kind: a busy bot's window is sampled, never unbounded.
MAX_EVENTS = 10_000


@dataclass(frozen=True)
class HealthSnapshot:
    """What happened in the last ``window`` seconds."""

    window: float
    calls: int
    failed_calls: int
    rate_limited: int
    jobs_done: int
    jobs_failed: int
    median_task_seconds: float | None

    @property
    def error_rate(self) -> float | None:
        """Share of API calls that failed (non-2xx or no answer); None without calls."""
        return self.failed_calls / self.calls if self.calls else None


class ServiceHealth:
    """A rolling window of the image service's outcomes."""

    def __init__(
        self,
        *,
        window: float = DEFAULT_WINDOW_SECONDS,
        clock: Clock | None = None,
    ) -> None:
        self.window = window
        self.clock: Clock = clock or SystemClock()
        # (when, status or None for no answer)
        self._calls: deque[tuple[float, int | None]] = deque(maxlen=MAX_EVENTS)
        # (when, seconds the service took or None, delivered?)
        self._jobs: deque[tuple[float, float | None, bool]] = deque(maxlen=MAX_EVENTS)

    # -- recording ----------------------------------------------------------------------------

    def record_call(self, status: int | None) -> None:
        """Record one HTTP answer of the image service's API (None: no answer at all)."""
        self._calls.append((self.clock.now(), status))

    def record_job(self, job: Job, *, delivered: bool) -> None:
        """Record a finished job; its task time runs from submission to completion."""
        took: float | None = None
        if job.submitted_at is not None and job.completed_at is not None:
            took = max(0.0, job.completed_at - job.submitted_at)
        self._jobs.append((self.clock.now(), took, delivered))

    async def job_delivered(self, job: Job, files: list[Path]) -> None:
        """The engine's listener call for a delivered job."""
        self.record_job(job, delivered=True)

    def trace_config(self, base_url: str) -> aiohttp.TraceConfig:
        """An aiohttp trace recording the answers to API calls (``/v1/...``) under ``base_url``."""
        trace = aiohttp.TraceConfig()
        # Result files may come from the same host; only the API's answers count.
        prefix = base_url.rstrip("/") + "/v1/"

        def ours(url: Any) -> bool:
            return str(url).startswith(prefix)

        async def on_end(session: aiohttp.ClientSession, ctx: SimpleNamespace, params: Any) -> None:
            if ours(params.url):
                self.record_call(params.response.status)

        async def on_error(
            session: aiohttp.ClientSession, ctx: SimpleNamespace, params: Any
        ) -> None:
            if ours(params.url):
                self.record_call(None)

        trace.on_request_end.append(on_end)
        trace.on_request_exception.append(on_error)
        return trace

    # -- reading ------------------------------------------------------------------------------

    def snapshot(self) -> HealthSnapshot:
        """Return the counts and the median task time of the window."""
        since = self.clock.now() - self.window
        calls = [status for at, status in self._calls if at >= since]
        jobs = [(took, ok) for at, took, ok in self._jobs if at >= since]
        times = [took for took, ok in jobs if ok and took is not None]
        return HealthSnapshot(
            window=self.window,
            calls=len(calls),
            failed_calls=sum(1 for s in calls if s is None or not 200 <= s < 300),
            rate_limited=sum(1 for s in calls if s == 429),
            jobs_done=sum(1 for _, ok in jobs if ok),
            jobs_failed=sum(1 for _, ok in jobs if not ok),
            median_task_seconds=statistics.median(times) if times else None,
        )


class HealthDelivery:
    """The engine's delivery, recording each failed job before passing it on."""

    def __init__(self, inner: Delivery, health: ServiceHealth) -> None:
        self._inner = inner
        self._health = health

    async def progress(self, job: Job) -> None:
        await self._inner.progress(job)

    async def deliver(self, job: Job, files: list[Path]) -> None:
        await self._inner.deliver(job, files)

    async def failed(self, job: Job) -> None:
        self._health.record_job(job, delivered=False)
        await self._inner.failed(job)

    async def cancelled(self, job: Job, by: str) -> None:
        await self._inner.cancelled(job, by)
