"""Typed requests and responses of the ToAPIs image API, parsed tolerantly."""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

log = logging.getLogger(__name__)

__all__ = [
    "GenerationRequest",
    "Task",
    "TaskStatus",
    "UploadedImage",
    "collect_result_urls",
    "parse_status",
]


class GenerationRequest(BaseModel):
    """The body of ``POST /v1/images/generations``; fields left as None are not sent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    prompt: str
    size: str | None = None
    resolution: str | None = None
    quality: str | None = None
    output_format: str | None = None
    output_compression: StrictInt | None = None
    n: StrictInt = 1
    image_urls: list[str] | None = None
    mask_url: str | None = None

    @field_validator("image_urls")
    @classmethod
    def _no_empty_list(cls, value: list[str] | None) -> list[str] | None:
        # The service refuses an empty array; no references means leaving the field out.
        return value or None

    def to_payload(self) -> dict[str, Any]:
        """Return the JSON body, leaving out what was not set."""
        return self.model_dump(exclude_none=True)


class TaskStatus(enum.StrEnum):
    """Where a task is, folded from every spelling the service uses."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


_STATUS_SPELLINGS: dict[str, TaskStatus] = {
    "submitted": TaskStatus.QUEUED,
    "queued": TaskStatus.QUEUED,
    "pending": TaskStatus.QUEUED,
    "waiting": TaskStatus.QUEUED,
    "in_progress": TaskStatus.RUNNING,
    "in-progress": TaskStatus.RUNNING,
    "inprogress": TaskStatus.RUNNING,
    "processing": TaskStatus.RUNNING,
    "running": TaskStatus.RUNNING,
    "completed": TaskStatus.COMPLETED,
    "complete": TaskStatus.COMPLETED,
    "succeeded": TaskStatus.COMPLETED,
    "success": TaskStatus.COMPLETED,
    "failed": TaskStatus.FAILED,
    "failure": TaskStatus.FAILED,
    "error": TaskStatus.FAILED,
    "cancelled": TaskStatus.FAILED,
    "canceled": TaskStatus.FAILED,
}
_warned_statuses: set[str] = set()


def parse_status(raw: object) -> TaskStatus:
    """Map a status spelling to a ``TaskStatus``; unknown ones count as still running."""
    key = str(raw or "").strip().lower()
    status = _STATUS_SPELLINGS.get(key)
    if status is not None:
        return status
    if key not in _warned_statuses:
        _warned_statuses.add(key)
        log.warning("unknown task status %r from ToAPIs; treating it as still running", key[:40])
    return TaskStatus.RUNNING


def _urls_in(value: object) -> Iterable[str]:
    if isinstance(value, str):
        if value:
            yield value
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, str) and item:
                yield item


def _entries(value: object) -> Iterable[Mapping[str, Any]]:
    if isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping):
                yield item
    elif isinstance(value, Mapping):
        yield value


def collect_result_urls(payload: Mapping[str, Any]) -> list[str]:
    """Gather result image URLs from every place the contract lists, de-duplicated in order."""
    found: list[str] = []
    found.extend(_urls_in(payload.get("url")))
    result = payload.get("result")
    if isinstance(result, Mapping):
        found.extend(_urls_in(result.get("url")))
        for key in ("data", "images"):
            for entry in _entries(result.get(key)):
                found.extend(_urls_in(entry.get("url")))
    return list(dict.fromkeys(found))


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


class Task(BaseModel):
    """A generation task as the client understands it."""

    model_config = ConfigDict(frozen=True)

    id: str
    status: TaskStatus
    raw_status: str
    progress: int | None = None
    model: str | None = None
    image_urls: list[str] = Field(default_factory=list)
    error_message: str | None = None
    error_code: str | None = None
    created_at: int | None = None
    completed_at: int | None = None
    expires_at: int | None = None
    revised_prompt: str | None = None

    @property
    def is_final(self) -> bool:
        return self.status in (TaskStatus.COMPLETED, TaskStatus.FAILED)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Task:
        """Parse a task object, tolerating every shape the contract allows."""
        task_id = payload.get("id") or payload.get("task_id")
        if not isinstance(task_id, str | int) or task_id == "":
            raise ValueError("task has no id")
        raw_status = str(payload.get("status") or "")
        progress = _int_or_none(payload.get("progress"))
        if progress is not None:
            progress = max(0, min(100, progress))
        error_message: str | None = None
        error_code: str | None = None
        err = payload.get("error")
        if isinstance(err, Mapping):
            msg = err.get("message")
            error_message = " ".join(str(msg).split())[:500] if msg else None
            code = err.get("code") or err.get("type")
            error_code = str(code) if code is not None else None
        elif isinstance(err, str) and err:
            error_message = " ".join(err.split())[:500]
        result = payload.get("result")
        expires_at = _int_or_none(payload.get("expires_at"))
        if expires_at is None and isinstance(result, Mapping):
            # The related platform puts expiry on each image: keep the earliest.
            times = [
                t
                for key in ("data", "images")
                for e in _entries(result.get(key))
                if (t := _int_or_none(e.get("expires_at"))) is not None
            ]
            expires_at = min(times) if times else None
        revised = payload.get("revised_prompt")
        return cls(
            id=str(task_id),
            status=parse_status(raw_status),
            raw_status=raw_status,
            progress=progress,
            model=payload.get("model") if isinstance(payload.get("model"), str) else None,
            image_urls=collect_result_urls(payload),
            error_message=error_message,
            error_code=error_code,
            created_at=_int_or_none(payload.get("created_at")),
            completed_at=_int_or_none(payload.get("completed_at")),
            expires_at=expires_at,
            revised_prompt=revised if isinstance(revised, str) else None,
        )


class UploadedImage(BaseModel):
    """A file re-hosted by the upload endpoint; its URL can go into ``image_urls``."""

    model_config = ConfigDict(frozen=True)

    id: str | None = None
    url: str
    mime_type: str | None = None
    size: int | None = None
