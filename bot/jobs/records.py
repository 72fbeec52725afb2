"""The job record: who asked, what for, and how far it got."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from bot.jobs.states import FINAL_STATES, ChargeState, JobState
from bot.toapis.models import GenerationRequest


@dataclass(frozen=True, slots=True)
class ReferenceImage:
    """An input image: a local file to upload, or one already uploaded (``url`` set)."""

    filename: str
    content_type: str
    path: str | None = None
    url: str | None = None
    role: Literal["image", "mask"] = "image"

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form stored in the job row."""
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "path": self.path,
            "url": self.url,
            "role": self.role,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReferenceImage:
        """Build one from its stored form."""
        return cls(
            filename=data["filename"],
            content_type=data["content_type"],
            path=data.get("path"),
            url=data.get("url"),
            role=data.get("role", "image"),
        )


def encode_request(request: GenerationRequest) -> str:
    """Return the stored (JSON) form of a request; ``decode_request`` reads it back."""
    return request.model_dump_json(exclude_none=True)


def decode_request(text: str) -> GenerationRequest:
    """Parse a stored request (the one place a job's request JSON is read)."""
    return GenerationRequest.model_validate_json(text)


@dataclass(frozen=True, slots=True)
class NewJob:
    """What the Discord layer hands the engine: who asked and the validated request.

    ``role_ids`` and ``moderator`` travel with the job so that the reservation needs no
    earlier write (nothing is written before the interaction is acknowledged).
    """

    member_id: int
    request: GenerationRequest
    guild_id: int | None = None
    channel_id: int | None = None
    interaction_token: str | None = field(default=None, repr=False)
    interaction_expires_at: float | None = None
    response_message_id: int | None = None
    references: tuple[ReferenceImage, ...] = ()
    role_ids: tuple[int, ...] = ()
    moderator: bool = False


@dataclass(frozen=True, slots=True)
class Job:
    """A stored job; immutable — every change goes through the store and returns a new one."""

    id: int
    state: JobState
    charge_state: ChargeState
    member_id: int
    request: GenerationRequest
    created_at: float
    updated_at: float
    guild_id: int | None = None
    channel_id: int | None = None
    interaction_token: str | None = field(default=None, repr=False)
    interaction_expires_at: float | None = None
    response_message_id: int | None = None
    references: tuple[ReferenceImage, ...] = ()
    attempts: int = 0
    delivery_attempts: int = 0
    task_id: str | None = None
    raw_status: str | None = None
    progress: int | None = None
    result_urls: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    error_code: str | None = None
    error_message: str | None = None
    cost: float | None = None
    notified: bool = False
    not_before: float | None = None
    submitted_at: float | None = None
    completed_at: float | None = None
    finished_at: float | None = None
    deadline_at: float | None = None
    result_expires_at: float | None = None
    role_ids: tuple[int, ...] = ()
    moderator: bool = False
    lease_owner: str | None = None  # the engine process driving the job (see bot.jobs.leases)
    lease_until: float | None = None
    lease_fence: int = 0  # +1 at every claim: a stale owner's fenced writes then match nothing

    @property
    def model(self) -> str:
        """Return the model the job asked for."""
        return self.request.model

    @property
    def resolution(self) -> str | None:
        """Return the resolution the job asked for (None: the service's default)."""
        return self.request.resolution

    @property
    def quality(self) -> str | None:
        """Return the quality the job asked for (None: the service's default)."""
        return self.request.quality

    @property
    def is_final(self) -> bool:
        """Tell whether the job reached delivered, failed or cancelled."""
        return self.state in FINAL_STATES

    @property
    def profile(self) -> str:
        """Return the key under which typical durations are learned (model/resolution/quality)."""
        return f"{self.model}/{self.resolution or '-'}/{self.quality or '-'}"

    def with_changes(self, **changes: Any) -> Job:
        """Return a copy with ``changes`` applied (used by in-memory stores and tests)."""
        return replace(self, **changes)
