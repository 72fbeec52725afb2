"""The poller against the fake ToAPIs: budget, fairness with 1,000 tasks, 429 storms, limits."""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections import Counter, defaultdict

import aiohttp
import pytest

from bot.clock import ManualClock
from bot.jobs.poller import RateBudget, TaskPoller
from bot.jobs.records import decode_request
from bot.jobs.service import TaskPhase, TaskSnapshot
from bot.jobs.states import FailureCode
from bot.jobs.strategy import (
    QUEUE,
    RUN,
    AdaptiveStrategy,
    DurationModel,
    PollStrategy,
    TrackedTask,
    VendorRhythm,
)
from bot.jobs.toapis_service import ToAPIsService
from bot.toapis import ToAPIsClient
from tests.fakes.toapis import FakeToAPIs
from tests.fakes.toapis_model import TaskScript
from tests.jobs.conftest import _no_sleep, request_json


class Outcomes:
    """A PollListener that records what happened to each task, and when it was seen."""

    def __init__(self, clock: ManualClock | None = None) -> None:
        self.clock = clock
        self.finished: dict[int, TaskSnapshot] = {}
        self.seen_at: dict[int, float] = {}  # clock time the final answer was reported
        self.lost: dict[int, str] = {}
        self.changes = 0

    async def task_changed(self, task: TrackedTask, snapshot: TaskSnapshot) -> None:
        self.changes += 1

    async def task_finished(self, task: TrackedTask, snapshot: TaskSnapshot) -> None:
        self.finished[task.key] = snapshot
        if self.clock is not None:
            self.seen_at[task.key] = self.clock.now()

    async def task_lost(self, task: TrackedTask, code: FailureCode, detail: str) -> None:
        self.lost[task.key] = code


async def _submit_many(fake: FakeToAPIs, service: ToAPIsService, n: int) -> list[str]:
    rng = random.Random(7)
    fake.script_next(*(TaskScript(queue_s=1, run_s=rng.uniform(10, 50)) for _ in range(n)))
    body = decode_request(request_json())
    return [(await service.submit(body, [], None)).id for _ in range(n)]


async def _drive(poller: TaskPoller, clock: ManualClock, seconds: float, step: float) -> None:
    await poller.wait_idle()
    t = 0.0
    while t < seconds:
        clock.advance(step)
        t += step
        poller.wake()
        await poller.wait_idle()


async def _track_and_drive(
    poller: TaskPoller,
    ids: list[str],
    start: float,
    clock: ManualClock,
    seconds: float,
    step: float,
) -> None:
    """Track every task as submitted at ``start``, run the poller for ``seconds``, stop it."""
    for key, task_id in enumerate(ids):
        poller.track(key, task_id, profile="m/1k/high", submitted_at=start, deadline_at=start + 900)
    poller.start()
    try:
        await _drive(poller, clock, seconds, step)
    finally:
        await poller.stop()


def _poller(
    service: ToAPIsService,
    listener: Outcomes,
    clock: ManualClock,
    strategy: PollStrategy,
    rate: float,
) -> TaskPoller:
    return TaskPoller(
        service.get_task,
        listener,
        clock=clock,
        strategy=strategy,
        budget=RateBudget(rate, burst=rate),
        max_in_flight=8,
        rng=random.Random(1),
    )


async def test_thousand_tasks_respect_budget_and_none_starves(
    fake_toapis: FakeToAPIs, service: ToAPIsService, clock: ManualClock
) -> None:
    ids = await _submit_many(fake_toapis, service, 1000)
    start = clock.now()
    outcomes = Outcomes()
    rate = 25.0
    poller = _poller(service, outcomes, clock, VendorRhythm(), rate)
    await _track_and_drive(poller, ids, start, clock, 150, 0.5)

    statuses = [r for r in fake_toapis.requests_to("status")]
    per_second = Counter(int(r.clock_time - start) for r in statuses)
    # Never more than the steady rate plus the initial burst in any clock second.
    assert max(per_second.values()) <= 2 * rate
    assert len(statuses) <= rate * 150 + rate
    # Every task polled and finished: nobody starves behind the others.
    assert len(outcomes.finished) == 1000 and not outcomes.lost
    times: dict[str, list[float]] = defaultdict(list)
    for r in statuses:
        times[r.task_id or ""].append(r.clock_time)
    assert set(times) == set(ids)
    # Under a budget far below demand, each task's turn comes round at about n / rate.
    worst_gap = max(b - a for ts in times.values() for a, b in itertools.pairwise(ts))
    assert worst_gap <= 1000 / rate + 10


