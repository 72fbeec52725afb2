"""Benchmark several bot processes on one database; prints numbers, asserts nothing.

For SQLite with one process and PostgreSQL with 1, 2 and 4 processes (shard i of n each, real
``python -m bot`` subprocesses against the loopback Discord and the fake ToAPIs in this process,
fast tasks of 0.2 s queued + 0.5 s rendering), it prints:

* jobs per second end to end: after a warm-up, ``/imagine`` from members of every shard's
  server at once, until every result is on Discord (and, beside it, deliveries per second
  between the first result and the last: the rate once results are ready) — with the shipped defaults (one 5 requests/s poll budget shared by
  all processes, polls no sooner than 1 s), and tuned beside it (a 100 requests/s budget, polls
  from 0.25 s) to show what the processes themselves sustain;
* quota reservations per second: 5,000 reservations split over as many worker processes, all
  at once, against one server;
* takeover after ``kill -9`` (PostgreSQL, 2+ processes): a job held at *running* on process 0,
  process 0 killed, time until a survivor has claimed it (p50, max over the samples). The
  processes run with ``JOB_LEASE_SECONDS=6`` (the floor) so a sample takes seconds; takeover
  scales with the lease (the default 60 s gives ten times these figures), so the ratio to the
  lease is printed too. The bound is the lease time (plus one poll for the result).

PostgreSQL runs need ``ATELIER_TEST_POSTGRES_URL`` (e.g. ``.ci/postgres.sh python
bench/scale.py``); without it only SQLite is measured. Run ``python bench/scale.py``
(``--quick`` for fewer jobs and samples).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg

from bot.clock import ManualClock
from tests.app.plugin import FAST, atelier_env
from tests.fakes.discord import FakeDiscord, Guild
from tests.fakes.discord.plugin import BotProcess
from tests.fakes.toapis import FakeToAPIs
from tests.storage.backends import fresh_postgres_url
from tests.storage.reserve_worker import run_workers

LEASE_S = 6.0
MEMBERS = 40  # per server: the default member cap (20 a day) is never what limits a run
TUNED = {"POLL_BUDGET_RPS": "100", "POLL_MIN_INTERVAL_SECONDS": "0.25"}


@dataclass
class Cluster:
    discord: FakeDiscord
    toapis: FakeToAPIs
    url: str
    guilds: list[Guild]
    procs: list[BotProcess]


@contextlib.asynccontextmanager
async def database(backend: str, tmp: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'atelier.db'}"
    else:
        async with fresh_postgres_url() as url:
            yield url


@contextlib.asynccontextmanager
async def cluster(url: str, n: int, tmp: Path, extra: dict[str, str]) -> AsyncIterator[Cluster]:
    """``n`` bot processes (shard i of n) on ``url``, against fresh fakes."""
    discord = FakeDiscord()
    discord.max_concurrency = n
    await discord.start()
    toapis = FakeToAPIs(clock=ManualClock(time.time(), speed=1.0), default_script=FAST)
    await toapis.start()
    procs: list[BotProcess] = []
    try:
        guilds = [
            discord.add_guild(
                f"Studio {i}",
                channels=["art"],
                members=[f"m{k}" for k in range(MEMBERS)],
                shard=(i, n),
            )
            for i in range(n)
        ]
        for i in range(n):
            env = atelier_env(discord, toapis, tmp / f"p{i}")
            # The shipped poll settings, not the test suite's fast ones.
            for name in ("POLL_MIN_INTERVAL_SECONDS", "POLL_MAX_INTERVAL_SECONDS"):
                env.pop(name)
            env.update(
                DATABASE_URL=url,
                SHARD_COUNT=str(n),
                SHARD_IDS=str(i),
                JOB_LEASE_SECONDS=str(LEASE_S),
                LOG_LEVEL="WARNING",
                **extra,
            )
            proc = BotProcess(discord, "bot", env, tmp / f"bot-{i}.log")
            procs.append(proc)
            await proc.start(timeout=60)
        yield Cluster(discord, toapis, url, guilds, procs)
    finally:
        for proc in procs:
            if proc.running:
                await proc.terminate()
        await toapis.close()
        await discord.close()


async def jobs_per_second(c: Cluster, jobs: int) -> tuple[float, float]:
    """Send ``jobs`` /imagine spread over every server at once; return (jobs/s until all are
    delivered, deliveries/s between the first result and the last)."""
    start = time.perf_counter()
    done: list[float] = []

    async def one(k: int) -> None:
        guild = c.guilds[k % len(c.guilds)]
        rec = c.discord.slash(
            "imagine",
            {"prompt": f"scale {k}"},
            guild=guild,
            channel=guild.channel("art"),
            member=guild.member(f"m{(k // len(c.guilds)) % MEMBERS}"),
        )
        await rec.wait_original(lambda m: bool(m.attachments), timeout=600)
        done.append(time.perf_counter() - start)

    await asyncio.gather(*(one(k) for k in range(jobs)))
    return jobs / max(done), (jobs - 1) / max(max(done) - min(done), 1e-9)


async def takeover_seconds(c: Cluster, samples: int) -> list[float]:
    """Kill process 0 with a running job, ``samples`` times; seconds until a survivor claims it."""
    db = await asyncpg.connect(c.url)
    took = []
    try:
        for k in range(samples):
            c.toapis.script(queue_s=0.01, run_s=3600)
            guild = c.guilds[0]
            rec = c.discord.slash(
                "imagine",
                {"prompt": f"takeover {k}"},
                guild=guild,
                channel=guild.channel("art"),
                member=guild.member("m0"),
            )
            await rec.wait_response(timeout=30)
            job_id = fence = None
            while fence is None:
                row = await db.fetchrow(
                    "SELECT id, lease_fence FROM jobs WHERE state = 'running'"
                    " AND request_json LIKE $1",
                    f'%"takeover {k}"%',
                )
                if row is not None:
                    job_id, fence = row["id"], row["lease_fence"]
                else:
                    await asyncio.sleep(0.02)
            await c.procs[0].kill()
            killed = time.monotonic()
            now = fence
            while now == fence:  # polled: the fence is moved by another process
                await asyncio.sleep(0.02)
                now = await db.fetchval("SELECT lease_fence FROM jobs WHERE id = $1", job_id)
            took.append(time.monotonic() - killed)
            c.toapis.advance(3600)
            await rec.wait_original(lambda m: bool(m.attachments), timeout=60)
            await c.procs[0].start(timeout=60)
    finally:
        await db.close()
    return took


async def measure(backend: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, extra in (("default", {}), ("tuned", TUNED)):
        with tempfile.TemporaryDirectory() as tmp:
            async with (
                database(backend, Path(tmp)) as url,
                cluster(url, n, Path(tmp), extra) as c,
            ):
                await jobs_per_second(c, 2 * n)  # warm-up: connections, learned durations
                out[label], out[f"{label}_rate"] = await jobs_per_second(c, args.jobs)
                if label == "default":
                    tallies = await run_workers(url, total=args.reservations, processes=n)
                    out["res_s"] = args.reservations / max(t["seconds"] for t in tallies)
                    if backend == "postgresql" and n > 1:
                        out["takeover"] = await takeover_seconds(c, args.samples)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    args.jobs = 100 if args.quick else 300
    args.reservations = 2_000 if args.quick else 5_000
    args.samples = 3 if args.quick else 5
    runs = [("sqlite", 1)]
    if os.environ.get("ATELIER_TEST_POSTGRES_URL", "").strip():
        runs += [("postgresql", 1), ("postgresql", 2), ("postgresql", 4)]
    else:
        print("ATELIER_TEST_POSTGRES_URL is not set: SQLite only (see the docstring)")
    print(
        f"{args.jobs} jobs (0.2 s queued + 0.5 s rendering) spread over every shard; "
        f"{args.reservations:,} reservations; takeover: {args.samples} kills, lease {LEASE_S:g} s"
    )
    print(
        f"{'database':<11} {'procs':>5} {'jobs/s':>8} {'deliv/s':>8} {'tuned':>8} {'deliv/s':>8}"
        f" {'res/s':>8} "
        f"{'takeover p50':>13} {'max':>6} {'max/lease':>10}"
    )
    base: float | None = None
    for backend, n in runs:
        r = await measure(backend, n, args)
        took = r.get("takeover")
        line = (
            f"{backend:<11} {n:>5} {r['default']:>8.2f} {r['default_rate']:>8.2f} "
            f"{r['tuned']:>8.2f} {r['tuned_rate']:>8.2f} {r['res_s']:>8,.0f} "
        )
        if took:
            line += (
                f"{statistics.median(took):>12.2f}s {max(took):>5.2f}s {max(took) / LEASE_S:>10.2f}"
            )
        else:
            line += f"{'-':>13} {'-':>6} {'-':>10}"
        if backend == "postgresql":
            base = base or r["tuned"]
            line += f"   tuned ×{r['tuned'] / base:.2f} of 1 process"
        print(line, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
