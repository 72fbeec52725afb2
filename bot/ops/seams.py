"""Port wrappers that report to an ``Observer``: the engine sees the same ports, counted.

The composition root wraps the image service, the delivery and the charge hook the engine
gets, and adds ``DeliveredLatency`` to its listeners; the wrapped objects do not know.
Each wrapper reports only what the wrapped call really did (a raised call counts as failed,
a charge hook call that raised counts nothing: the engine calls it again later).
"""

from __future__ import annotations

from pathlib import Path

from bot.clock import Clock
from bot.jobs.hooks import ChargeHook, Delivery, DeliveryFailed
from bot.jobs.records import Job
from bot.jobs.service import ImageService, TaskPhase, TaskSnapshot
from bot.ops.observer import Observer
from bot.toapis.models import GenerationRequest

__all__ = ["DeliveredLatency", "ObservedCharge", "ObservedDelivery", "ObservedImageService"]


class ObservedImageService:
    """An ``ImageService`` that counts uploads and measures how late completions are seen."""

    def __init__(self, service: ImageService, observer: Observer, *, clock: Clock) -> None:
        self._service = service
        self._observer = observer
        self._clock = clock

    async def upload(self, path: Path, filename: str, content_type: str) -> str:
        """Upload and count the outcome."""
        try:
            url = await self._service.upload(path, filename, content_type)
        except Exception:
            self._observer.upload("failed")
            raise
        self._observer.upload("uploaded")
        return url

    async def submit(
        self, request: GenerationRequest, image_urls: list[str], mask_url: str | None
    ) -> TaskSnapshot:
        """Send a generation request."""
        return await self._service.submit(request, image_urls, mask_url)

    async def get_task(self, task_id: str) -> TaskSnapshot:
        """Ask once; a completed answer records the time since the service completed the task.

        The poller stops following a task at its first final answer, so each task is measured
        once (again only if a restart re-tracks it).
        """
        snapshot = await self._service.get_task(task_id)
        if snapshot.phase == TaskPhase.COMPLETED and snapshot.completed_at is not None:
            # Both are wall-clock times; clocks a little apart must not give a negative delay.
            self._observer.task_detected(max(0.0, self._clock.now() - snapshot.completed_at))
        return snapshot

    async def download(self, url: str, dest: Path, *, max_bytes: int) -> int:
        """Stream a result to ``dest``."""
        return await self._service.download(url, dest, max_bytes=max_bytes)


class ObservedDelivery:
    """A ``Delivery`` that counts delivery attempts and their failures."""

    def __init__(self, delivery: Delivery, observer: Observer) -> None:
        self._delivery = delivery
        self._observer = observer

    @property
    def wrapped(self) -> Delivery:
        """Return the delivery doing the work."""
        return self._delivery

    async def progress(self, job: Job) -> None:
        """Pass progress on."""
        await self._delivery.progress(job)

    async def deliver(self, job: Job, files: list[Path]) -> None:
        """Deliver, counting delivered, failed (retried later) or undeliverable."""
        try:
            await self._delivery.deliver(job, files)
        except DeliveryFailed as exc:
            self._observer.delivery("undeliverable" if exc.permanent else "failed")
            raise
        except Exception:
            self._observer.delivery("failed")
            raise
        self._observer.delivery("delivered")

    async def failed(self, job: Job) -> None:
        """Pass the failure notice on."""
        await self._delivery.failed(job)

    async def cancelled(self, job: Job, by: str) -> None:
        """Pass the cancellation notice on."""
        await self._delivery.cancelled(job, by)


class ObservedCharge:
    """A ``ChargeHook`` that counts credits reserved, committed and released."""

    def __init__(self, charge: ChargeHook, observer: Observer) -> None:
        self._charge = charge
        self._observer = observer

    async def reserve(self, job: Job) -> float | None:
        """Reserve; count the credits the hook reserved."""
        cost = await self._charge.reserve(job)
        if cost:
            self._observer.credits("reserved", cost)
        return cost

    async def commit(self, job: Job) -> None:
        """Commit; count the job's reserved credits as committed."""
        await self._charge.commit(job)
        if job.cost:
            self._observer.credits("committed", job.cost)

    async def release(self, job: Job) -> None:
        """Release; count the job's reserved credits as released."""
        await self._charge.release(job)
        if job.cost:
            self._observer.credits("released", job.cost)


class DeliveredLatency:
    """A job listener that records each delivered job's time from request to delivery."""

    def __init__(self, observer: Observer, *, clock: Clock) -> None:
        self._observer = observer
        self._clock = clock

    async def job_delivered(self, job: Job, files: list[Path]) -> None:
        """Record the end-to-end latency of ``job``."""
        end = job.finished_at if job.finished_at is not None else self._clock.now()
        self._observer.job_delivered(max(0.0, end - job.created_at))
