"""The port the generation path needs from storage: what it records about a job for the
front end that asked (the command, who asked, the upload limit, the job a button started from).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["JobDiscordInfo", "JobDiscordStore"]


@dataclass(frozen=True, slots=True)
class JobDiscordInfo:
    """What the Discord layer remembers about a job (the job row holds the rest)."""

    job_id: int
    command: str  # "imagine", "edit", "reroll", "vary", "upscale", "region", "zoom", "pan", "remix"
    requester_name: str = ""
    filesize_limit: int | None = None  # the interaction's attachment size limit, in bytes
    parent_job_id: int | None = None  # the job whose result button started this one


class JobDiscordStore(Protocol):
    """Per-job extras of the Discord layer."""

    async def put(self, info: JobDiscordInfo, *, now: float) -> None:
        """Record (insert or replace) a job's extras."""
        ...

    async def get(self, job_id: int) -> JobDiscordInfo | None:
        """Return a job's extras, or None."""
        ...
