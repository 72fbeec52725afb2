"""Stores the Discord layer needs besides jobs: the upload cache, named values, job extras."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class JobDiscordInfo:
    """What the Discord layer remembers about a job (the job row holds the rest)."""

    job_id: int
    command: str  # "imagine", "edit", "reroll", "vary", "upscale"
    requester_name: str = ""
    filesize_limit: int | None = None  # the interaction's attachment size limit, in bytes
    parent_job_id: int | None = None  # the job whose result button started this one


class UploadCacheStore(Protocol):
    """URLs of uploaded images by the SHA-256 of their bytes."""

    async def get(self, sha256: str, *, fresh_after: float) -> str | None:
        """Return the URL of these bytes if they were uploaded after ``fresh_after``."""
        ...

    async def put(self, sha256: str, url: str, *, now: float) -> None:
        """Remember (or refresh) the URL of these bytes."""
        ...

    async def prune(self, *, older_than: float) -> int:
        """Forget uploads made before ``older_than``; return how many."""
        ...


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