async def test_rate_limit_storm_pauses_everyone(
    fake_toapis: FakeToAPIs, service: ToAPIsService, clock: ManualClock
) -> None:
    ids = await _submit_many(fake_toapis, service, 50)
    start = clock.now()
    outcomes = Outcomes()
    poller = _poller(service, outcomes, clock, VendorRhythm(), 20.0)
    fake_toapis.faults.add(
        "rate_limit",
        endpoint="status",
        times=3,
        retry_after=7,
        match=lambda r: r.clock_time >= start + 10,
    )
    await _track_and_drive(poller, ids, start, clock, 90, 0.25)
    statuses = fake_toapis.requests_to("status")
    limited = [r for r in statuses if r.status == 429]
    assert limited
    first = limited[0].clock_time
    # Requests already in flight when the first 429 came back may land at the same instant;
    # after that, nobody asks again until Retry-After has passed.
    during = [r for r in statuses if first < r.clock_time < first + 7]
    assert during == []
    assert poller.stats.rate_limited == len(limited)
    assert len(outcomes.finished) == 50


async def test_adaptive_polls_less_and_detects_sooner_than_vendor_rhythm(
    fake_toapis: FakeToAPIs, service: ToAPIsService, clock: ManualClock
) -> None:
    ids = await _submit_many(fake_toapis, service, 40)
    start = clock.now()
    vendor, adaptive = Outcomes(clock), Outcomes(clock)
    pollers = [
        _poller(service, vendor, clock, VendorRhythm(), 100.0),
        _poller(service, adaptive, clock, AdaptiveStrategy(), 100.0),
    ]
    for poller in pollers:
        for key, task_id in enumerate(ids):
            poller.track(
                key, task_id, profile="m/1k/high", submitted_at=start, deadline_at=start + 900
            )
        poller.start()
    try:
        for _ in range(int(80 / 0.25)):
            clock.advance(0.25)
            for poller in pollers:
                poller.wake()
            for poller in pollers:
                await poller.wait_idle()
    finally:
        for poller in pollers:
            await poller.stop()
    assert len(vendor.finished) == len(adaptive.finished) == 40
    assert pollers[1].stats.requests < pollers[0].stats.requests

    # Detection latency: from the moment the fake finished each task to the poll that saw it.
    def latencies(outcomes: Outcomes) -> list[float]:
        ends = [fake_toapis.tasks[task_id].ends_at for task_id in ids]
        return [outcomes.seen_at[key] - ends[key] for key in range(len(ids))]

    slow, fast = latencies(vendor), latencies(adaptive)
    assert min(slow) >= 0 and min(fast) >= 0  # nobody reports a task before it ended
    assert statistics.median(fast) < statistics.median(slow) / 2
    assert statistics.mean(fast) < statistics.mean(slow)
    # Sooner task by task, not only on average (ties: both polls fell in the same step).
    assert sum(f <= s for f, s in zip(fast, slow, strict=True)) >= 0.8 * len(ids)


async def test_transient_errors_back_off_and_not_found_is_final(
    fake_toapis: FakeToAPIs, service: ToAPIsService, clock: ManualClock
) -> None:
    ids = await _submit_many(fake_toapis, service, 2)
    start = clock.now()
    fake_toapis.faults.add(
        "server_error", endpoint="status", times=3, match=lambda r: r.task_id == ids[0]
    )
    fake_toapis.forget(ids[1])
    outcomes = Outcomes()
    poller = _poller(service, outcomes, clock, VendorRhythm(), 10.0)
    await _track_and_drive(poller, ids, start, clock, 120, 0.5)
    assert outcomes.lost == {1: "task_not_found"}
    assert 0 in outcomes.finished
    assert poller.stats.errors == 3


