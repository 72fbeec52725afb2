"""The ports the job engine needs from storage: jobs, learned durations, the upload cache.

``bot.storage`` implements them; nothing here knows SQL.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from bot.jobs.records import Job, NewJob
from bot.jobs.states import ChargeState, JobState

__all__ = [
    "MUTABLE_JOB_FIELDS",
    "ChargeDecision",
    "DurationStat",
    "DurationStatsStore",
    "JobStore",
    "Lease",
    "UploadCacheStore",
]

ChargeDecision = Literal["commit", "release"]

# The fields a transition or update may change; anything else is refused.
MUTABLE_JOB_FIELDS: frozenset[str] = frozenset(
    {
        "references",
        "attempts",
        "delivery_attempts",
        "task_id",
        "raw_status",
        "progress",
        "result_urls",
        "files",
        "error_code",
        "error_message",
        "notified",
        "not_before",
        "submitted_at",
        "completed_at",
        "finished_at",
        "deadline_at",
        "result_expires_at",
        "response_message_id",
        "interaction_token",
    }
)


@dataclass(frozen=True, slots=True)
class DurationStat:
    """Learned duration of tasks of one profile: mean and variance of the log of seconds."""

    mean_log: float
    var_log: float
    samples: int


@dataclass(frozen=True, slots=True)
class Lease:
    """A process's claim on a job: writes made under it match only while it is current."""

    owner: str
    fence: int


class JobStore(Protocol):
    """Keep job records; every change is compare-and-set on the job's current state."""

    async def create(
        self, new: NewJob, *, now: float, owner: str | None = None, lease_until: float | None = None
    ) -> Job:
        """Record a new job in ``pending`` with nothing reserved yet, leased to ``owner``."""
        ...

    async def get(self, job_id: int) -> Job | None:
        """Return the job, or None if there is no such job."""
        ...

    async def transition(
        self,
        job_id: int,
        expected: JobState | Collection[JobState],
        target: JobState,
        *,
        now: float,
        charge: ChargeDecision | None = None,
        lease: Lease | None = None,
        **changes: Any,
    ) -> Job | None:
        """Move the job to ``target`` if it is in ``expected``; return the new job or None.

        With ``lease``, the write matches only while that lease is the job's current one.
        ``charge`` records the charge decision (reserved -> commit/release pending) in the same
        atomic write. Raises ``IllegalTransition`` if no state in ``expected`` may go to ``target``.
        """
        ...

    async def update(
        self,
        job_id: int,
        expected: JobState | Collection[JobState],
        *,
        now: float,
        lease: Lease | None = None,
        **changes: Any,
    ) -> Job | None:
        """Change fields without changing state, if the job is in ``expected``."""
        ...

    async def set_charge(
        self,
        job_id: int,
        expected: ChargeState,
        target: ChargeState,
        *,
        now: float,
        cost: float | None = None,
        lease: Lease | None = None,
    ) -> Job | None:
        """Move the charge state from ``expected`` to ``target``; return the job or None."""
        ...

    async def list_active(
        self,
        *,
        guild_id: int | None = None,
        member_id: int | None = None,
        limit: int | None = None,
    ) -> list[Job]:
        """Return jobs not yet delivered, failed or cancelled, oldest first.

        ``guild_id`` / ``member_id`` narrow the list (filtered in the database), ``limit`` caps it.
        """
        ...

    async def queue_position(
        self, job_id: int, states: Collection[JobState]
    ) -> tuple[int, int] | None:
        """Return (1-based position, total) of the job among jobs in ``states``, or None."""
        ...

    async def list_followups(self) -> list[Job]:
        """Return delivered jobs whose result files are still recorded (listeners not done)."""
        ...

    async def list_unsettled(self) -> list[Job]:
        """Return final jobs still owing a charge hook call or a failure notice."""
        ...

    async def count_by_state(self) -> dict[JobState, int]:
        """Return how many jobs are in each state."""
        ...

    async def claim(
        self, owner: str, *, now: float, until: float, limit: int, force: bool = False
    ) -> list[Job]:
        """Lease to ``owner`` jobs with work left whose lease is free or expired; return them.

        Work left: active, or final with a charge hook call, a failure notice or listeners
        still owed. Each claim increments the job's fence. Rows another claimer holds locked
        are skipped. ``force`` takes every such job whatever its lease (one process only).
        """
        ...

    async def renew(self, owner: str, *, until: float) -> dict[int, int]:
        """Extend every lease ``owner`` holds on a job with work left; return id -> fence."""
        ...

    async def release_leases(self, owner: str) -> int:
        """End ``owner``'s leases now (a clean stop), so another process may take the jobs."""
        ...

    async def beat(self, owner: str, *, now: float, window: float) -> int:
        """Record that ``owner`` is alive; return how many owners were seen within ``window``."""
        ...

    async def leave(self, owner: str) -> None:
        """Forget ``owner`` as a live process."""
        ...


class DurationStatsStore(Protocol):
    """Keep learned task durations across restarts."""

    async def load(self) -> dict[str, DurationStat]:
        """Return every stored profile's statistics."""
        ...

    async def save(self, stats: Mapping[str, DurationStat], *, now: float) -> None:
        """Store (insert or replace) the given profiles' statistics."""
        ...


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
