"""One process's share of concurrent quota reservations, for tests and ``bench/scale.py``.

Run ``python -m tests.storage.reserve_worker URL FIRST_JOB COUNT``: opens the database, prints
``ready``, waits for a line on stdin (so several processes start reserving together), reserves ``COUNT`` jobs
at once (ids ``FIRST_JOB`` onwards, server 1), and prints one JSON line:
``{"accepted": …, "refused": …, "seconds": …}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

from bot.clock import ManualClock
from bot.jobs.records import Job, decode_request
from bot.jobs.states import ChargeState, JobState
from bot.quota.service import QuotaExceeded, QuotaService
from bot.storage import open_database

GUILD_ID = 1
REQUEST = json.dumps(
    {"model": "gpt-image-1.5-official", "prompt": "x", "resolution": "1k", "quality": "low"}
)


def fake_job(job_id: int, member_id: int, guild_id: int = GUILD_ID) -> Job:
    """A job as the engine hands it to ``reserve`` (the job row itself is not needed)."""
    return Job(
        id=job_id,
        state=JobState.PENDING,
        charge_state=ChargeState.NONE,
        member_id=member_id,
        request=decode_request(REQUEST),
        created_at=0.0,
        updated_at=0.0,
        guild_id=guild_id,
    )


async def reserve_all(url: str, first: int, count: int) -> dict[str, float]:
    """Reserve ``count`` jobs concurrently once stdin says go; return the tally."""
    db = await open_database(url)
    try:
        quotas = QuotaService(db.quotas, clock=ManualClock())
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        accepted = refused = 0

        async def one(job_id: int) -> None:
            nonlocal accepted, refused
            try:
                await quotas.reserve(fake_job(job_id, 10_000 + job_id % 1_000))
                accepted += 1
            except QuotaExceeded:
                refused += 1

        start = time.perf_counter()
        await asyncio.gather(*(one(job_id) for job_id in range(first, first + count)))
        return {"accepted": accepted, "refused": refused, "seconds": time.perf_counter() - start}
    finally:
        await db.close()


async def run_workers(url: str, total: int, processes: int) -> list[dict[str, float]]:
    """Split ``total`` reservations over ``processes`` worker processes started together."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    shares = [total // processes + (i < total % processes) for i in range(processes)]
    firsts = [1 + sum(shares[:i]) for i in range(processes)]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.storage.reserve_worker",
            url,
            str(first),
            str(share),
            cwd=root,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for first, share in zip(firsts, shares, strict=True)
    ]
    try:
        # Go only once every worker has its pool open, or the first would run alone.
        for p in procs:
            assert p.stdout is not None
            assert await p.stdout.readline() == b"ready\n"
        outs = await asyncio.gather(*(p.communicate(b"go\n") for p in procs))
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()
    assert all(p.returncode == 0 for p in procs), [p.returncode for p in procs]
    return [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outs]


if __name__ == "__main__":
    url, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(asyncio.run(reserve_all(url, first, count))), flush=True)