def test_budget_token_bucket() -> None:
    budget = RateBudget(2.0, burst=2.0)
    assert budget.take(0.0) == 0.0
    assert budget.take(0.0) == 0.0
    assert budget.take(0.0) == 0.5
    assert budget.take(0.5) == 0.0
    budget.drain(1.0)
    assert budget.take(1.0) == 0.5


def _demand(budget: RateBudget, start: float, seconds: float, step: float = 0.05) -> list[int]:
    """Ask for a token every ``step`` clock seconds; return the tokens granted per second."""
    granted = [0] * max(1, math.ceil(seconds))
    t = start
    while t < start + seconds - 1e-9:
        while budget.take(t) == 0.0:
            granted[min(int(t - start), len(granted) - 1)] += 1
        t += step
    return granted


def test_budget_grows_while_used_up_up_to_its_ceiling() -> None:
    budget = RateBudget(5.0, ceiling=20.0, burst_seconds=0.25)
    granted = _demand(budget, 0.0, 2.0)
    # No limit known yet: growth is quick (x3 a second), the ceiling within 2 s, but gradual:
    # the first second gets about 5 * 2 / ln 3 = 9.1 tokens (and the bucket's 1.25), not 20.
    assert 8 <= granted[0] <= 11
    assert budget.rate == pytest.approx(20.0)
    granted += _demand(budget, 2.0, 8.0)
    # The bucket never lets more than the ceiling (and its burst) through in a second.
    assert all(g <= 20 * 1.25 + 1 for g in granted)
    assert sum(granted[2:]) >= 0.9 * 20 * 8


def test_budget_does_not_grow_on_light_demand_and_a_fixed_budget_never_grows() -> None:
    adaptive = RateBudget(5.0, ceiling=50.0)
    for second in range(60):  # two requests a second: the bucket is never used up
        assert adaptive.take(float(second)) == 0.0
        assert adaptive.take(second + 0.5) == 0.0
    assert adaptive.rate == 5.0
    fixed = RateBudget(5.0)
    _demand(fixed, 0.0, 10.0)
    assert fixed.rate == 5.0 and not fixed.adaptive


def test_budget_cut_on_429_once_per_storm_grows_back_near_the_limit_then_probes_slowly() -> None:
    # Cut deeper than the default 0.8x, so that the regrowth below the threshold shows.
    budget = RateBudget(5.0, ceiling=40.0, burst_seconds=0.25, cut=0.6)
    granted = _demand(budget, 0.0, 4.0)
    assert budget.rate == pytest.approx(40.0)
    for t in (4.0, 4.01, 4.5):  # the requests in flight when the limit was hit
        budget.rate_limited(t)
    assert budget.cuts == 1
    # The limit is what was sent in the last second: the rate, used up (within a token of 40).
    limit = budget.threshold / 0.9
    assert granted[-1] - 1 <= limit <= 40.0
    assert budget.rate == pytest.approx(0.6 * limit)
    assert budget.burst == 1.0  # a limit was seen: paced evenly from now on, no bursts
    budget.drain(5.0)  # the poller pauses for Retry-After, then resumes at the steady rate
    _demand(budget, 5.0, 1.0)
    assert budget.rate == pytest.approx(0.6 * limit)  # no growth right after a cut
    _demand(budget, 6.0, 0.5)
    # Regrowth once a limit is known is slower than the first growth: x1.5 a second, not x3.
    assert budget.rate == pytest.approx(0.6 * limit * 1.5**0.5, rel=0.05)
    _demand(budget, 6.5, 2.5)
    # Back up (multiplicative) to 90 % of the limit found, not past it.
    assert budget.rate == pytest.approx(0.9 * limit, rel=0.02)
    granted = _demand(budget, 9.0, 10.0, step=0.01)
    # Past it: additive probing, 0.3 % of the threshold a second, still below the limit; and
    # no second ever gets more than the rate's share (no burst on top of it).
    assert 0.9 * limit < budget.rate < 0.9 * limit * (1 + 0.003 * 13)  # 13 s since the hold
    assert max(granted) <= math.ceil(budget.rate) + 1
    budget.rate_limited(19.0)
    assert budget.cuts == 2 and budget.rate < 0.6 * limit
    for t in range(20, 40):  # a long storm never takes the rate below the floor
        budget.rate_limited(float(t) * 3)
    assert budget.rate == pytest.approx(budget.floor)


