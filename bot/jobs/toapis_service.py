"""Adapt the ToAPIs client to the engine's ``ImageService`` (errors and tasks translated)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.jobs.service import ServiceError, ServiceErrorKind, TaskPhase, TaskSnapshot
from bot.toapis import GenerationRequest, Task, TaskStatus, ToAPIsClient
from bot.toapis.errors import (
    AuthenticationError,
    InsufficientBalanceError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    ResultTooLargeError,
    SubmissionUncertainError,
    ToAPIsError,
    TransientError,
)

_PHASES = {
    TaskStatus.QUEUED: TaskPhase.QUEUED,
    TaskStatus.RUNNING: TaskPhase.RUNNING,
    TaskStatus.COMPLETED: TaskPhase.COMPLETED,
    TaskStatus.FAILED: TaskPhase.FAILED,
}


def snapshot_from_task(task: Task) -> TaskSnapshot:
    """Reduce a client ``Task`` to what the engine uses."""
    return TaskSnapshot(
        id=task.id,
        phase=_PHASES.get(task.status, TaskPhase.RUNNING),
        raw_status=task.raw_status,
        progress=task.progress,
        image_urls=tuple(task.image_urls),
        error_message=task.error_message,
        error_code=task.error_code,
        created_at=None if task.created_at is None else float(task.created_at),
        completed_at=None if task.completed_at is None else float(task.completed_at),
        expires_at=None if task.expires_at is None else float(task.expires_at),
    )


def service_error(exc: ToAPIsError) -> ServiceError:
    """Translate a client error to the engine's error kinds."""
    # Order matters: SubmissionUncertainError is a TransientError.
    kind = ServiceErrorKind.TRANSIENT
    retry_after: float | None = None
    if isinstance(exc, SubmissionUncertainError):
        kind = ServiceErrorKind.UNCERTAIN
    elif isinstance(exc, RateLimitedError):
        kind = ServiceErrorKind.RATE_LIMITED
        retry_after = exc.retry_after
    elif isinstance(exc, TransientError):
        kind = ServiceErrorKind.TRANSIENT
    elif isinstance(exc, NotFoundError):
        kind = ServiceErrorKind.NOT_FOUND
    elif isinstance(exc, InvalidRequestError):
        kind = ServiceErrorKind.INVALID_REQUEST
    elif isinstance(exc, AuthenticationError):
        kind = ServiceErrorKind.AUTHENTICATION
    elif isinstance(exc, InsufficientBalanceError):
        kind = ServiceErrorKind.INSUFFICIENT_BALANCE
    elif isinstance(exc, ResultTooLargeError):
        kind = ServiceErrorKind.TOO_LARGE
    return ServiceError(kind, exc.message, retry_after=retry_after)


@asynccontextmanager
async def _translated() -> AsyncIterator[None]:
    try:
        yield
    except ToAPIsError as exc:
        raise service_error(exc) from exc


class ToAPIsService:
    """The engine's view of ToAPIs, backed by a ``ToAPIsClient``."""

    def __init__(self, client: ToAPIsClient, *, download_timeout: float | None = None) -> None:
        self._client = client
        self._download_timeout = download_timeout

    async def upload(self, path: Path, filename: str, content_type: str) -> str:
        """Upload a local image and return its public URL."""
        data = await asyncio.to_thread(path.read_bytes)
        async with _translated():
            uploaded = await self._client.upload_image(data, filename, content_type)
        return uploaded.url

    async def submit(
        self, request: GenerationRequest, image_urls: list[str], mask_url: str | None
    ) -> TaskSnapshot:
        """Send a generation request with the uploaded references filled in."""
        update: dict[str, object] = {}
        if image_urls:
            update["image_urls"] = [*(request.image_urls or []), *image_urls]
        if mask_url:
            update["mask_url"] = mask_url
        if update:
            request = request.model_copy(update=update)
        async with _translated():
            task = await self._client.submit(request)
        return snapshot_from_task(task)

    async def get_task(self, task_id: str) -> TaskSnapshot:
        """Ask once: the poller owns retries and backoff."""
        async with _translated():
            task = await self._client.get_task(task_id, retries=0)
        return snapshot_from_task(task)

    async def download(self, url: str, dest: Path, *, max_bytes: int) -> int:
        """Stream a result file to ``dest``."""
        async with _translated():
            return await self._client.download(
                url, dest, max_bytes=max_bytes, timeout=self._download_timeout
            )
