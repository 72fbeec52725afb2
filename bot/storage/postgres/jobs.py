"""The job store on PostgreSQL: rows of ``jobs``, changed only by compare-and-set statements.

Each change is one ``UPDATE jobs ... WHERE id = $n AND state = ANY($m) RETURNING *``: under
READ COMMITTED a concurrent writer to the same row makes this statement wait, then re-check
the ``WHERE`` against the committed row, so of two processes racing a transition exactly one
wins (the other gets None), as with SQLite's single writer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from typing import Any

import asyncpg

from bot.jobs.records import Job, NewJob, ReferenceImage, decode_request, encode_request
from bot.jobs.states import (
    ACTIVE_STATES,
    ChargeState,
    IllegalTransition,
    JobState,
    can_transition,
)
from bot.jobs.store import MUTABLE_JOB_FIELDS, ChargeDecision, Lease
from bot.storage.postgres.connection import PostgresPool

__all__ = ["PostgresJobStore"]


def _json_list(values: Collection[str]) -> str:
    return json.dumps(list(values))


def _json_refs(refs: Collection[ReferenceImage]) -> str:
    return json.dumps([r.to_dict() for r in refs])


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


# field name -> (column, encoder)
_ENCODERS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "references": ("references_json", _json_refs),
    "result_urls": ("result_urls_json", _json_list),
    "files": ("files_json", _json_list),
    "notified": ("notified", bool),
}
# Columns of type DOUBLE PRECISION: asyncpg wants floats there (callers may pass ints).
_FLOAT_FIELDS = {
    "interaction_expires_at",
    "cost",
    "not_before",
    "submitted_at",
    "completed_at",
    "finished_at",
    "deadline_at",
    "result_expires_at",
}

_ACTIVE = sorted(s.value for s in ACTIVE_STATES)
# A job with work left needs an owner: active, or owing a charge call, a notice or listeners.
_WORK_LEFT = (
    "(state = ANY('{" + ",".join(_ACTIVE) + "}'::text[])"
    " OR charge_state IN ('commit_pending', 'release_pending')"
    " OR (state = 'failed' AND NOT notified) OR (state = 'delivered' AND files_json != '[]'))"
)


def _fenced(lease: Lease | None, first: int) -> tuple[str, tuple[Any, ...]]:
    """Return the ``AND`` clause matching only under ``lease`` (numbered from ``first``)."""
    if lease is None:
        return "", ()
    return (
        f" AND lease_owner = ${first} AND lease_fence = ${first + 1}",
        (lease.owner, lease.fence),
    )


def _row_to_job(row: asyncpg.Record) -> Job:
    return Job(
        id=row["id"],
        state=JobState(row["state"]),
        charge_state=ChargeState(row["charge_state"]),
        member_id=row["member_id"],
        request=decode_request(row["request_json"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        interaction_token=row["interaction_token"],
        interaction_expires_at=row["interaction_expires_at"],
        response_message_id=row["response_message_id"],
        references=tuple(ReferenceImage.from_dict(d) for d in json.loads(row["references_json"])),
        attempts=row["attempts"],
        delivery_attempts=row["delivery_attempts"],
        task_id=row["task_id"],
        raw_status=row["raw_status"],
        progress=row["progress"],
        result_urls=tuple(json.loads(row["result_urls_json"])),
        files=tuple(json.loads(row["files_json"])),
        error_code=row["error_code"],
        error_message=row["error_message"],
        cost=row["cost"],
        notified=bool(row["notified"]),
        not_before=row["not_before"],
        submitted_at=row["submitted_at"],
        completed_at=row["completed_at"],
        finished_at=row["finished_at"],
        deadline_at=row["deadline_at"],
        result_expires_at=row["result_expires_at"],
        role_ids=tuple(json.loads(row["role_ids_json"])),
        moderator=bool(row["moderator"]),
        lease_owner=row["lease_owner"],
        lease_until=row["lease_until"],
        lease_fence=int(row["lease_fence"]),
    )


def _states(expected: JobState | Collection[JobState]) -> list[JobState]:
    return [expected] if isinstance(expected, JobState) else list(expected)


def _encode_changes(changes: Mapping[str, Any], first: int) -> tuple[list[str], list[Any]]:
    """Return ``column = $n`` assignments numbered from ``first``, and their values."""
    unknown = set(changes) - MUTABLE_JOB_FIELDS
    if unknown:
        raise ValueError(f"job fields that cannot be changed this way: {sorted(unknown)}")
    columns: list[str] = []
    params: list[Any] = []
    for i, (name, value) in enumerate(changes.items()):
        column, encode = _ENCODERS.get(name, (name, lambda v: v))
        encoded = encode(value)
        if name in _FLOAT_FIELDS:
            encoded = _float_or_none(encoded)
        columns.append(f"{column} = ${first + i}")
        params.append(encoded)
    return columns, params


class PostgresJobStore:
    """Jobs in PostgreSQL; each change is a single compare-and-set ``UPDATE``."""

    def __init__(self, pool: PostgresPool) -> None:
        self._pool = pool

    async def create(
        self, new: NewJob, *, now: float, owner: str | None = None, lease_until: float | None = None
    ) -> Job:
        """Record a new job in ``pending`` with nothing reserved yet, leased to ``owner``."""
        request = new.request
        row = await self._pool.fetchone(
            "INSERT INTO jobs (state, charge_state, guild_id, channel_id, member_id,"
            " interaction_token, interaction_expires_at, response_message_id, request_json,"
            " model, resolution, quality, references_json, created_at, updated_at,"
            " role_ids_json, moderator, lease_owner, lease_until, lease_fence)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,"
            " $18, $19, $20)"
            " RETURNING *",
            (
                JobState.PENDING.value,
                ChargeState.NONE.value,
                new.guild_id,
                new.channel_id,
                new.member_id,
                new.interaction_token,
                _float_or_none(new.interaction_expires_at),
                new.response_message_id,
                encode_request(request),
                request.model,
                request.resolution,
                request.quality,
                _json_refs(new.references),
                float(now),
                float(now),
                json.dumps(list(new.role_ids)),
                bool(new.moderator),
                owner,
                _float_or_none(lease_until) if owner is not None else None,
                1 if owner is not None else 0,
            ),
        )
        assert row is not None
        return _row_to_job(row)

    async def get(self, job_id: int) -> Job | None:
        """Return the job, or None if there is no such job."""
        row = await self._pool.fetchone("SELECT * FROM jobs WHERE id = $1", (job_id,))
        return None if row is None else _row_to_job(row)

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
        """Move the job to ``target`` if it is in ``expected``; return the new job or None."""
        sources = [s for s in _states(expected) if can_transition(s, target)]
        if not sources:
            raise IllegalTransition(_states(expected)[0], target)
        columns, params = _encode_changes(changes, first=3)
        sets = ["state = $1", "updated_at = $2", *columns]
        values: list[Any] = [target.value, float(now), *params]
        if charge is not None:
            # Decided in the same statement as the final state, so a crash cannot split them.
            pending = (
                ChargeState.COMMIT_PENDING if charge == "commit" else ChargeState.RELEASE_PENDING
            )
            n = len(values)
            sets.append(
                f"charge_state = CASE WHEN charge_state = ${n + 1} THEN ${n + 2}"
                " ELSE charge_state END"
            )
            values += [ChargeState.RESERVED.value, pending.value]
        n = len(values)
        fence, fence_params = _fenced(lease, n + 3)
        row = await self._pool.fetchone(
            f"UPDATE jobs SET {', '.join(sets)} WHERE id = ${n + 1} AND state = ANY(${n + 2})"
            f"{fence} RETURNING *",
            (*values, job_id, [s.value for s in sources], *fence_params),
        )
        return None if row is None else _row_to_job(row)

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
        sources = _states(expected)
        columns, params = _encode_changes(changes, first=2)
        n = 1 + len(params)
        fence, fence_params = _fenced(lease, n + 3)
        row = await self._pool.fetchone(
            f"UPDATE jobs SET {', '.join(['updated_at = $1', *columns])}"
            f" WHERE id = ${n + 1} AND state = ANY(${n + 2}){fence} RETURNING *",
            (float(now), *params, job_id, [s.value for s in sources], *fence_params),
        )
        return None if row is None else _row_to_job(row)

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
        fence, fence_params = _fenced(lease, 6)
        row = await self._pool.fetchone(
            "UPDATE jobs SET charge_state = $1, cost = COALESCE($2, cost), updated_at = $3"
            f" WHERE id = $4 AND charge_state = $5{fence} RETURNING *",
            (target.value, _float_or_none(cost), float(now), job_id, expected.value, *fence_params),
        )
        return None if row is None else _row_to_job(row)

    async def list_active(
        self,
        *,
        guild_id: int | None = None,
        member_id: int | None = None,
        limit: int | None = None,
    ) -> list[Job]:
        """Return jobs not yet delivered, failed or cancelled, oldest first (optionally narrowed)."""
        where = ["state = ANY($1)"]
        params: list[Any] = [_ACTIVE]
        if guild_id is not None:
            params.append(guild_id)
            where.append(f"guild_id = ${len(params)}")
        if member_id is not None:
            params.append(member_id)
            where.append(f"member_id = ${len(params)}")
        sql = f"SELECT * FROM jobs WHERE {' AND '.join(where)} ORDER BY id"
        if limit is not None:
            params.append(max(0, limit))
            sql += f" LIMIT ${len(params)}"
        rows = await self._pool.fetchall(sql, params)
        return [_row_to_job(r) for r in rows]

    async def queue_position(
        self, job_id: int, states: Collection[JobState]
    ) -> tuple[int, int] | None:
        """Return (1-based position, total) of the job among jobs in ``states``, or None."""
        wanted = [s.value for s in states]
        if not wanted:
            return None
        row = await self._pool.fetchone(
            "SELECT COUNT(*) FILTER (WHERE id <= $2), COUNT(*), BOOL_OR(id = $2)"
            " FROM jobs WHERE state = ANY($1)",
            (wanted, job_id),
        )
        if row is None or not row[2]:
            return None
        return int(row[0]), int(row[1])

    async def list_followups(self) -> list[Job]:
        """Return delivered jobs whose result files are still recorded (listeners not done)."""
        rows = await self._pool.fetchall(
            "SELECT * FROM jobs WHERE state = 'delivered' AND files_json != '[]' ORDER BY id"
        )
        return [_row_to_job(r) for r in rows]

    async def list_unsettled(self) -> list[Job]:
        """Return final jobs still owing a charge hook call or a failure notice."""
        rows = await self._pool.fetchall(
            "SELECT * FROM jobs WHERE charge_state IN ('commit_pending', 'release_pending')"
            " OR (state = 'failed' AND NOT notified) ORDER BY id"
        )
        return [_row_to_job(r) for r in rows]

    async def count_by_state(self) -> dict[JobState, int]:
        """Return how many jobs are in each state."""
        rows = await self._pool.fetchall("SELECT state, COUNT(*) FROM jobs GROUP BY state")
        return {JobState(r[0]): int(r[1]) for r in rows}

    async def claim(
        self, owner: str, *, now: float, until: float, limit: int, force: bool = False
    ) -> list[Job]:
        """Lease to ``owner`` jobs with work left whose lease is free or expired; return them.

        ``FOR UPDATE SKIP LOCKED``: two processes claiming at once take disjoint jobs, and
        neither waits for the other.
        """
        rows = await self._pool.fetchall(
            "UPDATE jobs SET lease_owner = $1, lease_until = $2, lease_fence = lease_fence + 1"
            f" WHERE id IN (SELECT id FROM jobs WHERE {_WORK_LEFT}"
            " AND ($3 OR lease_until IS NULL OR lease_until < $4)"
            " ORDER BY id LIMIT $5 FOR UPDATE SKIP LOCKED) RETURNING *",
            (owner, float(until), force, float(now), limit),
        )
        return sorted((_row_to_job(r) for r in rows), key=lambda j: j.id)

    async def renew(self, owner: str, *, until: float) -> dict[int, int]:
        """Extend every lease ``owner`` holds on a job with work left; return id -> fence."""
        rows = await self._pool.fetchall(
            f"UPDATE jobs SET lease_until = $1 WHERE lease_owner = $2 AND {_WORK_LEFT}"
            " RETURNING id, lease_fence",
            (float(until), owner),
        )
        return {int(r[0]): int(r[1]) for r in rows}

    async def release_leases(self, owner: str) -> int:
        """End ``owner``'s leases now (a clean stop), so another process may take the jobs."""
        return await self._pool.execute(
            "UPDATE jobs SET lease_until = NULL WHERE lease_owner = $1 AND lease_until IS NOT NULL",
            (owner,),
        )

    async def beat(self, owner: str, *, now: float, window: float) -> int:
        """Record that ``owner`` is alive; return how many owners were seen within ``window``."""
        async with self._pool.transaction() as tx:
            await tx.execute(
                "INSERT INTO engine_nodes (owner, seen_at) VALUES ($1, $2)"
                " ON CONFLICT (owner) DO UPDATE SET seen_at = excluded.seen_at",
                (owner, float(now)),
            )
            await tx.execute(
                "DELETE FROM engine_nodes WHERE seen_at < $1", (float(now - 10 * window),)
            )
            row = await tx.fetchone(
                "SELECT COUNT(*) FROM engine_nodes WHERE seen_at >= $1", (float(now - window),)
            )
        return max(1, int(row[0]) if row is not None else 1)

    async def leave(self, owner: str) -> None:
        """Forget ``owner`` as a live process."""
        await self._pool.execute("DELETE FROM engine_nodes WHERE owner = $1", (owner,))