def test_a_429_takes_what_was_sent_as_the_limit_not_a_rate_that_ran_ahead() -> None:
    # The rate grew on a backlog, then demand fell to 16 requests a second: a 429 now says the
    # service takes fewer (a limit shared with others, or lower than thought). Settling near
    # the nominal rate would draw 429 after 429.
    budget = RateBudget(10.0, ceiling=50.0)
    _demand(budget, 0.0, 1.0)
    assert budget.rate > 25.0
    for i in range(32):  # two seconds at 16 a second: never used up, the rate stays
        assert budget.take(1.0 + (i + 1) / 16) == 0.0
    budget.rate_limited(3.0)
    # 16 sent in the last second: that is the limit now (cut to 0.8x, settling at 0.9x).
    assert budget.threshold == pytest.approx(0.9 * 16)
    assert budget.rate == pytest.approx(0.8 * 16)


def test_budget_waits_move_a_float_clock() -> None:
    # Far from the epoch a tiny wait can vanish in rounding (now + wait == now): the scheduler
    # would then spin without sleeping. Every wait returned must move the clock forward.
    budget = RateBudget(10.0, ceiling=50.0, burst_seconds=0.25)
    now = 1.0e6 + 0.123
    taken = 0
    for _ in range(20_000):
        wait = budget.take(now)
        if wait == 0:
            taken += 1
            continue
        assert now + wait > now
        now += wait
    assert taken > 1_000


def test_budget_share_divides_start_and_ceiling_and_scales_what_was_learned() -> None:
    budget = RateBudget(6.0, ceiling=30.0)
    _demand(budget, 0.0, 3.0)
    learned = budget.rate
    budget.share(3.0, 15.0)
    assert (budget.start_rate, budget.ceiling) == (3.0, 15.0)
    assert budget.rate == pytest.approx(learned / 2)
    budget.share(6.0, 30.0)
    assert budget.rate == pytest.approx(learned)


def _adaptive() -> AdaptiveStrategy:
    # The bounds the bot ships with (bot.app.services.poll_strategy and the settings' defaults).
    return AdaptiveStrategy(DurationModel(), min_gap=1.0, max_gap=10.0, overdue_gap=3.0)


async def _run_scripts(
    fake: FakeToAPIs,
    service: ToAPIsService,
    clock: ManualClock,
    strategy: PollStrategy,
    scripts: list[TaskScript],
    *,
    spacing: float,
    step: float = 0.1,
) -> tuple[Outcomes, list[float], TaskPoller]:
    """Submit one task every ``spacing`` seconds; return outcomes and each task's detection delay."""
    outcomes = Outcomes(clock)
    poller = TaskPoller(
        service.get_task,
        outcomes,
        clock=clock,
        strategy=strategy,
        budget=RateBudget(5.0, ceiling=20.0, burst_seconds=0.25),
        rng=random.Random(1),
    )
    poller.start()
    ids: list[str] = []
    body = decode_request(request_json())
    next_at = clock.now()
    try:
        while len(ids) < len(scripts) or len(poller):
            if len(ids) < len(scripts) and clock.now() >= next_at:
                fake.script_next(scripts[len(ids)])
                task_id = (await service.submit(body, [], None)).id
                now = clock.now()
                poller.track(
                    len(ids), task_id, profile="m/1k/high", submitted_at=now, deadline_at=now + 900
                )
                ids.append(task_id)
                next_at = now + spacing
            clock.advance(step)
            poller.wake()
            await poller.wait_idle()
    finally:
        await poller.stop()
    delays = [outcomes.seen_at[k] - fake.tasks[t].ends_at for k, t in enumerate(ids)]
    return outcomes, delays, poller


