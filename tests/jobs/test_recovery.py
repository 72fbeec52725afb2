"""A crash injected at every write of a job's life, then a new engine on the same database file.

Each job must end exactly once: delivered (once, except the documented window between the
delivery layer accepting and the ``delivered`` write), or failed with its reservation released
once (effects counted by job id; raw hook calls may repeat only in the window between the hook
returning and its confirmation being written). Listeners run once per delivered job, again only
after a crash between their return and the write that releases the files. The member's
interaction token is gone from every ended job whose member was told.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.clock import ManualClock
from bot.jobs.engine import Engine, EngineConfig
from bot.jobs.records import NewJob, ReferenceImage, decode_request
from bot.jobs.states import ChargeState, JobState
from bot.jobs.toapis_service import ToAPIsService
from bot.storage import open_database
from tests.fakes.toapis import FakeToAPIs
from tests.jobs.conftest import (
    CountingCharge,
    RecordingDelivery,
    RecordingListener,
    request_json,
    run_for,
)


class SimulatedCrash(Exception):
    """The process died here."""


@dataclass(frozen=True)
class CrashPoint:
    method: str  # create, set_charge, transition, update
    when: str  # "before" or "after" the write commits
    target: Any = None  # the state / charge state written, or the field updated
    state: JobState | None = None  # for update: only when the job is expected in this state

    @property
    def id(self) -> str:
        return "-".join(str(x) for x in (self.when, self.method, self.target, self.state) if x)


class CrashingStore:
    """Delegate to a real store; die at one write, and stay dead."""

    def __init__(self, inner: Any, point: CrashPoint) -> None:
        self._inner = inner
        self._point = point
        self.crashed = False

    def _matches(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        p = self._point
        if method != p.method:
            return False
        if method == "transition":
            return args[2] == p.target
        if method == "set_charge":
            return args[2] == p.target
        if method == "update":
            return p.target in kwargs and (p.state is None or args[1] == p.state)
        return True

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.crashed:
                raise SimulatedCrash("dead")
            hit = self._matches(name, args, kwargs)
            if hit and self._point.when == "before":
                self.crashed = True
                raise SimulatedCrash(f"before {name}")
            result = await attr(*args, **kwargs)
            if hit and result is not None:
                self.crashed = True
                raise SimulatedCrash(f"after {name}")
            return result

        return call


S = JobState
C = ChargeState
# (crash point, script outcome, expected final state, at-least-once window hit)
CASES = [
    (CrashPoint("create", "after"), "completed", S.FAILED, None),
    (CrashPoint("set_charge", "after", C.RESERVED), "completed", S.DELIVERED, None),
    (CrashPoint("transition", "after", S.UPLOADING), "completed", S.DELIVERED, None),
    (CrashPoint("update", "after", "references"), "completed", S.DELIVERED, None),
    (CrashPoint("transition", "after", S.SUBMITTING), "completed", S.FAILED, None),
    (CrashPoint("transition", "before", S.SUBMITTED), "completed", S.FAILED, None),
    (CrashPoint("transition", "after", S.SUBMITTED), "completed", S.DELIVERED, None),
    (CrashPoint("transition", "after", S.RUNNING), "completed", S.DELIVERED, None),
    (CrashPoint("transition", "before", S.COMPLETED), "completed", S.DELIVERED, None),
    (CrashPoint("transition", "after", S.COMPLETED), "completed", S.DELIVERED, None),
    (CrashPoint("update", "after", "files"), "completed", S.DELIVERED, None),
    (CrashPoint("transition", "after", S.DELIVERING), "completed", S.DELIVERED, None),
    (CrashPoint("transition", "before", S.DELIVERED), "completed", S.DELIVERED, "delivery"),
    (CrashPoint("transition", "after", S.DELIVERED), "completed", S.DELIVERED, None),
    (CrashPoint("set_charge", "before", C.COMMITTED), "completed", S.DELIVERED, "charge"),
    (CrashPoint("set_charge", "after", C.COMMITTED), "completed", S.DELIVERED, None),
    (CrashPoint("update", "before", "files", S.DELIVERED), "completed", S.DELIVERED, "listeners"),
    (CrashPoint("update", "after", "files", S.DELIVERED), "completed", S.DELIVERED, None),
    (CrashPoint("transition", "before", S.FAILED), "failed", S.FAILED, None),
    (CrashPoint("transition", "after", S.FAILED), "failed", S.FAILED, None),
    (CrashPoint("set_charge", "before", C.RELEASED), "failed", S.FAILED, "charge"),
    (CrashPoint("update", "before", "notified"), "failed", S.FAILED, "notice"),
]


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 30)).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("point", "outcome", "final", "window"),
    CASES,
    ids=[c[0].id for c in CASES],
)
async def test_crash_then_restart_ends_exactly_once(
    tmp_path: Path,
    fake_toapis: FakeToAPIs,
    clock: ManualClock,
    service: ToAPIsService,
    point: CrashPoint,
    outcome: str,
    final: JobState,
    window: str | None,
) -> None:
    fake_toapis.script(queue_s=2, run_s=30, outcome=outcome)
    ref_path = tmp_path / "ref.png"
    ref_path.write_bytes(_png())
    url = f"sqlite:///{tmp_path / 'atelier.db'}"
    config = EngineConfig(data_dir=tmp_path / "data", poll_rate=50.0)
    delivery = RecordingDelivery()
    charge = CountingCharge()
    listener = RecordingListener()
    new = NewJob(
        member_id=5,
        request=decode_request(request_json()),
        interaction_token="secret-token",
        references=(ReferenceImage("ref.png", "image/png", path=str(ref_path)),),
    )

    db = await open_database(url)
    crashing = CrashingStore(db.jobs, point)
    first = Engine(
        crashing,  # type: ignore[arg-type]
        db.durations,
        service,
        delivery,
        listeners=[listener],
        config=config,
        clock=clock,
        charge=charge,
    )
    await first.start()
    try:
        job = await first.submit(new)
        job_id = job.id
    except SimulatedCrash:
        job_id = 1  # the crash hit right after the row was written
    for _ in range(200):
        if crashing.crashed:
            break
        await run_for(first, clock, 0.5)
    assert crashing.crashed, "the crash point was never reached"
    await first.stop()
    await db.close()

    db = await open_database(url)
    try:
        second = Engine(
            db.jobs,
            db.durations,
            service,
            delivery,
            listeners=[listener],
            config=config,
            clock=clock,
            charge=charge,
        )
        await second.start()
        await run_for(second, clock, 60)
        await second.stop()
        stored = await db.jobs.get(job_id)
    finally:
        await db.close()

    assert stored is not None
    assert stored.state == final, stored.error_message
    assert stored.charge_state in (C.COMMITTED, C.RELEASED)
    delivered = delivery.delivered_ids().count(job_id)
    if final == S.DELIVERED:
        assert delivered == (2 if window == "delivery" else 1)
        assert charge.committed == {job_id} and charge.released == set()
        assert stored.charge_state == C.COMMITTED
        assert listener.ids() == [job_id] * (2 if window == "listeners" else 1)
        assert all(listener.files_present)
        assert stored.files == ()
        assert not (tmp_path / "data" / "results" / str(job_id)).exists()
    else:
        assert delivered == 0
        assert listener.calls == []
        assert charge.released == {job_id} and charge.committed == set()
        assert stored.charge_state == C.RELEASED
        assert stored.notified
        notices = [j.id for j in delivery.failures].count(job_id)
        assert notices == (2 if window == "notice" else 1)
    calls = charge.commit_calls + charge.release_calls
    assert calls.count(job_id) == (2 if window == "charge" else 1)
    assert stored.interaction_token is None
    if point == CrashPoint("transition", "before", S.SUBMITTED):
        # The task was created (and the service charged it) but its id was lost with the crash.
        assert stored.error_code == "submission_unconfirmed"
