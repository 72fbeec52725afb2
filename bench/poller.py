"""Benchmark the task poller against the fake ToAPIs; prints numbers, asserts nothing.

Part 1 runs the adaptive and the fixed vendor-rhythm strategies side by side on the same tasks
(seeded log-normal durations around 30 s for 1k and 120 s for 4k, arriving over time) on a
stepped ManualClock, and prints status requests per task and detection latency (completion to
the poll that sees it). Part 2 runs the whole engine (SQLite file, real client, fake server in the
same process) with 5,000 jobs in flight and prints event-loop lag and peak RSS.

Run: ``python bench/poller.py`` (``--quick`` for a smaller run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bot.jobs.records import decode_request
from bot.jobs.states import FailureCode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.clock import ManualClock
from bot.jobs.engine import Engine, EngineConfig
from bot.jobs.hooks import NullDelivery
from bot.jobs.poller import RateBudget, TaskPoller
from bot.jobs.records import NewJob
from bot.jobs.service import TaskSnapshot
from bot.jobs.strategy import AdaptiveStrategy, PollStrategy, TrackedTask, VendorRhythm
from bot.jobs.toapis_service import ToAPIsService
from bot.storage import open_database
from bot.toapis import RetryPolicy, ToAPIsClient
from tests.fakes.toapis import FakeToAPIs
from tests.fakes.toapis_model import TaskScript

MEDIAN = {"1k": 30.0, "4k": 120.0}
SIGMA = 0.35


def seeded_policy(seed: int, scale: float = 1.0):  # type: ignore[no-untyped-def]
    """Return a duration policy: log-normal run time by resolution (times ``scale``), a short queue."""
    rng = random.Random(seed)

    def policy(body: dict[str, Any]) -> TaskScript:
        median = MEDIAN.get(body.get("resolution", "1k"), 30.0)
        return TaskScript(
            queue_s=rng.uniform(0.5, 3.0),
            run_s=scale * median * math.exp(rng.gauss(0.0, SIGMA)),
            result_scale=0.05,
        )

    return policy


def request(resolution: str) -> str:
    return json.dumps(
        {
            "model": "gpt-image-1.5-official",
            "prompt": "benchmark",
            "size": "16:9",
            "resolution": resolution,
            "quality": "high",
            "n": 1,
        }
    )


class Detections:
    """A PollListener that records when each task was seen final."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.seen: dict[int, float] = {}

    async def task_changed(self, task: TrackedTask, snapshot: TaskSnapshot) -> None:
        return None

    async def task_finished(self, task: TrackedTask, snapshot: TaskSnapshot) -> None:
        self.seen[task.key] = self.clock.now()

    async def task_lost(self, task: TrackedTask, code: FailureCode, detail: str) -> None:
        return None


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def compare(n_tasks: int, arrival_window: float, step: float) -> None:
    clock = ManualClock()
    rng = random.Random(42)
    async with FakeToAPIs(clock=clock, duration_policy=seeded_policy(1)) as fake:
        async with aiohttp.ClientSession() as session:
            client = ToAPIsClient(
                session,
                base_url=fake.base_url,
                api_key=fake.api_key,
                retry=RetryPolicy(max_retries=0),
            )
            service = ToAPIsService(client)
            strategies: dict[str, PollStrategy] = {
                "vendor": VendorRhythm(),
                "adaptive": AdaptiveStrategy(),
            }
            listeners = {name: Detections(clock) for name in strategies}
            pollers = {
                name: TaskPoller(
                    service.get_task,
                    listeners[name],
                    clock=clock,
                    strategy=strategy,
                    budget=RateBudget(200.0),
                    max_in_flight=16,
                )
                for name, strategy in strategies.items()
            }
            arrivals = sorted(rng.uniform(0, arrival_window) for _ in range(n_tasks))
            resolutions = ["4k" if rng.random() < 0.3 else "1k" for _ in range(n_tasks)]
            start = clock.now()
            task_ids: dict[int, str] = {}
            for poller in pollers.values():
                poller.start()
            t0 = time.perf_counter()
            i = 0
            horizon = arrival_window + 600
            while clock.now() - start < horizon:
                while i < n_tasks and arrivals[i] <= clock.now() - start:
                    res = resolutions[i]
                    snap = await service.submit(decode_request(request(res)), [], None)
                    task_ids[i] = snap.id
                    for poller in pollers.values():
                        poller.track(
                            i,
                            snap.id,
                            profile=f"gpt-image-1.5-official/{res}/high",
                            submitted_at=clock.now(),
                            deadline_at=clock.now() + 1800,
                        )
                    i += 1
                if i == n_tasks and all(len(p) == 0 for p in pollers.values()):
                    break
                clock.advance(step)
                for poller in pollers.values():
                    poller.wake()
                for poller in pollers.values():
                    await poller.wait_idle()
            for poller in pollers.values():
                await poller.stop()
            elapsed = time.perf_counter() - t0
            print(
                f"== Part 1: {n_tasks} tasks (30% 4k), arrivals over {arrival_window:.0f} s, "
                f"clock step {step} s, {elapsed:.1f} s real"
            )
            results: dict[str, tuple[float, float, float]] = {}
            for name, listener in listeners.items():
                lat = [listener.seen[k] - fake.tasks[task_ids[k]].ends_at for k in listener.seen]
                per_task = pollers[name].stats.requests / n_tasks
                p50, p95 = pct(lat, 0.5), pct(lat, 0.95)
                results[name] = (per_task, p50, p95)
                print(
                    f"{name:9s} status requests/task {per_task:6.2f}   detection latency "
                    f"p50 {p50:5.2f} s  p95 {p95:5.2f} s  mean {statistics.fmean(lat):5.2f} s  "
                    f"(seen {len(lat)}/{n_tasks})"
                )
            v, a = results["vendor"], results["adaptive"]
            print(
                f"adaptive/vendor: requests {a[0] / v[0]:.2f}x   latency p50 {a[1] / v[1]:.2f}x   "
                f"p95 {a[2] / v[2]:.2f}x"
            )
            print(
                "targets: adaptive p50 <= 1.0 s: "
                + ("met" if a[1] <= 1.0 else "NOT met")
                + "; requests/task <= vendor: "
                + ("met" if a[0] <= v[0] else "NOT met")
            )