async def test_a_quick_failure_is_seen_within_3_s_on_a_fresh_install(
    fake_toapis: FakeToAPIs, service: ToAPIsService, clock: ManualClock
) -> None:
    scripts = [TaskScript(queue_s=1.0, run_s=3.0, outcome="failed")]
    outcomes, delays, _ = await _run_scripts(
        fake_toapis, service, clock, _adaptive(), scripts, spacing=1
    )
    assert outcomes.finished[0].phase.value == "failed"
    assert 0 <= delays[0] <= 3.0


async def test_learning_converges_within_a_few_tasks(
    fake_toapis: FakeToAPIs, service: ToAPIsService, clock: ManualClock
) -> None:
    rng = random.Random(3)
    scripts = [TaskScript(queue_s=rng.uniform(1, 2), run_s=rng.uniform(7, 9)) for _ in range(8)]
    strategy = _adaptive()
    _, delays, poller = await _run_scripts(
        fake_toapis, service, clock, strategy, scripts, spacing=12
    )
    model = strategy.durations
    # From a 15 s render prior to the ~8 s it really takes, and a 1-2 s queue.
    run_mu, _ = model.phase("run", "m/1k/high")
    queue_mu, _ = model.phase("queue", "m/1k/high")
    assert 6.5 <= math.exp(run_mu) <= 9.5
    assert 0.7 <= math.exp(queue_mu) <= 2.5
    assert model.fail_share("m/1k/high") < 0.06  # no failure seen: early probes fade
    # Learned and persisted per profile and overall.
    assert {"run:m/1k/high", "run:*", "queue:m/1k/high", "queue:*"} <= set(model.take_dirty())
    # The last tasks are seen promptly and with few requests.
    assert max(delays[-3:]) <= 1.5
    assert poller.stats.requests <= 8 * 4


async def test_failures_teach_the_failure_share_and_time(
    fake_toapis: FakeToAPIs, service: ToAPIsService, clock: ManualClock
) -> None:
    scripts = [TaskScript(queue_s=0.5, run_s=2.0, outcome="failed") for _ in range(4)]
    strategy = _adaptive()
    await _run_scripts(fake_toapis, service, clock, strategy, scripts, spacing=8)
    model = strategy.durations
    assert model.fail_share("m/1k/high") > 0.5
    assert 1.5 <= math.exp(model.phase("fail", "m/1k/high")[0]) <= 4.0


async def test_a_tight_budget_starves_no_task(
    fake_toapis: FakeToAPIs, service: ToAPIsService, clock: ManualClock
) -> None:
    # 300 tasks at once against a fixed 5/s budget: far more due than tokens for a while.
    ids = await _submit_many(fake_toapis, service, 300)
    start = clock.now()
    outcomes = Outcomes(clock)
    poller = _poller(service, outcomes, clock, _adaptive(), 5.0)
    await _track_and_drive(poller, ids, start, clock, 400, 0.5)
    assert len(outcomes.finished) == 300 and not outcomes.lost
    delays = [outcomes.seen_at[k] - fake_toapis.tasks[t].ends_at for k, t in enumerate(ids)]
    # Bounded: no task waits much longer than the whole backlog takes to serve once.
    assert max(delays) <= 300 / 5.0 + 10


async def test_a_burst_of_a_new_profile_learns_from_its_first_tasks(
    fake_toapis: FakeToAPIs, service: ToAPIsService, clock: ManualClock
) -> None:
    # 30 tasks of 2-4 s within 3 s on a fresh install, whose prior expects ~17 s: the first ends
    # seen teach the profile, and the tasks still waiting are replanned, not left on the prior.
    rng = random.Random(5)
    scripts = [TaskScript(queue_s=0.5, run_s=rng.uniform(1.5, 3.5)) for _ in range(30)]
    strategy = _adaptive()
    outcomes, delays, poller = await _run_scripts(
        fake_toapis, service, clock, strategy, scripts, spacing=0.1
    )
    assert len(outcomes.finished) == 30
    assert statistics.median(delays) <= 1.0
    assert max(delays) <= 2.5
    assert poller.stats.requests <= 30 * 2.5  # the vendor's 2.5 s rhythm needs 1-2 a task
    assert math.exp(strategy.durations.prior("m/1k/high")[0]) < 6.0


