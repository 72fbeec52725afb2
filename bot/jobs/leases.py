"""Leases: every job with work left is driven by exactly one live engine process.

Design (issue 10):

* A job row carries ``lease_owner``, ``lease_until`` and ``lease_fence``. The process that
  records a job owns it (fence 1). Every ``heartbeat`` seconds (a third of the lease) the owner
  renews all its leases in one statement; a process that dies stops renewing, and once
  ``lease_until`` has passed any other process's claim (``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL) takes the job, incrementing the fence, and resumes it from its recorded state by
  the same rules as a restart (``bot.jobs.recovery``): it polls a stored task id, never
  resubmits a submission in doubt, redelivers a delivery that was in flight.
* Fencing: the engine's writes to a job it holds go through ``LeasedJobs``, which adds
  ``lease_owner = me AND lease_fence = mine`` to the compare-and-set. A process that stalled past
  its lease and wakes up can no longer write the job: its next write matches nothing and it
  stops, exactly like losing any other race. Its renew comes back without the job, and it drops
  the job from memory (stops polling it).
* Writes to jobs this process does not hold (a member pressing Cancel on another shard's job)
  stay plain state compare-and-sets: the owner's next fenced write then fails on the state.
* One request budget: each process records itself in ``engine_nodes`` at every heartbeat and
  polls at ``poll_rate / live processes``, so adding processes does not multiply the rate.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection
from typing import Any

from bot.jobs.records import Job, NewJob
from bot.jobs.states import ChargeState, JobState
from bot.jobs.store import ChargeDecision, JobStore, Lease

log = logging.getLogger(__name__)

__all__ = ["LeasedJobs", "new_owner_id"]


def new_owner_id() -> str:
    """Return a fresh identity for one engine process's lifetime."""
    return uuid.uuid4().hex[:16]


class LeasedJobs:
    """A ``JobStore`` whose writes to jobs this process holds are fenced by its lease."""

    def __init__(self, store: JobStore, owner: str, *, lease_seconds: float) -> None:
        self.store = store
        self.owner = owner
        self.lease_seconds = lease_seconds
        self._held: dict[int, int] = {}  # job id -> fence

    # -- what this process holds ----------------------------------------------------------------

    def holds(self, job_id: int) -> bool:
        """Return whether this process holds the job's lease (as far as it knows)."""
        return job_id in self._held

    @property
    def held(self) -> Collection[int]:
        """Return the ids of the jobs this process holds."""
        return self._held.keys()

    def drop(self, job_id: int) -> None:
        """Stop holding the job (it ended, or its lease was lost)."""
        self._held.pop(job_id, None)

    def _lease(self, job_id: int) -> Lease | None:
        fence = self._held.get(job_id)
        return None if fence is None else Lease(self.owner, fence)

    def _adopt(self, job: Job) -> None:
        if job.lease_owner == self.owner and job.lease_fence:
            self._held[job.id] = job.lease_fence

    async def take(self, *, now: float, limit: int, force: bool = False) -> list[Job]:
        """Take free or expired leases; return the jobs now held."""
        jobs = await self.store.claim(
            self.owner, now=now, until=now + self.lease_seconds, limit=limit, force=force
        )
        for job in jobs:
            self._adopt(job)
        return jobs

    async def keep(self, *, now: float) -> list[int]:
        """Extend this process's leases; return the ids of held jobs whose lease was lost."""
        kept = await self.store.renew(self.owner, until=now + self.lease_seconds)
        lost = [
            job_id for job_id, fence in self._held.items() if kept.get(job_id, fence - 1) != fence
        ]
        for job_id in lost:
            self._held.pop(job_id, None)
        # Jobs that ended meanwhile are not renewed; jobs renewed but unknown stay unknown.
        return lost

    async def let_go(self) -> int:
        """End every lease this process holds (a clean stop)."""
        self._held.clear()
        return await self.store.release_leases(self.owner)

    # -- the JobStore port, fenced --------------------------------------------------------------

    async def create(
        self, new: NewJob, *, now: float, owner: str | None = None, lease_until: float | None = None
    ) -> Job:
        """Record a new job, held by this process."""
        job = await self.store.create(
            new, now=now, owner=self.owner, lease_until=now + self.lease_seconds
        )
        self._adopt(job)
        return job

    async def get(self, job_id: int) -> Job | None:
        """Return the job, or None."""
        return await self.store.get(job_id)

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
        """Transition the job, fenced by this process's lease when it holds one."""
        return await self.store.transition(
            job_id,
            expected,
            target,
            now=now,
            charge=charge,
            lease=lease or self._lease(job_id),
            **changes,
        )

    async def update(
        self,
        job_id: int,
        expected: JobState | Collection[JobState],
        *,
        now: float,
        lease: Lease | None = None,
        **changes: Any,
    ) -> Job | None:
        """Update the job, fenced by this process's lease when it holds one."""
        return await self.store.update(
            job_id, expected, now=now, lease=lease or self._lease(job_id), **changes
        )

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
        """Move the job's charge state, fenced by this process's lease when it holds one."""
        return await self.store.set_charge(
            job_id, expected, target, now=now, cost=cost, lease=lease or self._lease(job_id)
        )

    async def list_active(
        self,
        *,
        guild_id: int | None = None,
        member_id: int | None = None,
        limit: int | None = None,
    ) -> list[Job]:
        """Return active jobs of every process."""
        return await self.store.list_active(guild_id=guild_id, member_id=member_id, limit=limit)

    async def queue_position(
        self, job_id: int, states: Collection[JobState]
    ) -> tuple[int, int] | None:
        """Return the job's position among jobs in ``states`` (every process's)."""
        return await self.store.queue_position(job_id, states)

    async def list_followups(self) -> list[Job]:
        """Return delivered jobs whose listeners are not done (every process's)."""
        return await self.store.list_followups()

    async def list_unsettled(self) -> list[Job]:
        """Return final jobs still owing a charge call or notice (every process's)."""
        return await self.store.list_unsettled()

    async def count_by_state(self) -> dict[JobState, int]:
        """Return how many jobs are in each state."""
        return await self.store.count_by_state()

    async def release_leases(self, owner: str) -> int:
        """End ``owner``'s leases."""
        return await self.store.release_leases(owner)

    async def claim(
        self, owner: str, *, now: float, until: float, limit: int, force: bool = False
    ) -> list[Job]:
        """Lease jobs to ``owner`` (the raw port call; the engine uses ``take``)."""
        return await self.store.claim(owner, now=now, until=until, limit=limit, force=force)

    async def renew(self, owner: str, *, until: float) -> dict[int, int]:
        """Extend ``owner``'s leases (the raw port call; the engine uses ``keep``)."""
        return await self.store.renew(owner, until=until)

    async def beat(self, owner: str, *, now: float, window: float) -> int:
        """Record that ``owner`` is alive; return the number of live processes."""
        return await self.store.beat(owner, now=now, window=window)

    async def leave(self, owner: str) -> None:
        """Forget ``owner`` as a live process."""
        await self.store.leave(owner)