async def lag_probe(stop: asyncio.Event, lags: list[float], interval: float = 0.02) -> None:
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(interval)
        lags.append(time.perf_counter() - before - interval)


async def many_jobs(n_jobs: int, seconds: float, speed: float) -> None:
    clock = ManualClock(speed=speed)
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeToAPIs(clock=clock, duration_policy=seeded_policy(2, scale=3.0)) as fake:
            connector = aiohttp.TCPConnector(limit=64)
            async with aiohttp.ClientSession(connector=connector) as session:
                client = ToAPIsClient(
                    session,
                    base_url=fake.base_url,
                    api_key=fake.api_key,
                    retry=RetryPolicy(max_retries=0),
                )
                db = await open_database(f"sqlite:///{tmp}/bench.db")
                config = EngineConfig(
                    data_dir=Path(tmp) / "data",
                    poll_rate=100.0,
                    max_polls_in_flight=16,
                    submit_concurrency=16,
                )
                engine = Engine(
                    db.jobs,
                    db.durations,
                    ToAPIsService(client),
                    NullDelivery(),
                    config=config,
                    clock=clock,
                )
                await engine.start()
                stop = asyncio.Event()
                lags: list[float] = []
                probe = asyncio.create_task(lag_probe(stop, lags))
                t0 = time.perf_counter()
                for k in range(n_jobs):
                    await engine.submit(
                        NewJob(
                            member_id=k,
                            request=decode_request(request("4k" if k % 3 == 0 else "1k")),
                        )
                    )
                created = time.perf_counter() - t0
                peak_in_flight = 0
                while time.perf_counter() - t0 < seconds:
                    await asyncio.sleep(0.5)
                    peak_in_flight = max(peak_in_flight, len(engine.poller))
                stop.set()
                await probe
                counts = await db.jobs.count_by_state()
                await engine.stop()
                await db.close()
                rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                print(
                    f"== Part 2: {n_jobs} jobs through the engine (SQLite file, fake in-process), "
                    f"clock speed {speed}x, {seconds:.0f} s real"
                )
                print(
                    f"jobs recorded in {created:.1f} s; peak tasks polled at once {peak_in_flight}; "
                    f"status requests {engine.poller.stats.requests}"
                )
                print(
                    "final states: "
                    + ", ".join(f"{s.value} {c}" for s, c in sorted(counts.items()))
                )
                print(
                    f"event-loop lag p50 {pct(lags, 0.5) * 1000:.1f} ms  p99 {pct(lags, 0.99) * 1000:.1f} ms  "
                    f"max {max(lags) * 1000:.1f} ms   peak RSS {rss_mb:.0f} MB"
                )
                print(
                    "targets: lag p99 <= 100 ms: "
                    + ("met" if pct(lags, 0.99) <= 0.1 else "NOT met")
                    + "; peak RSS <= 300 MB: "
                    + ("met" if rss_mb <= 300 else "NOT met")
                )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        await compare(100, 120.0, 0.1)
        await many_jobs(1000, 15.0, 2.0)
    else:
        await compare(400, 300.0, 0.1)
        # Longer tasks (x3) on a 2x clock, so all 5,000 are in flight together.
        await many_jobs(5000, 50.0, 2.0)


if __name__ == "__main__":
    asyncio.run(main())