def test_replanning_moves_up_waiting_polls_once_the_profile_proves_fast() -> None:
    strategy = _adaptive()
    task = TrackedTask(key=1, task_id="t", profile="m/1k/high", origin=0.0, deadline=900.0)
    task.observe(2.0, TaskSnapshot(id="t", phase=TaskPhase.QUEUED))
    task.due = strategy.next_poll(task, 2.0)
    done = TaskSnapshot(id="d", phase=TaskPhase.COMPLETED, progress=100)
    for key in range(3):  # three tasks of the profile seen done at 2.5 s
        other = TrackedTask(
            key=10 + key, task_id="d", profile="m/1k/high", origin=0.0, deadline=900
        )
        other.observe(2.0, TaskSnapshot(id="d", phase=TaskPhase.QUEUED))
        assert strategy.finished(other, 2.5, done)  # young: the poller should replan
    sooner = strategy.replan(task, 2.5)
    assert 2.5 <= sooner < task.due
    # The vendor's rhythm learns nothing and keeps its schedule.
    assert not VendorRhythm().finished(task, 2.5, done)
    assert VendorRhythm().replan(task, 2.5) == task.due


def test_replanning_defers_a_waiting_poll_once_the_profile_proves_slower() -> None:
    # Seen at 42 % at 2.7 s on a fresh install, the task's next poll is placed on the prior
    # (a 2 s queue, so a late start and a fast render). Three tasks of the profile then show
    # a 0.6 s queue: this one started early too, renders at ~20 %/s and ends near 5.5 s. The
    # poll planned on the prior would find it still running and need another.
    strategy = _adaptive()
    task = TrackedTask(key=1, task_id="t", profile="m/1k/high", origin=0.0, deadline=900.0)
    task.observe(2.7, TaskSnapshot(id="t", phase=TaskPhase.RUNNING, progress=42))
    task.due = strategy.next_poll(task, 2.7)
    assert task.due < 5.0
    done = TaskSnapshot(id="d", phase=TaskPhase.COMPLETED, progress=100)
    for key in range(3):
        other = TrackedTask(
            key=10 + key, task_id="d", profile="m/1k/high", origin=0.0, deadline=900
        )
        other.observe(1.0, TaskSnapshot(id="d", phase=TaskPhase.RUNNING, progress=10))
        other.observe(2.0, TaskSnapshot(id="d", phase=TaskPhase.RUNNING, progress=35))
        assert strategy.finished(other, 4.6, done)
    later = strategy.replan(task, 4.6)
    assert task.due + 0.3 < later < 5.6


class _ScriptedReplan:
    """A strategy that says when each poll goes, and where a replan moves a waiting one."""

    def __init__(self, replanned: float) -> None:
        self.replanned = replanned

    def first_poll(self, task: TrackedTask, now: float) -> float:
        return task.origin + (1.0 if task.task_id == "slow" else 2.0)

    def next_poll(self, task: TrackedTask, now: float) -> float:
        return now + 3.0

    def unseen_wait(self, task: TrackedTask, now: float) -> float:
        return 0.0

    def finished(self, task: TrackedTask, now: float, snapshot: TaskSnapshot) -> bool:
        return True

    def replan(self, task: TrackedTask, now: float) -> float:
        return self.replanned


