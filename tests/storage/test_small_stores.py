"""The small stores on both backends: uploads, meta, job extras, durations, the audit log."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from bot.generation.store import JobDiscordInfo
from bot.jobs.records import NewJob, decode_request
from bot.storage import Database, DurationStat
from tests.storage.backends import open_test_database

REQUEST = json.dumps({"model": "gpt-image-1.5-official", "prompt": "x", "resolution": "2k"})


@pytest_asyncio.fixture
async def db(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    async with open_test_database(backend, tmp_path) as database:
        yield database


async def test_upload_cache_is_fresh_then_pruned(db: Database) -> None:
    assert await db.uploads.get("h", fresh_after=0.0) is None
    await db.uploads.put("h", "https://a", now=10.0)
    await db.uploads.put("h", "https://b", now=20.0)  # refreshed
    assert await db.uploads.get("h", fresh_after=15.0) == "https://b"
    assert await db.uploads.get("h", fresh_after=20.0) is None
    await db.uploads.put("old", "https://o", now=1.0)
    assert await db.uploads.prune(older_than=5.0) == 1
    assert await db.uploads.get("old", fresh_after=0.0) is None


async def test_job_extras_are_replaced_and_go_with_the_job(db: Database) -> None:
    job = await db.jobs.create(NewJob(member_id=1, request=decode_request(REQUEST)), now=1.0)
    assert await db.job_discord.get(job.id) is None
    await db.job_discord.put(JobDiscordInfo(job.id, "imagine", "ann", 8_000_000), now=1.0)
    await db.job_discord.put(JobDiscordInfo(job.id, "vary", "ann", None, 3), now=2.0)
    assert await db.job_discord.get(job.id) == JobDiscordInfo(job.id, "vary", "ann", None, 3)


async def test_durations_and_meta_round_trip(db: Database) -> None:
    await db.durations.save({}, now=1.0)
    await db.durations.save(
        {"a/1k/-": DurationStat(1.5, 0.25, 3), "b/2k/high": DurationStat(2.0, 0.5, 9)}, now=1.0
    )
    assert (await db.durations.load())["b/2k/high"] == DurationStat(2.0, 0.5, 9)
    await db.meta.set("tree", "abc", now=1.0)
    assert await db.meta.get("tree") == "abc" and await db.meta.get("none") is None


async def test_audit_rows_page_newest_first_per_server(db: Database) -> None:
    for i in range(5):
        await db.guild_settings.add_term(1, f"t{i}", actor_id=9, now=float(i))
    await db.guild_settings.add_term(2, "other", actor_id=9, now=9.0)
    newest = await db.audit.recent(1, limit=3)
    assert [e.subject for e in newest] == ["t4", "t3", "t2"]
    older = await db.audit.recent(1, limit=3, before_id=newest[-1].id)
    assert [e.subject for e in older] == ["t1", "t0"]
    assert all(e.action == "settings.blocklist" and e.after == e.subject for e in newest)
    assert newest[0].at == 4.0 and newest[0].before is None
