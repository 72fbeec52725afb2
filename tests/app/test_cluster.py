"""Three bot processes on one PostgreSQL: every shard answers, and a process killed mid-job at
each job state has its jobs finished once by the others.

How soon the others take over (within the lease time by design) is a timing figure, printed by
``bench/scale.py``; here the wait for it is only a generous failure bound.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest_asyncio

from tests.app.helpers import result_messages, text_of
from tests.app.plugin import atelier_env, png
from tests.fakes.discord import FakeDiscord, Guild, InteractionRecord, Upload, wait_until
from tests.fakes.discord.plugin import BotProcess
from tests.fakes.toapis import FakeToAPIs
from tests.storage.backends import fresh_postgres_url

PROCESSES = 3
LEASE_S = 6.0  # JOB_LEASE_SECONDS's floor: heartbeats every 2 s, written leases last 4 s
T = TypeVar("T")
POSTS = ("webhook.edit", "webhook.followup", "message.create")


@dataclass
class Cluster:
    discord: FakeDiscord
    toapis: FakeToAPIs
    url: str
    guilds: list[Guild]  # guilds[i] is on shard i, served by procs[i]
    procs: list[BotProcess]
    db: asyncpg.Connection

    async def jobs(self) -> dict[int, dict[str, Any]]:
        rows = await self.db.fetch(
            "SELECT id, state, charge_state, error_code, notified, lease_owner, lease_fence,"
            " request_json FROM jobs ORDER BY id"
        )
        return {row["id"]: dict(row) for row in rows}

    async def wait(
        self,
        condition: Callable[[], Awaitable[T]],
        what: str | Callable[[], str],
        timeout: float = 30.0,
    ) -> T:
        """Poll ``condition`` (a database read) until it is truthy; fail saying ``what`` else."""
        value: T = await wait_until(condition, timeout=timeout, interval=0.05, what=what)
        return value

    async def wait_job(self, job_id: int, *states: str, timeout: float = 30.0) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            job = (await self.jobs()).get(job_id)
            return job if job is not None and job["state"] in states else None

        return await self.wait(reached, f"job {job_id} never reached {states}", timeout)

    def slash(self, shard: int, prompt: str, **options: Any) -> InteractionRecord:
        guild = self.guilds[shard]
        return self.discord.slash(
            "imagine",
            {"prompt": prompt, **options},
            guild=guild,
            channel=guild.channel("art"),
            member=guild.member("alice"),
        )


@pytest_asyncio.fixture
async def cluster(
    fake_discord: FakeDiscord,
    atelier_toapis: FakeToAPIs,
    spawn_discord_bot: Callable[..., Awaitable[BotProcess]],
    tmp_path: Path,
) -> AsyncIterator[Cluster]:
    """Three ``python -m bot`` processes, shards 0, 1 and 2 of 3, on one fresh PostgreSQL schema."""
    fake_discord.max_concurrency = PROCESSES  # one bucket per shard: nobody waits to identify
    guilds = [
        fake_discord.add_guild(f"Studio {i}", channels=["art"], members=["alice"], shard=(i, 3))
        for i in range(PROCESSES)
    ]
    async with fresh_postgres_url() as url:
        procs = []
        for i in range(PROCESSES):
            env = {
                **atelier_env(fake_discord, atelier_toapis, tmp_path / f"p{i}"),
                "DATABASE_URL": url,
                "SHARD_COUNT": str(PROCESSES),
                "SHARD_IDS": str(i),
                "JOB_LEASE_SECONDS": str(LEASE_S),
            }
            procs.append(await spawn_discord_bot("bot", env=env))
        db = await asyncpg.connect(url)
        try:
            yield Cluster(fake_discord, atelier_toapis, url, guilds, procs, db)
        finally:
            await db.close()
            for proc in procs:  # before the schema is dropped under them
                if proc.running:
                    await proc.kill()


def _prompt(job: dict[str, Any]) -> str:
    return str(json.loads(job["request_json"])["prompt"])


def _result_posts(fake: FakeDiscord, rec: InteractionRecord) -> list[Any]:
    """Requests that put this interaction's result images on Discord (withheld ones included)."""
    return [
        ev
        for ev in fake.events
        if ev.interaction is rec
        and ev.kind in POSTS
        and ev.files
        and (ev.ok or ev.meta.get("withheld"))
    ]