@pytest.mark.parametrize("replanned", [3.0, 6.0])
async def test_the_poller_moves_a_waiting_poll_where_the_replan_puts_it(
    clock: ManualClock, replanned: float
) -> None:
    # "slow" is seen running at 1 s, its next poll planned at 4 s; "teacher" is seen done at
    # 2 s and teaches its profile: the poll of "slow" moves to the replan's time, sooner or later.
    polls: dict[str, list[float]] = defaultdict(list)
    origin = clock.monotonic()

    async def fetch(task_id: str) -> TaskSnapshot:
        polls[task_id].append(clock.monotonic() - origin)
        if task_id == "teacher" or len(polls[task_id]) > 1:
            return TaskSnapshot(id=task_id, phase=TaskPhase.COMPLETED, progress=100)
        return TaskSnapshot(id=task_id, phase=TaskPhase.RUNNING, progress=20)

    strategy: PollStrategy = _ScriptedReplan(origin + replanned)
    poller = TaskPoller(
        fetch, Outcomes(clock), clock=clock, strategy=strategy, budget=RateBudget(10.0)
    )
    now = clock.now()
    for key, task_id in enumerate(("slow", "teacher")):
        poller.track(key, task_id, profile="m/1k/high", submitted_at=now, deadline_at=now + 900)
    poller.start()
    try:
        await _drive(poller, clock, 8.0, 0.05)
    finally:
        await poller.stop()
    assert polls["teacher"] == [pytest.approx(2.0, abs=0.06)]
    assert polls["slow"] == [pytest.approx(1.0, abs=0.06), pytest.approx(replanned, abs=0.06)]


async def test_the_budget_finds_a_server_side_limit_without_a_429_storm(
    fake_toapis: FakeToAPIs, session: aiohttp.ClientSession, clock: ManualClock
) -> None:
    # Status requests go out without the client's own retries, so every 429 reaches the budget,
    # even with a client that retries other calls (as the bot's does).
    client = ToAPIsClient(
        session, base_url=fake_toapis.base_url, api_key=fake_toapis.api_key, sleep=_no_sleep
    )
    assert client.retry.max_retries > 0
    service = ToAPIsService(client)
    fake_toapis.status_rate_limit = 10.0
    ids = await _submit_many(fake_toapis, service, 200)
    start = clock.now()
    outcomes = Outcomes(clock)
    poller = TaskPoller(
        service.get_task,
        outcomes,
        clock=clock,
        strategy=_adaptive(),
        budget=RateBudget(10.0, ceiling=50.0, burst_seconds=0.25),
        rng=random.Random(1),
    )
    # A clock step well under the paced gap (1/10 s): on coarser steps every request would
    # wait for a step boundary and the pacing the budget asks for could not be seen.
    await _track_and_drive(poller, ids, start, clock, 300, 0.01)
    assert len(outcomes.finished) == 200 and not outcomes.lost
    statuses = fake_toapis.requests_to("status")
    refused = [r for r in statuses if r.status == 429]
    assert poller.stats.rate_limited == len(refused) >= 1  # it grew until the limit answered
    assert poller.budget.cuts >= 1
    assert len(refused) <= 0.03 * len(statuses)  # no storm
    # And it settled near the limit: after the first storm, a 429 comes alone and at least 20 s
    # after the last (the slow probe finding the limit again), never as a storm.
    times = [r.clock_time - start for r in refused]
    later = [t for t in times if t > times[0] + poller.budget.cut_hold]
    assert all(b - a >= 20.0 for a, b in itertools.pairwise([times[0], *later])), times
    assert 8.0 <= poller.budget.rate <= 11.5


def test_unseen_wait_is_the_expected_time_ended_but_unseen_since_the_last_answer() -> None:
    strategy = _adaptive()
    task = TrackedTask(key=1, task_id="t", profile="m/1k/high", origin=0.0, deadline=900.0)
    task.last_poll = 6.0
    belief = strategy.belief(task)  # log-normal components (weight, mu, sigma) of the end

    def ended_by(t: float) -> float:
        return sum(w * statistics.NormalDist(mu, s).cdf(math.log(t)) for w, mu, s in belief)

    f0 = ended_by(6.0)
    # E[(now - end)+ | not ended at 6 s], by a plain midpoint sum of P(ended by t | not by 6).
    n, now = 20_000, 20.0
    dt = (now - 6.0) / n
    expected = sum((ended_by(6.0 + (i + 0.5) * dt) - f0) / (1 - f0) for i in range(n))
    assert strategy.unseen_wait(task, now) == pytest.approx(expected * dt, rel=1e-3)
    assert strategy.unseen_wait(task, 6.0) == 0.0
    # It grows with the time since the answer (unlike a chance, which saturates at 1).
    waits = [strategy.unseen_wait(task, t) for t in (10.0, 20.0, 40.0, 80.0)]
    assert waits == sorted(waits) and waits[-1] - waits[-2] > 0.9 * 40


