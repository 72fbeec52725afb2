"""The engine's background work: short tasks, one pending retry per job, failure counts.

Everything here is per job and is dropped by ``forget(job_id)`` when the job ends, so memory
follows the jobs in flight, not the jobs ever seen.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine
from typing import Any

from bot.clock import Clock
from bot.jobs.timing import ClockScheduler, Timer

log = logging.getLogger(__name__)


class JobWork:
    """Run the engine's background tasks and delayed retries, and count failures per job."""

    def __init__(
        self,
        clock: Clock,
        *,
        retry_base: float,
        retry_cap: float,
        rng: random.Random | None = None,
    ) -> None:
        self.timers = ClockScheduler(clock, name="job-timers")
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self._rng = rng or random.Random()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._retries: dict[int, Timer] = {}
        self._failures: dict[int, dict[str, int]] = {}
        self._closing = False

    # -- tasks --------------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> None:
        """Run ``coro`` as a background task (a crash is logged, never lost)."""
        if self._closing:
            coro.close()  # stopping: the work resumes from the stored state on the next start
            return
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background job work crashed", exc_info=task.exception())

    @property
    def busy(self) -> bool:
        """Tell whether a background task is running."""
        return bool(self._tasks)

    async def wait_tasks(self) -> None:
        """Wait for the background tasks running now (and those they start) to end."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- retries ------------------------------------------------------------------------------

    def retry_later(self, job_id: int, delay: float, callback: Callable[[], None]) -> None:
        """Call ``callback`` after ``delay`` clock seconds; replaces the job's pending retry."""
        previous = self._retries.pop(job_id, None)
        if previous is not None:
            previous.cancel()

        def fire() -> None:
            if self._retries.get(job_id) is timer:
                del self._retries[job_id]
            callback()

        timer = self.timers.call_later(delay, fire)
        self._retries[job_id] = timer

    def count_failure(self, job_id: int, what: str) -> int:
        """Count one more failure of ``what`` (upload, download...) for the job; return the count."""
        counts = self._failures.setdefault(job_id, {})
        counts[what] = counts.get(what, 0) + 1
        return counts[what]

    def backoff(self, failures: int) -> float:
        """Return a jittered exponential delay after ``failures`` failures."""
        ceiling = min(self.retry_cap, self.retry_base * 2 ** max(0, failures - 1))
        return ceiling * (0.5 + 0.5 * self._rng.random())

    def forget(self, job_id: int) -> None:
        """Drop the job's failure counts and pending retry (it ended)."""
        self._failures.pop(job_id, None)
        timer = self._retries.pop(job_id, None)
        if timer is not None:
            timer.cancel()

    def memory(self) -> dict[str, int]:
        """Return the sizes of the per-job structures (for memory checks)."""
        return {
            "tasks": len(self._tasks),
            "retries": len(self._retries),
            "failure_counts": len(self._failures),
            "timers": len(self.timers),
        }

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the timer loop."""
        self._closing = False
        self.timers.start()

    async def stop(self) -> None:
        """Stop the timers, then cancel every background task and wait for them."""
        self._closing = True
        await self.timers.stop()
        self._retries.clear()
        while self._tasks:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._failures.clear()
