"""What callers may ask of storage; backends (SQLite today) implement these protocols."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from bot.guild_settings.records import GuildSettingsRow
from bot.jobs.records import Job, NewJob
from bot.jobs.states import ChargeState, JobState
from bot.quota.records import (
    AuditEntry,
    ChargeRecord,
    GuildQuotaRow,
    MemberRules,
    Reservation,
    ReserveResult,
    Usage,
    UsageReport,
)
from bot.storage.extras import JobDiscordStore, MetaStore, UploadCacheStore

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
    }
)


@dataclass(frozen=True, slots=True)
class DurationStat:
    """Learned duration of tasks of one profile: mean and variance of the log of seconds."""

    mean_log: float
    var_log: float
    samples: int


class JobStore(Protocol):
    """Keep job records; every change is compare-and-set on the job's current state."""

    async def create(self, new: NewJob, *, now: float) -> Job:
        """Record a new job in ``pending`` with nothing reserved yet."""
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
        **changes: Any,
    ) -> Job | None:
        """Move the job to ``target`` if it is in ``expected``; return the new job or None.

        ``charge`` records the charge decision (reserved -> commit/release pending) in the same
        atomic write. Raises ``IllegalTransition`` if no state in ``expected`` may go to ``target``.
        """
        ...

    async def update(
        self, job_id: int, expected: JobState | Collection[JobState], *, now: float, **changes: Any
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
    ) -> Job | None:
        """Move the charge state from ``expected`` to ``target``; return the job or None."""
        ...

    async def list_active(self) -> list[Job]:
        """Return every job not yet delivered, failed or cancelled, oldest first."""
        ...

    async def list_unsettled(self) -> list[Job]:
        """Return final jobs still owing a charge hook call or a failure notice."""
        ...

    async def count_by_state(self) -> dict[JobState, int]:
        """Return how many jobs are in each state."""
        ...


class DurationStatsStore(Protocol):
    """Keep learned task durations across restarts."""

    async def load(self) -> dict[str, DurationStat]:
        """Return every stored profile's statistics."""
        ...

    async def save(self, stats: Mapping[str, DurationStat], *, now: float) -> None:
        """Store (insert or replace) the given profiles' statistics."""
        ...


class QuotaStore(Protocol):
    """Budgets, grants and per-job reservations; changes by moderators are audited.

    Stored limits: None = not configured (the operator's default applies), -1 = unlimited.
    """

    async def get_guild(self, guild_id: int) -> GuildQuotaRow: ...

    async def update_guild(
        self, guild_id: int, *, actor_id: int, now: float, **changes: Any
    ) -> tuple[GuildQuotaRow, GuildQuotaRow]:
        """Change pool_daily, pool_monthly, member_daily, exempt_moderators or timezone."""
        ...

    async def role_caps(self, guild_id: int) -> dict[int, int]: ...

    async def member_caps(self, guild_id: int) -> dict[int, int]: ...

    async def set_role_cap(
        self, guild_id: int, role_id: int, daily: int | None, *, actor_id: int, now: float
    ) -> int | None: ...

    async def set_member_cap(
        self, guild_id: int, member_id: int, daily: int | None, *, actor_id: int, now: float
    ) -> int | None: ...

    async def grant(
        self, guild_id: int, member_id: int, credits: int, *, actor_id: int, now: float
    ) -> int: ...

    async def remember_member(
        self, guild_id: int, member_id: int, role_ids: Collection[int], moderator: bool, now: float
    ) -> None: ...

    async def member_rules(
        self,
        guild_id: int,
        member_id: int,
        role_ids: Collection[int] | None = None,
        moderator: bool | None = None,
    ) -> MemberRules: ...

    async def usage(self, guild_id: int, member_id: int, day_key: str, month_key: str) -> Usage: ...

    async def reserve(self, r: Reservation) -> ReserveResult:
        """Check every budget and record the charge atomically; idempotent per job id."""
        ...

    async def commit(self, job_id: int, *, now: float) -> bool:
        """reserved -> committed; True if this call changed it."""
        ...

    async def release(self, job_id: int, *, now: float) -> bool:
        """reserved -> released, giving the credits back; True if this call changed it."""
        ...

    async def get_charge(self, job_id: int) -> ChargeRecord | None: ...

    async def reset(
        self,
        guild_id: int,
        member_id: int | None,
        day_key: str,
        month_key: str,
        *,
        actor_id: int,
        now: float,
    ) -> int: ...

    async def report(self, guild_id: int, day_keys: list[str], *, top: int = 5) -> UsageReport: ...


class GuildSettingsStore(Protocol):
    """Art channels, gallery, defaults, limits, blocklist; every change is audited."""

    async def get(self, guild_id: int) -> GuildSettingsRow: ...

    async def update(
        self, guild_id: int, *, actor_id: int, now: float, **changes: Any
    ) -> tuple[GuildSettingsRow, GuildSettingsRow]: ...

    async def add_channel(
        self, guild_id: int, channel_id: int, *, actor_id: int, now: float
    ) -> bool: ...

    async def remove_channel(
        self, guild_id: int, channel_id: int, *, actor_id: int, now: float
    ) -> bool: ...

    async def add_term(self, guild_id: int, term: str, *, actor_id: int, now: float) -> bool: ...

    async def remove_term(self, guild_id: int, term: str, *, actor_id: int, now: float) -> bool: ...

    async def audit(
        self, guild_id: int, *, limit: int = 20, before_id: int | None = None
    ) -> list[AuditEntry]: ...


class Database(Protocol):
    """An open database: its repositories and its schema version."""

    @property
    def jobs(self) -> JobStore: ...

    @property
    def durations(self) -> DurationStatsStore: ...

    @property
    def quotas(self) -> QuotaStore: ...

    @property
    def guild_settings(self) -> GuildSettingsStore: ...

    @property
    def uploads(self) -> UploadCacheStore: ...

    @property
    def meta(self) -> MetaStore: ...

    @property
    def job_discord(self) -> JobDiscordStore: ...

    @property
    def schema_version(self) -> int: ...

    async def close(self) -> None:
        """Close the connection; pending writes are already committed."""
        ...
