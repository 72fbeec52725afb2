"""The ports the Discord layer needs from storage: per-job extras and named values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["JobDiscordInfo", "JobDiscordStore", "MetaStore"]


@dataclass(frozen=True, slots=True)
class JobDiscordInfo:
    """What the Discord layer remembers about a job (the job row holds the rest)."""

    job_id: int
    command: str  # "imagine", "edit", "reroll", "vary", "upscale"
    requester_name: str = ""
    filesize_limit: int | None = None  # the interaction's attachment size limit, in bytes
    parent_job_id: int | None = None  # the job whose result button started this one


class MetaStore(Protocol):
    """Small named text values (e.g. the hash of the last synced command tree)."""

    async def get(self, key: str) -> str | None:
        """Return the value, or None if it was never set."""
        ...

    async def set(self, key: str, value: str, *, now: float) -> None:
        """Set (insert or replace) the value."""
        ...


class JobDiscordStore(Protocol):
    """Per-job extras of the Discord layer."""

    async def put(self, info: JobDiscordInfo, *, now: float) -> None:
        """Record (insert or replace) a job's extras."""
        ...

    async def get(self, job_id: int) -> JobDiscordInfo | None:
        """Return a job's extras, or None."""
        ...
