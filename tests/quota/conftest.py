"""Fixtures for quota tests: a real SQLite file, a controllable clock, the quota service."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.clock import ManualClock
from bot.jobs.records import Job, NewJob, decode_request
from bot.quota.rules import OperatorDefaults
from bot.quota.service import QuotaService
from bot.storage import Database
from tests.storage.backends import open_test_database

# 2026-01-15 12:00:00 UTC, a Thursday.
NOON_JAN_15 = 1_768_478_400.0


@pytest.fixture
def qclock() -> ManualClock:
    return ManualClock(NOON_JAN_15)


@pytest_asyncio.fixture
async def qdb(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    """The quota store's database, on each backend (tests.storage.backends)."""
    async with open_test_database(backend, tmp_path) as database:
        yield database


@pytest.fixture
def quotas(qdb: Database, qclock: ManualClock) -> QuotaService:
    return QuotaService(qdb.quotas, defaults=OperatorDefaults(), clock=qclock)


def body(model: str = "gpt-image-1.5-official", n: int = 1, **extra: object) -> str:
    """Return a stored request body."""
    data: dict[str, object] = {"model": model, "prompt": "a fox", "n": n}
    if model == "gpt-image-1.5-official":
        data.update({"resolution": "1k", "quality": "low"})
    data.update(extra)
    return json.dumps(data)


async def make_job(
    db: Database,
    member_id: int = 7,
    guild_id: int | None = 1,
    request_json: str | None = None,
    *,
    role_ids: tuple[int, ...] = (),
    moderator: bool = False,
) -> Job:
    """Record a job row the way the engine does (so job ids are real)."""
    return await db.jobs.create(
        NewJob(
            member_id=member_id,
            guild_id=guild_id,
            channel_id=2,
            request=decode_request(request_json or body()),
            role_ids=role_ids,
            moderator=moderator,
        ),
        now=NOON_JAN_15,
    )


# The job engine's fixtures (fake ToAPIs, real client, recording delivery), reused as they are.
from tests.jobs.conftest import (  # noqa: E402
    clock,
    config,
    db,
    db_path,
    delivery,
    service,
    session,
)

__all__ = [
    "NOON_JAN_15",
    "body",
    "clock",
    "config",
    "db",
    "db_path",
    "delivery",
    "make_job",
    "service",
    "session",
]
