"""Fixtures for the job engine tests: a database file, the real client on the fake ToAPIs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from bot.clock import ManualClock
from bot.jobs.engine import Engine, EngineConfig
from bot.jobs.hooks import DeliveryFailed
from bot.jobs.records import Job, NewJob, decode_request
from bot.jobs.store import JobStore
from bot.jobs.toapis_service import ToAPIsService
from bot.storage import Database, open_database
from bot.toapis import RetryPolicy, ToAPIsClient
from tests.fakes.toapis import FakeToAPIs


def request_json(resolution: str = "1k", **extra: object) -> str:
    """Return a valid generation request as stored in a job row."""
    body: dict[str, object] = {
        "model": "gpt-image-1.5-official",
        "prompt": "a lighthouse at dusk",
        "size": "1:1" if resolution != "4k" else "16:9",
        "resolution": resolution,
        "quality": "high",
        "n": 1,
    }
    body.update(extra)
    return json.dumps(body)


def new_job(member_id: int = 42, resolution: str = "1k", **extra: object) -> NewJob:
    """Return a job as the Discord layer would hand it over."""
    return NewJob(
        member_id=member_id,
        guild_id=1,
        channel_id=2,
        interaction_token="secret-token",
        request=decode_request(request_json(resolution, **extra)),
    )


class RecordingDelivery:
    """A Delivery that records calls; ``fail_next`` scripts DeliveryFailed / crashes."""

    def __init__(self) -> None:
        self.delivered: list[tuple[int, list[bytes]]] = []
        self.failures: list[Job] = []
        self.cancellations: list[tuple[Job, str]] = []
        self.progress_calls: list[Job] = []
        self.fail_next: list[BaseException] = []
        self.on_deliver: Callable[[Job], Awaitable[None]] | None = None

    async def progress(self, job: Job) -> None:
        self.progress_calls.append(job)

    async def deliver(self, job: Job, files: list[Path]) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.delivered.append((job.id, [f.read_bytes() for f in files]))
        if self.on_deliver is not None:
            await self.on_deliver(job)

    async def failed(self, job: Job) -> None:
        self.failures.append(job)

    async def cancelled(self, job: Job, by: str) -> None:
        self.cancellations.append((job, by))

    def delivered_ids(self) -> list[int]:
        return [job_id for job_id, _ in self.delivered]


class RecordingListener:
    """A JobListener that records each call with what the store and the disk showed then."""

    def __init__(self, jobs: JobStore | None = None) -> None:
        self.jobs = jobs  # when set, each call also records the stored job at that moment
        self.calls: list[Job] = []
        self.stored: list[Job | None] = []
        self.files_present: list[bool] = []
        self.before: Callable[[Job], Awaitable[None]] | None = None

    async def job_delivered(self, job: Job, files: list[Path]) -> None:
        if self.before is not None:
            await self.before(job)
        self.calls.append(job)
        self.files_present.append(bool(files) and all(f.is_file() for f in files))
        if self.jobs is not None:
            self.stored.append(await self.jobs.get(job.id))

    def ids(self) -> list[int]:
        return [job.id for job in self.calls]


class CountingCharge:
    """A ChargeHook that counts calls and applies each effect once per job (idempotent)."""

    def __init__(self) -> None:
        self.reserved: list[int] = []
        self.commit_calls: list[int] = []
        self.release_calls: list[int] = []
        self.committed: set[int] = set()
        self.released: set[int] = set()
        self.refuse = False
        self.raise_on: set[str] = set()

    async def reserve(self, job: Job) -> float | None:
        if self.refuse:
            raise RuntimeError("You have no generations left today.")
        self.reserved.append(job.id)
        return 1.0

    async def commit(self, job: Job) -> None:
        self.commit_calls.append(job.id)
        if "commit" in self.raise_on:
            raise RuntimeError("quota store down")
        self.committed.add(job.id)

    async def release(self, job: Job) -> None:
        self.release_calls.append(job.id)
        if "release" in self.raise_on:
            raise RuntimeError("quota store down")
        self.released.add(job.id)


@pytest.fixture
def clock(fake_toapis: FakeToAPIs) -> ManualClock:
    return fake_toapis.clock


@pytest_asyncio.fixture
async def db_path(tmp_path: Path) -> Path:
    return tmp_path / "atelier.db"


@pytest_asyncio.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    database = await open_database(f"sqlite:///{db_path}")
    try:
        yield database
    finally:
        await database.close()


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def _no_sleep(_: float) -> None:
    return None


@pytest.fixture
def service(fake_toapis: FakeToAPIs, session: aiohttp.ClientSession) -> ToAPIsService:
    client = ToAPIsClient(
        session,
        base_url=fake_toapis.base_url,
        api_key=fake_toapis.api_key,
        retry=RetryPolicy(max_retries=0),
        sleep=_no_sleep,
    )
    return ToAPIsService(client)


@pytest.fixture
def delivery() -> RecordingDelivery:
    return RecordingDelivery()


@pytest.fixture
def charge() -> CountingCharge:
    return CountingCharge()


@pytest.fixture
def config(tmp_path: Path) -> EngineConfig:
    return EngineConfig(data_dir=tmp_path / "data", poll_rate=50.0)


EngineFactory = Callable[..., Engine]


@pytest_asyncio.fixture
async def make_engine(
    db: Database,
    service: ToAPIsService,
    delivery: RecordingDelivery,
    charge: CountingCharge,
    config: EngineConfig,
    clock: ManualClock,
) -> AsyncIterator[EngineFactory]:
    engines: list[Engine] = []

    def factory(**overrides: object) -> Engine:
        kwargs: dict[str, object] = {
            "config": config,
            "clock": clock,
            "charge": charge,
        }
        kwargs.update(overrides)
        engine = Engine(
            kwargs.pop("jobs", db.jobs),  # type: ignore[arg-type]
            db.durations,
            kwargs.pop("service", service),  # type: ignore[arg-type]
            kwargs.pop("delivery", delivery),  # type: ignore[arg-type]
            **kwargs,  # type: ignore[arg-type]
        )
        engines.append(engine)
        return engine

    try:
        yield factory
    finally:
        for engine in engines:
            await engine.stop()


async def run_for(engine: Engine, clock: ManualClock, seconds: float, step: float = 0.5) -> None:
    """Advance the frozen clock ``seconds`` in ``step``s, letting the engine settle each time."""
    await engine.wait_idle()
    elapsed = 0.0
    while elapsed < seconds - 1e-9:
        clock.advance(step)
        elapsed += step
        engine.wake()
        await engine.wait_idle()


__all__ = ["DeliveryFailed", "new_job", "request_json", "run_for"]
