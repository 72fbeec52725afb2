"""Progress notices: one sender per job, always sending the latest state it reached."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from bot.jobs.hooks import Delivery
from bot.jobs.records import Job

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, Any], str], None]


class ProgressNotices:
    """Hand ``Delivery.progress`` the newest state of each job, coalescing bursts."""

    def __init__(self, delivery: Delivery, spawn: Spawn) -> None:
        self._delivery = delivery
        self._spawn = spawn
        self._latest: dict[int, Job] = {}  # an entry lives only while its sender runs

    def __len__(self) -> int:
        return len(self._latest)

    def clear(self) -> None:
        """Forget unsent notices (the engine stopped; senders were cancelled)."""
        self._latest.clear()

    def notify(self, job: Job) -> None:
        """Queue ``job``'s state to be shown (replacing one not sent yet)."""
        pending = job.id in self._latest
        self._latest[job.id] = job
        if not pending:
            self._spawn(self._send(job.id), f"job-{job.id}-progress")

    async def _send(self, job_id: int) -> None:
        try:
            while (job := self._latest.get(job_id)) is not None:
                try:
                    await self._delivery.progress(job)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.warning("progress update for job %d failed", job_id, exc_info=True)
                if self._latest.get(job_id) is job:
                    del self._latest[job_id]
        finally:
            # Cancelled (the engine stopped): drop what was not sent, or the next notice of
            # this job would think a sender is still running.
            self._latest.pop(job_id, None)
