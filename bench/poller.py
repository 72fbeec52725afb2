"""Benchmark the task poller against the fake ToAPIs; prints numbers, asserts nothing.

Part 1 runs, with the shipped defaults (the settings' default budget, ceiling and poll
intervals, nothing learned yet), the adaptive poller and the vendor rhythm on the same seeded
tasks of several mixes (fast, medium, slow 4K, bimodal with quick failures, a burst of 60, and a
fake that answers 429 above 10 status requests a second), each on its own fake on a stepped
ManualClock. Per mix it prints status requests per task, detection latency (the task's end to
the poll that sees it) p50/p95/max, 429s received, and the ratios. Part 2 runs the whole engine (SQLite file, real client, fake server in the
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
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bot.jobs.records import decode_request
from bot.jobs.states import FailureCode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app.services import engine_config, poll_strategy
from bot.clock import ManualClock
from bot.config import load_settings
from bot.jobs.engine import Engine, EngineConfig
from bot.jobs.hooks import NullDelivery
from bot.jobs.poller import RateBudget, TaskPoller
from bot.jobs.records import NewJob
from bot.jobs.service import TaskSnapshot
from bot.jobs.strategy import PollStrategy, TrackedTask, VendorRhythm
from bot.jobs.toapis_service import ToAPIsService
from bot.storage import open_database
from bot.toapis import RetryPolicy, ToAPIsClient
from tests.fakes.toapis import FakeToAPIs
from tests.fakes.toapis_model import TaskScript

MEDIAN = {"1k": 30.0, "4k": 120.0}
SIGMA = 0.35
PROFILE = "gpt-image-1.5-official/{res}/high"


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


@dataclass(frozen=True)
class Mix:
    """One task mix: how many, when they arrive, how each behaves, any server-side limit."""

    name: str
    n: int
    window: float  # arrivals spread uniformly over this many seconds (0: all at once)
    script: Callable[[random.Random], TaskScript]
    resolution: str = "1k"
    status_limit: float | None = None


def _fast(rng: random.Random) -> TaskScript:
    queue = rng.uniform(0.3, 1.0)
    return TaskScript(queue_s=queue, run_s=rng.uniform(2.0, 6.0) - queue, result_scale=0.05)


def _medium(rng: random.Random) -> TaskScript:
    run = 12.0 * math.exp(rng.gauss(0.0, 0.3))
    return TaskScript(queue_s=rng.uniform(0.5, 4.0), run_s=run, result_scale=0.05)


def _slow(rng: random.Random) -> TaskScript:
    queue = rng.uniform(0.5, 4.0)
    return TaskScript(queue_s=queue, run_s=rng.uniform(60.0, 180.0) - queue, result_scale=0.05)


def _bimodal(rng: random.Random) -> TaskScript:
    if rng.random() < 1 / 3:
        queue = rng.uniform(0.3, 1.0)
        return TaskScript(
            queue_s=queue, run_s=rng.uniform(1.5, 5.0) - queue, outcome="failed", result_scale=0.05
        )
    return _medium(rng)


MIXES = (
    Mix("fast 2-6 s", 120, 120.0, _fast),
    Mix("medium (60 members)", 60, 0.0, _medium),
    Mix("slow 4K 60-180 s", 60, 120.0, _slow, resolution="4k"),
    Mix("bimodal (1/3 fail <5 s)", 120, 120.0, _bimodal),
    Mix("burst 60 fast at once", 60, 0.0, _fast),
    Mix("limited (429 > 10/s)", 120, 20.0, _medium, status_limit=10.0),
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


@dataclass
class Outcome:
    requests_per_task: float
    p50: float
    p95: float
    worst: float
    limited: int
    seen: int


async def run_mix(mix: Mix, kind: str, seed: int, step: float) -> Outcome:
    """Run one strategy on the mix's seeded tasks, with the shipped defaults, on its own fake."""
    settings = load_settings(discord_token="bench", toapis_api_key="bench")
    config = engine_config(settings)
    clock = ManualClock()
    rng = random.Random(seed)
    scripts = [mix.script(rng) for _ in range(mix.n)]
    arrivals = sorted(rng.uniform(0, mix.window) for _ in range(mix.n))
    async with FakeToAPIs(clock=clock, status_rate_limit=mix.status_limit) as fake:
        fake.script_next(*scripts)
        async with aiohttp.ClientSession() as session:
            client = ToAPIsClient(
                session,
                base_url=fake.base_url,
                api_key=fake.api_key,
                retry=RetryPolicy(max_retries=0),
            )
            service = ToAPIsService(client)
            strategy: PollStrategy = VendorRhythm() if kind == "vendor" else poll_strategy(settings)
            listener = Detections(clock)
            # As the engine builds it: the configured start, ceiling and bucket, one process.
            budget = RateBudget(
                config.poll_rate,
                ceiling=max(config.poll_rate_max or config.poll_rate, config.poll_rate),
                burst_seconds=config.poll_burst_seconds,
            )
            poller = TaskPoller(
                service.get_task,
                listener,
                clock=clock,
                strategy=strategy,
                budget=budget,
                max_in_flight=config.max_polls_in_flight,
                rng=random.Random(seed),
            )
            poller.start()
            task_ids: dict[int, str] = {}
            start = clock.now()
            i = 0
            while clock.now() - start < mix.window + 900:
                while i < mix.n and arrivals[i] <= clock.now() - start:
                    snap = await service.submit(decode_request(request(mix.resolution)), [], None)
                    task_ids[i] = snap.id
                    poller.track(
                        i,
                        snap.id,
                        profile=PROFILE.format(res=mix.resolution),
                        submitted_at=clock.now(),
                        deadline_at=clock.now() + 1800,
                    )
                    i += 1
                if i == mix.n and len(poller) == 0:
                    break
                clock.advance(step)
                poller.wake()
                await poller.wait_idle()
            await poller.stop()
            lat = [listener.seen[k] - fake.tasks[task_ids[k]].ends_at for k in listener.seen]
            return Outcome(
                requests_per_task=poller.stats.requests / mix.n,
                p50=pct(lat, 0.5),
                p95=pct(lat, 0.95),
                worst=max(lat),
                limited=poller.stats.rate_limited,
                seen=len(lat),
            )


