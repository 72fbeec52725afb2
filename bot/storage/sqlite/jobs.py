"""The job store: rows of ``jobs``, changed only by compare-and-set statements."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection, Mapping
from typing import Any

from bot.jobs.records import Job, NewJob, ReferenceImage, decode_request, encode_request
from bot.jobs.states import (
    ACTIVE_STATES,
    ChargeState,
    IllegalTransition,
    JobState,
    can_transition,
)
from bot.jobs.store import MUTABLE_JOB_FIELDS, ChargeDecision, Lease
from bot.storage.sqlite.connection import SQLiteConnection

__all__ = ["SQLiteJobStore"]


def _json_list(values: Collection[str]) -> str:
    return json.dumps(list(values))


def _json_refs(refs: Collection[ReferenceImage]) -> str:
    return json.dumps([r.to_dict() for r in refs])


# field name -> (column, encoder)
_ENCODERS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "references": ("references_json", _json_refs),
    "result_urls": ("result_urls_json", _json_list),
    "files": ("files_json", _json_list),
    "notified": ("notified", lambda v: 1 if v else 0),
}

_ACTIVE_SQL = ", ".join(f"'{s.value}'" for s in sorted(ACTIVE_STATES))
# A job with work left needs an owner: active, or owing a charge call, a notice or listeners.
_WORK_LEFT = (
    f"(state IN ({_ACTIVE_SQL}) OR charge_state IN ('commit_pending', 'release_pending')"
    " OR (state = 'failed' AND notified = 0) OR (state = 'delivered' AND files_json != '[]'))"
)


def _fenced(lease: Lease | None) -> tuple[str, tuple[Any, ...]]:
    if lease is None:
        return "", ()
    return " AND lease_owner = ? AND lease_fence = ?", (lease.owner, lease.fence)


def _row_to_job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        state=JobState(row["state"]),
        charge_state=ChargeState(row["charge_state"]),
        member_id=row["member_id"],
        request=decode_request(row["request_json"]),
        created_at=_float(row["created_at"]),
        updated_at=_float(row["updated_at"]),
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        interaction_token=row["interaction_token"],
        interaction_expires_at=_float(row["interaction_expires_at"]),
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
        cost=_float(row["cost"]),
        notified=bool(row["notified"]),
        not_before=_float(row["not_before"]),
        submitted_at=_float(row["submitted_at"]),
        completed_at=_float(row["completed_at"]),
        finished_at=_float(row["finished_at"]),
        deadline_at=_float(row["deadline_at"]),
        result_expires_at=_float(row["result_expires_at"]),
        role_ids=tuple(json.loads(row["role_ids_json"])),
        moderator=bool(row["moderator"]),
        lease_owner=row["lease_owner"],
        lease_until=_float(row["lease_until"]),
        lease_fence=int(row["lease_fence"]),
    )


def _float(value: Any) -> Any:
    # RETURNING yields values before column affinity applies, so 1.0 can come back as 1.
    return None if value is None else float(value)


def _states(expected: JobState | Collection[JobState]) -> list[JobState]:
    return [expected] if isinstance(expected, JobState) else list(expected)


def _encode_changes(changes: Mapping[str, Any]) -> tuple[list[str], list[Any]]:
    unknown = set(changes) - MUTABLE_JOB_FIELDS
    if unknown:
        raise ValueError(f"job fields that cannot be changed this way: {sorted(unknown)}")
    columns: list[str] = []
    params: list[Any] = []
    for name, value in changes.items():
        column, encode = _ENCODERS.get(name, (name, lambda v: v))
        columns.append(f"{column} = ?")
        params.append(encode(value))
    return columns, params


class SQLiteJobStore:
    """Jobs in SQLite; each change is a single ``UPDATE ... WHERE id=? AND state IN (...)``.

    Every statement goes through the database's one ``SQLiteConnection``, so a compare-and-set
    never lands inside another store's open transaction.
    """

    def __init__(self, conn: SQLiteConnection) -> None:
        self._conn = conn

    async def create(
        self, new: NewJob, *, now: float, owner: str | None = None, lease_until: float | None = None
    ) -> Job:
        """Record a new job in ``pending`` with nothing reserved yet, leased to ``owner``."""
        request = new.request
        rows = await self._conn.fetchall(
            "INSERT INTO jobs (state, charge_state, guild_id, channel_id, member_id,"
            " interaction_token, interaction_expires_at, response_message_id, request_json,"
            " model, resolution, quality, references_json, created_at, updated_at,"
            " role_ids_json, moderator, lease_owner, lease_until, lease_fence)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
            (
                JobState.PENDING.value,
                ChargeState.NONE.value,
                new.guild_id,
                new.channel_id,
                new.member_id,
                new.interaction_token,
                new.interaction_expires_at,
                new.response_message_id,
                encode_request(request),
                request.model,
                request.resolution,
                request.quality,
                _json_refs(new.references),
                now,
                now,
                json.dumps(list(new.role_ids)),
                1 if new.moderator else 0,
                owner,
                lease_until if owner is not None else None,
                1 if owner is not None else 0,
            ),
        )
        return _row_to_job(next(iter(rows)))

    async def get(self, job_id: int) -> Job | None:
        """Return the job, or None if there is no such job."""
        rows = await self._conn.fetchall("SELECT * FROM jobs WHERE id = ?", (job_id,))
        for row in rows:
            return _row_to_job(row)
        return None

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
        columns, params = _encode_changes(changes)
        sets = ["state = ?", "updated_at = ?", *columns]
        values: list[Any] = [target.value, now, *params]
        if charge is not None:
            # Decided in the same statement as the final state, so a crash cannot split them.
            pending = (
                ChargeState.COMMIT_PENDING if charge == "commit" else ChargeState.RELEASE_PENDING
            )
            sets.append("charge_state = CASE WHEN charge_state = ? THEN ? ELSE charge_state END")
            values += [ChargeState.RESERVED.value, pending.value]
        marks = ", ".join("?" for _ in sources)
        fence, fence_params = _fenced(lease)
        rows = await self._conn.fetchall(
            f"UPDATE jobs SET {', '.join(sets)} WHERE id = ? AND state IN ({marks}){fence}"
            " RETURNING *",
            (*values, job_id, *(s.value for s in sources), *fence_params),
        )
        for row in rows:
            return _row_to_job(row)
        return None

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
        columns, params = _encode_changes(changes)
        marks = ", ".join("?" for _ in sources)
        fence, fence_params = _fenced(lease)
        rows = await self._conn.fetchall(
            f"UPDATE jobs SET {', '.join(['updated_at = ?', *columns])}"
            f" WHERE id = ? AND state IN ({marks}){fence} RETURNING *",
            (now, *params, job_id, *(s.value for s in sources), *fence_params),
        )
        for row in rows:
            return _row_to_job(row)
        return None

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
        fence, fence_params = _fenced(lease)
        rows = await self._conn.fetchall(
            "UPDATE jobs SET charge_state = ?, cost = COALESCE(?, cost), updated_at = ?"
            f" WHERE id = ? AND charge_state = ?{fence} RETURNING *",
            (target.value, cost, now, job_id, expected.value, *fence_params),
        )
        for row in rows:
            return _row_to_job(row)
        return None

    async def list_active(
        self,
        *,
        guild_id: int | None = None,
        member_id: int | None = None,
        limit: int | None = None,
    ) -> list[Job]:
        """Return jobs not yet delivered, failed or cancelled, oldest first (optionally narrowed)."""
        where = [f"state IN ({_ACTIVE_SQL})"]
        params: list[Any] = []
        if guild_id is not None:
            where.append("guild_id = ?")
            params.append(guild_id)
        if member_id is not None:
            where.append("member_id = ?")
            params.append(member_id)
        sql = f"SELECT * FROM jobs WHERE {' AND '.join(where)} ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(0, limit))
        rows = await self._conn.fetchall(sql, params)
        return [_row_to_job(r) for r in rows]

    async def queue_position(
        self, job_id: int, states: Collection[JobState]
    ) -> tuple[int, int] | None:
        """Return (1-based position, total) of the job among jobs in ``states``, or None."""
        wanted = [s.value for s in states]
        if not wanted:
            return None
        marks = ", ".join("?" for _ in wanted)
        rows = await self._conn.fetchall(
            f"SELECT (SELECT COUNT(*) FROM jobs WHERE state IN ({marks}) AND id <= ?),"
            f" (SELECT COUNT(*) FROM jobs WHERE state IN ({marks})),"
            f" EXISTS (SELECT 1 FROM jobs WHERE id = ? AND state IN ({marks}))",
            (*wanted, job_id, *wanted, job_id, *wanted),
        )
        for position, total, present in rows:
            return (int(position), int(total)) if present else None
        return None

    async def list_followups(self) -> list[Job]:
        """Return delivered jobs whose result files are still recorded (listeners not done)."""
        rows = await self._conn.fetchall(
            "SELECT * FROM jobs WHERE state = 'delivered' AND files_json != '[]' ORDER BY id"
        )
        return [_row_to_job(r) for r in rows]

    async def list_unsettled(self) -> list[Job]:
        """Return final jobs still owing a charge hook call or a failure notice."""
        rows = await self._conn.fetchall(
            "SELECT * FROM jobs WHERE charge_state IN ('commit_pending', 'release_pending')"
            " UNION SELECT * FROM jobs WHERE state = 'failed' AND notified = 0 ORDER BY id"
        )
        return [_row_to_job(r) for r in rows]

    async def count_by_state(self) -> dict[JobState, int]:
        """Return how many jobs are in each state."""
        rows = await self._conn.fetchall("SELECT state, COUNT(*) FROM jobs GROUP BY state")
        return {JobState(r[0]): int(r[1]) for r in rows}

    async def claim(
        self, owner: str, *, now: float, until: float, limit: int, force: bool = False
    ) -> list[Job]:
        """Lease to ``owner`` jobs with work left whose lease is free or expired; return them."""
        rows = await self._conn.fetchall(
            "UPDATE jobs SET lease_owner = ?, lease_until = ?, lease_fence = lease_fence + 1"
            f" WHERE id IN (SELECT id FROM jobs WHERE {_WORK_LEFT}"
            " AND (? OR lease_until IS NULL OR lease_until < ?) ORDER BY id LIMIT ?) RETURNING *",
            (owner, until, 1 if force else 0, now, limit),
        )
        return sorted((_row_to_job(r) for r in rows), key=lambda j: j.id)

    async def renew(self, owner: str, *, until: float) -> dict[int, int]:
        """Extend every lease ``owner`` holds on a job with work left; return id -> fence."""
        rows = await self._conn.fetchall(
            f"UPDATE jobs SET lease_until = ? WHERE lease_owner = ? AND {_WORK_LEFT}"
            " RETURNING id, lease_fence",
            (until, owner),
        )
        return {int(r[0]): int(r[1]) for r in rows}

    async def release_leases(self, owner: str) -> int:
        """End ``owner``'s leases now (a clean stop), so another process may take the jobs."""
        return await self._conn.execute(
            "UPDATE jobs SET lease_until = NULL WHERE lease_owner = ? AND lease_until IS NOT NULL",
            (owner,),
        )

    async def beat(self, owner: str, *, now: float, window: float) -> int:
        """Record that ``owner`` is alive; return how many owners were seen within ``window``."""
        async with self._conn.transaction() as tx:
            await tx.execute(
                "INSERT INTO engine_nodes (owner, seen_at) VALUES (?, ?)"
                " ON CONFLICT (owner) DO UPDATE SET seen_at = excluded.seen_at",
                (owner, now),
            )
            await tx.execute("DELETE FROM engine_nodes WHERE seen_at < ?", (now - 10 * window,))
            rows = await tx.fetchall(
                "SELECT COUNT(*) FROM engine_nodes WHERE seen_at >= ?", (now - window,)
            )
        return max(1, int(rows[0][0]))

    async def leave(self, owner: str) -> None:
        """Forget ``owner`` as a live process."""
        await self._conn.execute("DELETE FROM engine_nodes WHERE owner = ?", (owner,))
