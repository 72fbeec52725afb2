"""Interfaces other layers plug into the engine: delivery (Discord), listeners, charging (quotas)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from bot.jobs.records import Job


class DeliveryFailed(Exception):
    """Delivery did not happen; ``permanent`` means retrying cannot help (e.g. channel gone)."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Delivery(Protocol):
    """How results and news reach the user (implemented by the Discord layer)."""

    async def progress(self, job: Job) -> None:
        """Tell the user the job's state or progress changed (the implementer may throttle)."""
        ...

    async def deliver(self, job: Job, files: list[Path]) -> None:
        """Hand the user the result files; raise ``DeliveryFailed`` if that did not happen."""
        ...

    async def failed(self, job: Job) -> None:
        """Tell the user the job failed; ``job.error_code`` says why (``error_message``: detail)."""
        ...

    async def cancelled(self, job: Job, by: str) -> None:
        """Tell the user the job was cancelled by ``by`` (best effort; errors are only logged)."""
        ...


class JobListener(Protocol):
    """Something that follows delivered jobs (the gallery); must be idempotent per job id.

    The engine calls it after the ``delivered`` write and after the charge settled, outside the
    delivery slots, with the result files still on disk. A crash before the files are released
    makes the engine call it again on the next start.
    """

    async def job_delivered(self, job: Job, files: list[Path]) -> None:
        """React to a job whose result the member already has."""
        ...


class ChargeHook(Protocol):
    """Quota accounting around a job; ``commit``/``release`` must be idempotent per job id.

    The engine records the decision (commit or release) in the job row in the same write as the
    final state, calls the hook, then records that the hook confirmed. It never calls both, and
    never calls either once confirmed; only a crash between the hook returning and that record
    makes it call the same method again for the same job, hence idempotency per ``job.id``.
    """

    async def reserve(self, job: Job) -> float | None:
        """Reserve the job's cost before anything is sent; return credits, raise to refuse."""
        ...

    async def commit(self, job: Job) -> None:
        """Make the reservation final: the user got the images."""
        ...

    async def release(self, job: Job) -> None:
        """Give the reservation back: the job failed, was cancelled or could not be delivered."""
        ...


class NoCharge:
    """The default charge hook: nothing is reserved or charged."""

    async def reserve(self, job: Job) -> float | None:
        """Reserve nothing."""
        return None

    async def commit(self, job: Job) -> None:
        """Do nothing."""

    async def release(self, job: Job) -> None:
        """Do nothing."""


class NullDelivery:
    """A delivery that drops everything (for benchmarks and tools)."""

    async def progress(self, job: Job) -> None:
        """Ignore progress."""

    async def deliver(self, job: Job, files: list[Path]) -> None:
        """Accept and ignore the files."""

    async def failed(self, job: Job) -> None:
        """Ignore the failure."""

    async def cancelled(self, job: Job, by: str) -> None:
        """Ignore the cancellation."""
