"""migrate-db: a populated SQLite deployment moves to PostgreSQL and reads back the same.

The source is built through the real stores and services, copied with the CLI, and the target
is opened the normal way (``open_database``) and read through the stores' public reads.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from bot.__main__ import main as cli_main
from bot.clock import ManualClock
from bot.generation.store import JobDiscordInfo
from bot.jobs.records import NewJob, ReferenceImage, decode_request
from bot.jobs.states import JobState
from bot.quota.service import MemberRef, QuotaService
from bot.storage import Database, DurationStat, open_database, parse_database_url
from bot.storage.copy import CopyError, copy_database
from tests.quota.conftest import NOON_JAN_15
from tests.storage.backends import fresh_postgres_url

GUILD, MOD = 1, 999
REQUEST = {"model": "gpt-image-1.5-official", "prompt": "a fox", "n": 1}
REQUEST.update({"resolution": "1k", "quality": "low"})


async def _job(db: Database, member: int, *, path: list[JobState], **changes: object) -> int:
    job = await db.jobs.create(
        NewJob(
            member_id=member,
            guild_id=GUILD,
            channel_id=2,
            interaction_token=f"tok-{member}",
            interaction_expires_at=NOON_JAN_15 + 900.0,
            request=decode_request(json.dumps(REQUEST)),
            references=(ReferenceImage("a.png", "image/png", "/tmp/a.png"),),
            role_ids=(55, 66),
            moderator=member == MOD,
        ),
        now=NOON_JAN_15,
    )
    current = JobState.PENDING
    for target in path:
        moved = await db.jobs.transition(job.id, current, target, now=NOON_JAN_15 + 1)
        assert moved is not None
        current = target
    if changes:
        assert await db.jobs.update(job.id, current, now=NOON_JAN_15 + 2, **changes)
    return job.id


DELIVERED = [
    JobState.SUBMITTING,
    JobState.SUBMITTED,
    JobState.COMPLETED,
    JobState.DELIVERING,
    JobState.DELIVERED,
]


async def populate(path: Path) -> list[int]:
    """A deployment with jobs in several states, quotas, settings, audit, caches; return job ids."""
    db = await open_database(f"sqlite:///{path}")
    try:
        quotas = QuotaService(db.quotas, clock=ManualClock(NOON_JAN_15))
        await quotas.configure_server(GUILD, MOD, daily=100, monthly=1000, member_daily=10)
        await quotas.configure_server(GUILD, MOD, exempt_moderators=True)
        await quotas.set_role_cap(GUILD, 55, 40, MOD)
        await quotas.set_member_cap(GUILD, 8, 3, MOD)
        await quotas.grant(GUILD, 7, 25, MOD)
        ids = [
            await _job(db, 7, path=[]),
            await _job(db, 7, path=[JobState.SUBMITTING, JobState.SUBMITTED, JobState.RUNNING]),
            await _job(db, 8, path=DELIVERED, response_message_id=123456789012345678),
            await _job(db, 8, path=[JobState.FAILED]),
            await _job(db, MOD, path=[JobState.CANCELLED]),
        ]
        for job_id in ids[:3]:
            job = await db.jobs.get(job_id)
            assert job is not None
            await quotas.reserve(job)
        delivered = await db.jobs.get(ids[2])
        assert delivered is not None
        await quotas.commit(delivered)
        await db.job_discord.put(JobDiscordInfo(ids[2], "imagine", "ann", 8_000_000), now=1.0)
        await db.job_discord.put(JobDiscordInfo(ids[0], "vary", "bob", None, ids[2]), now=1.0)
        await db.guild_settings.update(
            GUILD, actor_id=MOD, now=NOON_JAN_15, default_quality="high", max_count=2
        )
        await db.guild_settings.add_channel(GUILD, 4242, actor_id=MOD, now=NOON_JAN_15)
        await db.guild_settings.add_term(GUILD, "red panda", actor_id=MOD, now=NOON_JAN_15)
        await db.guild_settings.add_term(GUILD, "gore", actor_id=MOD, now=NOON_JAN_15)
        await db.uploads.put("ab" * 32, "https://files.example/ref.png", now=NOON_JAN_15)
        await db.durations.save({"gpt-image/1k/low": DurationStat(3.25, 0.5, 12)}, now=1.0)
        await db.meta.set("command_tree", "hash-1", now=1.0)
        return ids
    finally:
        await db.close()


async def snapshot(db: Database, ids: list[int]) -> dict[str, object]:
    """Everything a member or moderator could see, read through the public stores."""
    quotas = QuotaService(db.quotas, clock=ManualClock(NOON_JAN_15))
    return {
        "jobs": [await db.jobs.get(i) for i in ids],
        "discord": [await db.job_discord.get(i) for i in ids],
        "status": [await quotas.status(MemberRef(GUILD, m, (55,))) for m in (7, 8, MOD)],
        "overview": await quotas.overview(GUILD),
        "charges": [await db.quotas.get_charge(i) for i in ids],
        "settings": await db.guild_settings.get(GUILD),
        "audit": await db.audit.recent(GUILD, limit=100),
        "upload": await db.uploads.get("ab" * 32, fresh_after=0.0),
        "durations": await db.durations.load(),
        "meta": await db.meta.get("command_tree"),
        "active": [j.id for j in await db.jobs.list_active()],
    }


async def main(argv: list[str]) -> int:
    """``python -m bot ...`` in a worker thread (it runs its own event loop)."""
    return await asyncio.to_thread(cli_main, argv)


@pytest_asyncio.fixture
async def pg_url() -> AsyncIterator[str]:
    async with fresh_postgres_url() as url:
        yield url


def _password(url: str) -> str:
    netloc = url.split("://", 1)[1].split("@", 1)
    return netloc[0].partition(":")[2] if len(netloc) == 2 else ""


async def test_a_migrated_deployment_reads_back_the_same(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "atelier.db"
    ids = await populate(source)
    before_bytes = source.read_bytes()
    sqlite_db = await open_database(f"sqlite:///{source}")
    try:
        expected = await snapshot(sqlite_db, ids)
    finally:
        await sqlite_db.close()
    assert expected["settings"].blocklist  # type: ignore[attr-defined]

    assert await main(["migrate-db", "--from", f"sqlite:///{source}", "--to", pg_url]) == 0
    out, err = capsys.readouterr()
    assert "jobs: 5 rows" in out and "quota_usage" in out and "job_discord" in out
    assert "MISMATCH" not in out and err == ""
    secret = _password(pg_url)
    if secret:
        assert secret not in out + err
    assert source.read_bytes() == before_bytes  # only read

    pg = await open_database(pg_url)
    try:
        assert await snapshot(pg, ids) == expected
        new = await pg.jobs.create(
            NewJob(member_id=1, request=decode_request(json.dumps(REQUEST))), now=NOON_JAN_15
        )
        assert new.id > max(ids)
    finally:
        await pg.close()


async def test_a_target_with_rows_is_refused_then_force_replaces_it(
    tmp_path: Path,
    pg_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = tmp_path / "atelier.db"
    ids = await populate(source)
    pg = await open_database(pg_url)
    try:
        await pg.meta.set("someone_elses", "value", now=1.0)
        await pg.guild_settings.add_term(77, "theirs", actor_id=1, now=1.0)
    finally:
        await pg.close()

    assert await main(["migrate-db", "--from", f"sqlite:///{source}", "--to", pg_url]) == 1
    out, err = capsys.readouterr()
    assert "bot_meta" in err and "guild_blocklist" in err and "--force" in err
    assert not _password(pg_url) or _password(pg_url) not in out + err
    pg = await open_database(pg_url)
    try:  # untouched
        assert await pg.meta.get("someone_elses") == "value"
        assert await pg.jobs.get(ids[0]) is None
    finally:
        await pg.close()

    assert (
        await main(["migrate-db", "--from", f"sqlite:///{source}", "--to", pg_url, "--force"]) == 0
    )
    pg = await open_database(pg_url)
    try:
        assert await pg.meta.get("someone_elses") is None
        assert (await pg.guild_settings.get(77)).blocklist == ()
        job = await pg.jobs.get(ids[2])
        assert job is not None and job.response_message_id == 123456789012345678
    finally:
        await pg.close()


async def test_a_source_newer_than_the_code_is_refused(tmp_path: Path, pg_url: str) -> None:
    source = tmp_path / "atelier.db"
    await populate(source)
    with sqlite3.connect(source) as raw:
        raw.execute("INSERT INTO schema_migrations VALUES (999, 'future', 0)")
    with pytest.raises(CopyError, match="newer than this code"):
        await copy_database(parse_database_url(f"sqlite:///{source}"), parse_database_url(pg_url))
    conn = await asyncpg.connect(pg_url)
    try:  # nothing was created in the target
        assert await conn.fetchval("SELECT to_regclass('jobs')") is None
    finally:
        await conn.close()


async def test_a_column_both_sides_gained_later_is_copied_by_name(
    tmp_path: Path, pg_url: str
) -> None:
    # A later migration adds a column on both sides (like the jobs lease columns); the copy
    # follows the names, not the positions.
    source = tmp_path / "atelier.db"
    ids = await populate(source)
    with sqlite3.connect(source) as raw:
        raw.execute("ALTER TABLE jobs ADD COLUMN copied_note TEXT")
        raw.execute("UPDATE jobs SET copied_note = 'proc-' || id")
    pg = await open_database(pg_url)
    try:
        await pg.meta.set("x", "y", now=1.0)
        async with pg.connection.raw.acquire() as conn:  # type: ignore[attr-defined]
            await conn.execute("ALTER TABLE jobs ADD COLUMN copied_note TEXT")
    finally:
        await pg.close()
    report = await copy_database(
        parse_database_url(f"sqlite:///{source}"),
        parse_database_url(pg_url),
        force=True,
        batch_rows=2,
    )
    assert report.ok
    conn = await asyncpg.connect(pg_url)
    try:
        owners = await conn.fetch("SELECT id, copied_note FROM jobs ORDER BY id")
        assert [(r["id"], r["copied_note"]) for r in owners] == [(i, f"proc-{i}") for i in ids]
    finally:
        await conn.close()


async def test_bad_urls_are_refused_without_showing_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = f"sqlite:///{tmp_path / 'none.db'}"
    target = "postgresql://atelier:s3cr3t-pw@127.0.0.1:1/atelier"
    assert await main(["migrate-db", "--from", missing, "--to", target]) == 1
    out, err = capsys.readouterr()
    assert "does not exist" in err and "s3cr3t-pw" not in out + err
    assert await main(["migrate-db", "--from", target, "--to", target]) == 1
    out, err = capsys.readouterr()
    assert "must be a SQLite" in err and "s3cr3t-pw" not in out + err