async def compare(step: float) -> None:
    """Print, per mix, both strategies on the same seeded tasks, and whether targets are met."""
    settings = load_settings(discord_token="bench", toapis_api_key="bench")
    print(
        f"== Part 1: adaptive vs vendor rhythm, shipped defaults (POLL_BUDGET_RPS="
        f"{settings.poll_budget_rps:g}, POLL_BUDGET_MAX_RPS={settings.poll_budget_max_rps:g}, "
        f"POLL_MIN_INTERVAL_SECONDS={settings.poll_min_interval_seconds:g}, "
        f"POLL_MAX_INTERVAL_SECONDS={settings.poll_max_interval_seconds:g}), a fresh install "
        f"(nothing learned), clock step {step} s"
    )
    header = (
        f"{'mix':26s} {'poller':8s} {'req/task':>8s} {'p50 s':>6s} {'p95 s':>6s} "
        f"{'max s':>6s} {'429s':>5s} {'seen':>7s}"
    )
    print(header)
    verdicts = []
    for seed, mix in enumerate(MIXES, start=1):
        t0 = time.perf_counter()
        results = {kind: await run_mix(mix, kind, seed, step) for kind in ("vendor", "adaptive")}
        for kind, r in results.items():
            print(
                f"{mix.name:26s} {kind:8s} {r.requests_per_task:8.2f} {r.p50:6.2f} {r.p95:6.2f} "
                f"{r.worst:6.2f} {r.limited:5d} {r.seen:4d}/{mix.n}"
            )
        v, a = results["vendor"], results["adaptive"]
        share_429 = a.limited / max(1.0, a.requests_per_task * mix.n)
        met = {
            "p50<=1.0": a.p50 <= 1.0,
            "p95<=2.5": a.p95 <= 2.5,
            "req<=vendor": a.requests_per_task <= v.requests_per_task,
            "429<=2%": share_429 <= 0.02,
        }
        print(
            f"{'':26s} ratios adaptive/vendor: requests {a.requests_per_task / v.requests_per_task:.2f}x"
            f"  p50 {a.p50 / max(v.p50, 1e-9):.2f}x  p95 {a.p95 / max(v.p95, 1e-9):.2f}x"
            f"  429s {share_429:.1%} of requests   ({time.perf_counter() - t0:.0f} s real)"
        )
        verdicts.append((mix.name, met))
    print(
        "targets (adaptive): "
        + "; ".join(
            f"{name}: " + ", ".join(f"{k} {'met' if ok else 'NOT met'}" for k, ok in met.items())
            for name, met in verdicts
        )
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
    parser.add_argument("--part", choices=("1", "2", "both"), default="both")
    args = parser.parse_args()
    if args.part in ("1", "both"):
        # A fine clock step: the scheduler sleeps until the exact instant a token is due, and a
        # coarse step would quantize the paced rate (a 12/s budget on 0.05 s steps sends 10/s).
        await compare(0.01)
    if args.part == "1":
        return
    if args.quick:
        await many_jobs(1000, 15.0, 2.0)
    else:
        # Longer tasks (x3) on a 2x clock, so all 5,000 are in flight together.
        await many_jobs(5000, 50.0, 2.0)


if __name__ == "__main__":
    asyncio.run(main())
