"""What the engine needs from the image service, independent of any vendor client."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from bot.toapis.models import GenerationRequest


class TaskPhase(StrEnum):
    """The service's view of a task, reduced to what scheduling needs."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class TaskSnapshot:
    """One answer from the service about a task."""

    id: str
    phase: TaskPhase
    raw_status: str = ""
    progress: int | None = None
    image_urls: tuple[str, ...] = ()
    error_message: str | None = None
    error_code: str | None = None
    created_at: float | None = None
    completed_at: float | None = None
    expires_at: float | None = None

    @property
    def is_final(self) -> bool:
        """Tell whether the task reached completed or failed."""
        return self.phase in (TaskPhase.COMPLETED, TaskPhase.FAILED)


class ServiceErrorKind(StrEnum):
    """How the engine must react to a failed call."""

    INVALID_REQUEST = "invalid_request"  # do not retry; the user's request was refused
    AUTHENTICATION = "authentication"  # do not retry; operator must fix the API key
    INSUFFICIENT_BALANCE = "insufficient_balance"  # do not retry; operator must top up
    NOT_FOUND = "not_found"  # the task or result URL is unknown or expired
    RATE_LIMITED = "rate_limited"  # wait retry_after, then retry
    TRANSIENT = "transient"  # retry with backoff; a POST surely did not create a task
    UNCERTAIN = "uncertain"  # a POST was sent but its answer lost: the task may exist
    TOO_LARGE = "too_large"  # a result is over the size cap


class ServiceError(Exception):
    """A call to the image service failed; ``kind`` says what to do about it."""

    def __init__(
        self, kind: ServiceErrorKind, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after


class ImageService(Protocol):
    """The calls the engine makes; ``ToAPIsService`` adapts the real client to this."""

    async def upload(self, path: Path, filename: str, content_type: str) -> str:
        """Upload a local image and return its public URL."""
        ...

    async def submit(
        self, request: GenerationRequest, image_urls: list[str], mask_url: str | None
    ) -> TaskSnapshot:
        """Send a generation request; return the task the service created."""
        ...

    async def get_task(self, task_id: str) -> TaskSnapshot:
        """Ask once (no retries: the poller owns scheduling) how a task is doing."""
        ...

    async def download(self, url: str, dest: Path, *, max_bytes: int) -> int:
        """Stream a result to ``dest``; return its size in bytes."""
        ...