async def test_every_shard_answers_and_a_killed_process_jobs_finish_once_elsewhere(
    cluster: Cluster,
) -> None:
    fake, toapis = cluster.discord, cluster.toapis
    assert fake.connected_shards == {0: 3, 1: 3, 2: 3}

    # Every shard's server is answered by its own process, which owns the job it recorded.
    warm = [cluster.slash(i, f"hello from shard {i}") for i in range(PROCESSES)]
    for rec in warm:
        msg = await rec.wait_original(lambda m: bool(m.attachments), timeout=30)
        assert msg.attachments
    for job_id in range(1, PROCESSES + 1):
        await cluster.wait_job(job_id, "delivered")  # the delivered write follows the edit
    warm_jobs = await cluster.jobs()
    first = len(warm_jobs)

    # Now six jobs on shard 0, each held at a different state, then process 0 is killed -9.
    recs: dict[str, InteractionRecord] = {}

    async def hold(name: str, *states: str, **options: Any) -> None:
        recs[name] = cluster.slash(0, f"held at {name}", **options)
        await cluster.wait_job(first + len(recs), *states)

    toapis.script(queue_s=0.01, run_s=3600)
    await hold("running", "running")
    toapis.script(queue_s=3600, run_s=0.5)
    await hold("submitted", "submitted")
    toapis.faults.add("slow", endpoint="file", delay=600)  # the next result download hangs
    await hold("completed", "completed")
    fake.withhold_response(
        "webhook.edit", when=lambda ev: bool(ev.files) and ev.interaction is recs.get("delivering")
    )  # Discord shows the result but the answer never reaches the bot
    await hold("delivering", "delivering")
    toapis.faults.add(
        "slow", endpoint="submit", delay=600, match=lambda r: "in doubt" in json.dumps(r.json)
    )
    recs["submitting"] = cluster.slash(0, "held at submitting, in doubt")
    await cluster.wait_job(first + len(recs), "submitting")
    toapis.faults.add("slow", endpoint="upload", delay=600)
    await hold("uploading", "uploading", image1=Upload("ref.png", png()))

    before = await cluster.jobs()
    held = {job_id: before[job_id] for job_id in range(first + 1, first + 1 + len(recs))}
    names = dict(zip(held, recs, strict=True))
    assert {before[j]["state"] for j in held} == {
        "running",
        "submitted",
        "completed",
        "delivering",
        "submitting",
        "uploading",
    }
    dead_owner = before[first + 1]["lease_owner"]
    assert dead_owner and all(before[j]["lease_owner"] == dead_owner for j in held)
    submits_before = len(toapis.requests_to("submit"))

    await cluster.procs[0].kill()

    # Each job is claimed (its fence moves on) by a survivor.
    taken: dict[str, dict[str, Any]] = {}

    async def all_taken() -> bool:
        now = await cluster.jobs()
        for job_id, job in held.items():
            if names[job_id] not in taken and now[job_id]["lease_fence"] > job["lease_fence"]:
                taken[names[job_id]] = now[job_id]
        return len(taken) == len(held)

    await cluster.wait(all_taken, lambda: f"not taken over: {set(recs) - set(taken)}", 60)
    assert all(job["lease_owner"] != dead_owner for job in taken.values()), taken
    toapis.advance(3600)  # the queued and the running task finish at the image service

    for name in ("running", "submitted", "completed", "delivering", "uploading"):
        await cluster.wait_job(first + list(recs).index(name) + 1, "delivered", timeout=60)
    failed = await cluster.wait_job(first + list(recs).index("submitting") + 1, "failed")

    # A submission in doubt is never sent again: it fails, is released, and the member is told.
    assert failed["error_code"] == "submission_unconfirmed"

    async def told_member() -> bool:
        return bool((await cluster.jobs())[failed["id"]]["notified"])

    await cluster.wait(told_member, "the member was never told")
    told = await recs["submitting"].wait_original(
        lambda m: "could not confirm" in text_of(m), timeout=10
    )
    assert not told.attachments

    submits = [json.dumps(r.json) for r in toapis.requests_to("submit")[submits_before:]]
    assert len(submits) == 1  # only the uploading job's, sent by its new owner
    assert "uploading" in submits[0]
    assert len([r for r in toapis.requests_to("upload") if r.files]) == 2  # redone once

    # One delivery per job (the delivering job's second edit lands on the same message).
    for name, rec in recs.items():
        posts = _result_posts(fake, rec)
        if name == "submitting":
            assert posts == []
        elif name == "delivering":
            assert [ev.kind for ev in posts] == ["webhook.edit", "webhook.edit"]
        else:
            assert len(posts) == 1, (name, [ev.kind for ev in posts])
    results = result_messages(fake)
    assert len(results) == PROCESSES + 5  # warm-up and held jobs, one message each

    # One charge decision per job: committed for results, released for the failure, and the
    # server's pool counts exactly the committed credits.
    charges = {
        row["job_id"]: (row["state"], row["credits"])
        for row in await cluster.db.fetch("SELECT job_id, state, credits FROM quota_charges")
    }
    for job_id, name in names.items():
        assert charges[job_id][0] == ("released" if name == "submitting" else "committed"), name
    assert all(state == "committed" for job_id, (state, _) in charges.items() if job_id <= first)
    guild0 = cluster.guilds[0].id
    pool, committed = await cluster.db.fetchrow(
        "SELECT (SELECT sum(credits) FROM quota_usage WHERE guild_id = $1 AND member_id = 0"
        " AND period = 'pool_day'), (SELECT sum(credits) FROM quota_charges WHERE guild_id = $1"
        " AND state = 'committed')",
        guild0,
    )
    assert pool == committed > 0

    # A process that stalls (SIGSTOP) loses its job to a survivor; when it wakes it finds the
    # job gone at its next heartbeat and never writes or delivers it.
    stalled = cluster.procs[1]
    toapis.script(queue_s=0.01, run_s=3600)
    rec = cluster.slash(1, "held while its process stalls")
    job_id = len(await cluster.jobs()) + 1
    job = await cluster.wait_job(job_id, "running")
    owner = job["lease_owner"]
    assert stalled.proc is not None
    stalled.proc.send_signal(signal.SIGSTOP)
    try:

        async def taken_over() -> bool:
            return bool((await cluster.jobs())[job_id]["lease_fence"] != job["lease_fence"])

        await cluster.wait(taken_over, "the stalled process's job was never taken over", 60)
    finally:
        stalled.proc.send_signal(signal.SIGCONT)
    woke = time.time()

    async def woken_up() -> bool:
        seen = await cluster.db.fetchval("SELECT seen_at FROM engine_nodes WHERE owner = $1", owner)
        return bool((seen or 0) > woke)

    await cluster.wait(woken_up, "the stalled process never woke")
    toapis.advance(3600)
    await cluster.wait_job(job_id, "delivered", timeout=60)
    assert len(_result_posts(fake, rec)) == 1
    assert stalled.running  # it woke and carries on with its shard
    woken = cluster.slash(1, "after the stall")
    await woken.wait_original(lambda m: bool(m.attachments), timeout=30)