class _FixedWaits:
    """A strategy whose polls are all due at once, ranked by a fixed unseen wait per task."""

    def __init__(self, waits: dict[int, float]) -> None:
        self.waits = waits

    def first_poll(self, task: TrackedTask, now: float) -> float:
        return now

    def next_poll(self, task: TrackedTask, now: float) -> float:
        return now + 1000.0

    def unseen_wait(self, task: TrackedTask, now: float) -> float:
        return self.waits[task.key]

    def finished(self, task: TrackedTask, now: float, snapshot: TaskSnapshot) -> bool:
        return False

    def replan(self, task: TrackedTask, now: float) -> float:
        return task.due


async def test_a_tight_budget_polls_the_task_most_likely_waiting_longest_first(
    clock: ManualClock,
) -> None:
    waits = {0: 0.2, 1: 5.0, 2: 0.0, 3: 1.5}
    order: list[str] = []

    async def fetch(task_id: str) -> TaskSnapshot:
        order.append(task_id)
        return TaskSnapshot(id=task_id, phase=TaskPhase.COMPLETED)

    strategy: PollStrategy = _FixedWaits(waits)
    poller = TaskPoller(
        fetch,
        Outcomes(),
        clock=clock,
        strategy=strategy,
        budget=RateBudget(1.0),
        rng=random.Random(1),
    )
    start = clock.now()
    for key in waits:
        poller.track(
            key, f"t{key}", profile="m/1k/high", submitted_at=start, deadline_at=start + 900
        )
    poller.start()
    try:
        await _drive(poller, clock, 5.0, 0.05)  # one token a second: one poll at a time
    finally:
        await poller.stop()
    assert order == ["t1", "t3", "t0", "t2"]


def _learned(queue: float, render: float) -> AdaptiveStrategy:
    model = DurationModel()
    for _ in range(20):
        model.learn(QUEUE, "m/1k/high", queue)
        model.learn(RUN, "m/1k/high", render)
    return AdaptiveStrategy(model, min_gap=1.0, max_gap=10.0, overdue_gap=3.0)


def test_one_running_answer_places_the_final_poll_just_after_the_end() -> None:
    # A profile that queues ~1 s and renders ~12 s; this task began rendering at 1 s, so at
    # 8 s it shows 58 % and ends at 13 s. Its start is not seen (no queued answer), but the
    # learned times pin it down: the next poll is the final one, just after the end.
    strategy = _learned(1.0, 12.0)
    task = TrackedTask(key=1, task_id="t", profile="m/1k/high", origin=0.0, deadline=900.0)
    task.observe(8.0, TaskSnapshot(id="t", phase=TaskPhase.RUNNING, progress=58))
    (_, mu, sigma), *_ = strategy.belief(task)
    assert math.exp(mu) == pytest.approx(13.0, abs=0.3) and sigma < 0.08
    assert 13.0 <= strategy.next_poll(task, 8.0) <= 14.0


def test_the_start_estimate_stays_inside_what_the_answers_allow() -> None:
    # Learned: a 5 s queue. This task was seen queued at 1 s and running (3 %) at 2 s: the
    # learned queue time is impossible here, so the start stays within (1 s, 2 s].
    strategy = _learned(5.0, 12.0)
    task = TrackedTask(key=1, task_id="t", profile="m/1k/high", origin=0.0, deadline=900.0)
    task.observe(1.0, TaskSnapshot(id="t", phase=TaskPhase.QUEUED, progress=0))
    task.observe(2.0, TaskSnapshot(id="t", phase=TaskPhase.RUNNING, progress=3))
    (_, mu, _), *_ = strategy.belief(task)
    assert 1.0 + 11.0 < math.exp(mu) < 2.0 + 13.0  # started in (1, 2], renders ~12 s
