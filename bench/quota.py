"""Benchmark quota reservations on SQLite (and PostgreSQL) with concurrent callers; prints numbers.

Each reservation is what the job engine's ``ChargeHook.reserve`` does for a job: read the
member's rules, then one ``BEGIN IMMEDIATE`` transaction that checks the server's daily and
monthly pools and the member's daily cap and records the charge. Callers are asyncio tasks
(every member clicking at once). The last run splits the callers over two connections to the
same file, as two bot processes would have, against one shared budget.

With ``ATELIER_TEST_POSTGRES_URL`` set (e.g. ``.ci/postgres.sh python bench/quota.py``), every
run is repeated on PostgreSQL (a fresh schema each, a pool of 10 connections per database) and
printed beside the SQLite numbers; the last run is then two pools (two processes) on one
database. Nothing is asserted.

Run: ``python bench/quota.py`` (``--quick`` for a smaller run).
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
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.clock import ManualClock
from bot.quota.service import QuotaExceeded, QuotaService
from bot.storage import Database, open_database
from tests.storage.reserve_worker import fake_job


@contextlib.asynccontextmanager
async def postgres_schema(base: str) -> AsyncIterator[str]:
    """A fresh schema on the server ``base`` names; yield a URL using it; drop it after."""
    import asyncpg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(base)
    try:
        await admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield f"{base}{'&' if '?' in base else '?'}search_path={schema}"
        finally:
            await admin.execute(f"DROP SCHEMA {schema} CASCADE")
    finally:
        await admin.close()


async def run(db: Database, total: int, concurrency: int, members: int, budget: int | None) -> dict:
    clock = ManualClock()
    quotas = QuotaService(db.quotas, clock=clock)
    await quotas.configure_server(
        1, 1, daily=budget if budget is not None else "unlimited", member_daily="unlimited"
    )
    latencies: list[float] = []
    accepted = refused = 0
    queue = iter(range(1, total + 1))

    async def caller() -> None:
        nonlocal accepted, refused
        for job_id in queue:
            start = time.perf_counter()
            try:
                await quotas.reserve(fake_job(job_id, 10_000 + job_id % members))
                accepted += 1
            except QuotaExceeded:
                refused += 1
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "per_s": total / elapsed,
        "elapsed": elapsed,
        "accepted": accepted,
        "refused": refused,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


async def two_databases(a: Database, b: Database, total: int) -> tuple[float, int, int]:
    """500 callers split over two databases against one budget of ``total // 2``."""
    half = total // 2
    clock = ManualClock()
    qa, qb = QuotaService(a.quotas, clock=clock), QuotaService(b.quotas, clock=clock)
    await qa.configure_server(1, 1, daily=half, member_daily="unlimited")
    ok = 0

    async def caller(q: QuotaService, ids: range) -> None:
        nonlocal ok
        for job_id in ids:
            try:
                await q.reserve(fake_job(job_id, job_id % 1_000))
                ok += 1
            except QuotaExceeded:
                pass

    start = time.perf_counter()
    step = total // 500
    await asyncio.gather(
        *(caller(qa if i % 2 else qb, range(i * step + 1, (i + 1) * step + 1)) for i in range(500))
    )
    return total / (time.perf_counter() - start), ok, half


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    total = 2_000 if args.quick else 10_000
    pg = os.environ.get("ATELIER_TEST_POSTGRES_URL", "").strip() or None
    where = "a SQLite file (WAL)" + (" and PostgreSQL (pool of 10)" if pg else "")
    print(f"quota reservations on {where}, {total:,} per run")
    header = (
        f"{'callers':>8} {'budget':>8} {'res/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'accepted':>9}"
    )
    if pg:
        header += f" | {'pg res/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'accepted':>9}"
    print(header)
    for concurrency, budget in ((1, None), (50, None), (500, None), (500, total // 2)):
        with tempfile.TemporaryDirectory() as tmp:
            db = await open_database(f"sqlite:///{Path(tmp) / 'bench.db'}")
            try:
                r = await run(db, total, concurrency, members=1_000, budget=budget)
            finally:
                await db.close()
        shown = "-" if budget is None else f"{budget:,}"
        line = (
            f"{concurrency:>8} {shown:>8} {r['per_s']:>9,.0f} {r['p50_ms']:>8.2f} "
            f"{r['p99_ms']:>8.2f} {r['accepted']:>9,}"
        )
        if pg:
            async with postgres_schema(pg) as url:
                db = await open_database(url)
                try:
                    p = await run(db, total, concurrency, members=1_000, budget=budget)
                finally:
                    await db.close()
            line += (
                f" | {p['per_s']:>9,.0f} {p['p50_ms']:>8.2f} {p['p99_ms']:>8.2f} "
                f"{p['accepted']:>9,}"
            )
        print(line)
    # Two connections on one file (two processes' worth), 250 callers each, shared budget.
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        a, b = await open_database(url), await open_database(url)
        try:
            per_s, ok, half = await two_databases(a, b, total)
        finally:
            await a.close()
            await b.close()
    print(f"two connections on one file: {per_s:,.0f} res/s, {ok:,} accepted of a {half:,} budget")
    if pg:
        async with postgres_schema(pg) as url:
            a, b = await open_database(url), await open_database(url)
            try:
                per_s, ok, half = await two_databases(a, b, total)
            finally:
                await a.close()
                await b.close()
        print(
            f"two pools on one PostgreSQL database: {per_s:,.0f} res/s, "
            f"{ok:,} accepted of a {half:,} budget"
        )


if __name__ == "__main__":
    asyncio.run(main())
