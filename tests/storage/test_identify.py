"""The identify gate on both backends: one identify per bucket per window, across processes.

On PostgreSQL the two holders are two open databases (two pools, as two bot processes would
have); on SQLite (one process) they share the one database's gate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.identify import IdentifyGate
from bot.storage import open_database
from tests.storage.backends import fresh_postgres_url, open_test_database

HOLD = 0.3


@asynccontextmanager
async def two_processes(
    backend: str, tmp_path: Path
) -> AsyncIterator[tuple[IdentifyGate, IdentifyGate]]:
    if backend == "sqlite":
        async with open_test_database(backend, tmp_path) as db:
            yield db.identify, db.identify
        return
    async with fresh_postgres_url() as url:
        first = await open_database(url)
        second = await open_database(url)
        try:
            yield first.identify, second.identify
        finally:
            await first.close()
            await second.close()


async def _hold(gate: IdentifyGate, bucket: int, log: list[tuple[str, float]], name: str) -> None:
    await gate.hold(bucket, HOLD)
    log.append((name, time.monotonic()))


async def test_the_same_bucket_is_identified_once_per_hold(backend: str, tmp_path: Path) -> None:
    async with two_processes(backend, tmp_path) as (a, b):
        log: list[tuple[str, float]] = []
        await _hold(a, 0, log, "a")
        second = asyncio.create_task(_hold(b, 0, log, "b"))
        await asyncio.wait_for(second, timeout=10)  # it gets the bucket once a's hold ended
        (_, a_at), (name, b_at) = log
        assert name == "b"
        assert b_at - a_at >= HOLD * 0.9  # not before the first hold ended (timer slack)


async def test_a_waiting_holder_does_not_get_the_bucket_while_it_is_held(
    backend: str, tmp_path: Path
) -> None:
    async with two_processes(backend, tmp_path) as (a, b):
        await a.hold(3, 5.0)  # a long hold: b must still be waiting when we look
        waiting = asyncio.create_task(b.hold(3, HOLD))
        other = asyncio.create_task(b.hold(4, HOLD))  # a different bucket is free
        await asyncio.wait_for(other, timeout=10)
        assert not waiting.done()
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)


async def test_different_buckets_do_not_block_each_other(backend: str, tmp_path: Path) -> None:
    async with two_processes(backend, tmp_path) as (a, b):
        await a.hold(0, 30.0)
        await asyncio.wait_for(b.hold(1, 30.0), timeout=10)  # at once, while bucket 0 is held


async def test_closing_gives_the_buckets_back(backend: str, tmp_path: Path) -> None:
    async with two_processes(backend, tmp_path) as (a, b):
        await a.hold(2, 60.0)
        await a.close()  # shutdown: no need to wait out the window
        await asyncio.wait_for(b.hold(2, HOLD), timeout=10)
