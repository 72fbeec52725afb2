"""One poller for every in-flight task: a heap of due times, a request budget, a small pool.

A single long-lived task moves due tasks from the heap to a ready set, takes a token from the
budget (requests per clock second; adaptive, see ``RateBudget``) and starts a request, keeping at
most ``max_in_flight`` requests open. When more tasks are due than tokens, each token goes to the
task that has most likely sat finished and unseen the longest (the strategy's ``unseen_wait``:
the expected latency its poll ends); a task more than ``starve_after`` seconds late goes first,
in due order, so none waits unboundedly. A 429 cuts the budget and pauses everyone for its Retry-After. Transient errors back off per task. A task
still unfinished at its deadline ends with a time-limit failure. Lost tasks are reported with a
``FailureCode`` and a neutral detail; the member's sentence is written elsewhere.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
import logging
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot.clock import Clock
from bot.jobs.service import ServiceError, ServiceErrorKind, TaskSnapshot
from bot.jobs.states import FailureCode
from bot.jobs.strategy import PollStrategy, TrackedTask
from bot.jobs.timing import Alarm, cancel_and_wait

log = logging.getLogger(__name__)

FetchTask = Callable[[str], Awaitable[TaskSnapshot]]


class PollListener(Protocol):
    """What the poller reports to the engine."""

    async def task_changed(self, task: TrackedTask, snapshot: TaskSnapshot) -> None:
        """The task's phase or progress changed (still not final)."""
        ...

    async def task_finished(self, task: TrackedTask, snapshot: TaskSnapshot) -> None:
        """The service reports the task completed or failed."""
        ...

    async def task_lost(self, task: TrackedTask, code: FailureCode, detail: str) -> None:
        """The task can no longer be followed (unknown to the service, or over its time limit)."""
        ...


_TOKEN_EPSILON = 1e-9
_MIN_WAIT = 1e-3  # seconds: the shortest wait for a token the scheduler sleeps for
_REPLAN_SLACK = 0.05  # seconds: a replanned poll moving this little is not worth a reschedule


class RateBudget:
    """A token bucket whose rate finds the service's limit: grows while used up, cut on 429.

    ``rate`` starts at the configured rate; ``ceiling`` (default: the starting rate, a fixed
    budget) is a hard bound. The bucket holds ``burst_seconds`` of the current rate. Growth
    happens only while demand uses the whole rate up (a rate never used proves nothing):
    multiplicative below ``threshold``, additive (``probe`` of the threshold per second) above
    it. Until a limit is known, growth is quick (``growth`` per second): a backlog, such as a
    burst of members on a fresh install, is served at the ceiling within seconds. A 429
    remembers what was sent in the last second, but at least half the rate, as the limit (the
    nominal rate can run ahead of what was sent while it grows): the rate drops to ``cut``
    times it, grows back at ``regrowth`` per second to ``settle`` times it (the new threshold),
    then probes slowly past it, so the limit is found again without a storm. From the first 429
    on, the bucket holds ``limited_burst_seconds`` (default: one token): a server that counts
    requests in a window refuses a burst on top of a rate it accepts, so requests are paced
    evenly. 429s arriving within ``cut_hold`` seconds of a cut are the same storm and cut
    nothing more. The rate never falls below ``floor``.
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        ceiling: float | None = None,
        burst_seconds: float | None = None,
        growth: float = 2.0,
        regrowth: float = 0.5,
        probe: float = 0.003,
        cut: float = 0.8,
        settle: float = 0.9,
        cut_hold: float = 2.0,
        floor: float = 0.2,
        limited_burst_seconds: float = 0.0,
    ) -> None:
        if rate <= 0:
            raise ValueError("the request budget must be positive")
        if ceiling is not None and ceiling < rate:
            raise ValueError("the budget's ceiling must not be below its starting rate")
        if burst_seconds is None:
            burst_seconds = 1.0 if burst is None else max(1.0, burst) / rate
        self.start_rate = rate
        self.ceiling = rate if ceiling is None else ceiling
        self.burst_seconds = burst_seconds
        self.growth = growth
        self.regrowth = regrowth
        self.probe = probe
        self.cut = cut
        self.settle = settle
        self.cut_hold = cut_hold
        self.limited_burst_seconds = limited_burst_seconds
        self.floor = min(floor, rate)
        self.threshold = self.ceiling
        self.cuts = 0
        self._rate = rate
        self._tokens = self.burst
        self._stamp: float | None = None
        self._grown_at: float | None = None
        self._cut_at: float | None = None
        self._sent: collections.deque[float] = collections.deque()  # takes in the last second

    @property
    def rate(self) -> float:
        """Return the current rate (requests per clock second)."""
        return self._rate

    @rate.setter
    def rate(self, value: float) -> None:
        self._rate = min(max(value, self.floor), self.ceiling)
        self._tokens = min(self._tokens, self.burst)

    @property
    def burst(self) -> float:
        """Return how many tokens the bucket holds at most."""
        return max(1.0, self._rate * self.burst_seconds)

    @property
    def adaptive(self) -> bool:
        """Tell whether the rate may grow (a ceiling above the starting rate)."""
        return self.ceiling > self.start_rate

    def share(self, start: float, ceiling: float) -> None:
        """Set a new starting rate and ceiling (this process's share); scale the learned rate."""
        ratio = start / self.start_rate
        self.start_rate = start
        self.ceiling = max(ceiling, start)
        self.floor = min(self.floor, start)
        self.threshold = min(self.threshold * ratio, self.ceiling)
        self.rate = self._rate * ratio

    def take(self, now: float) -> float:
        """Take a token and return 0, or return how long to wait until one is available."""
        if self._stamp is not None and now > self._stamp:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self._rate)
        if self._stamp is None or now > self._stamp:
            self._stamp = now
        # Within a rounding error of a whole token counts as one: otherwise the wait below can
        # be too small to move a float clock, and the scheduler would spin without sleeping.
        if self._tokens >= 1.0 - _TOKEN_EPSILON:
            self._tokens = max(0.0, self._tokens - 1.0)
            self._sent.append(now)
            self._sent_within(now)
            if self._tokens >= 1.0:
                self._grown_at = now  # not used up: no growth owed for this time
            return 0.0
        self._grow(now)
        return max((1.0 - self._tokens) / self._rate, _MIN_WAIT)

    def _grow(self, now: float) -> None:
        last, self._grown_at = self._grown_at, now
        if last is None or not self.adaptive or self._rate >= self.ceiling:
            return
        if self._cut_at is not None and now - self._cut_at < self.cut_hold:
            return
        dt = min(now - last, 1.0)
        if dt <= 0:
            return
        if self._rate < self.threshold:
            growth = self.regrowth if self.cuts else self.growth
            grown = self._rate * (1.0 + growth) ** dt
            if grown > self.threshold:
                grown = self.threshold
        else:
            grown = self._rate + self.probe * self.threshold * dt
        self.rate = grown

    def rate_limited(self, now: float) -> None:
        """Cut the rate after a 429 (once per storm)."""
        if self._cut_at is not None and now - self._cut_at < self.cut_hold:
            return
        self._cut_at = now
        self.cuts += 1
        self.burst_seconds = min(self.burst_seconds, self.limited_burst_seconds)
        # What was sent in the last second; at least half the rate, as the request a slow
        # answer refused may have left before that second.
        sent = self._sent_within(now)
        limit = max(min(self._rate, max(sent, self._rate / 2)), self.floor)
        self.threshold = max(self.floor, limit * self.settle)
        self.rate = limit * self.cut
        log.info("status requests rate-limited: poll budget cut to %.1f/s", self._rate)

    def _sent_within(self, now: float) -> int:
        """Return how many tokens were taken in the last second (dropping older ones)."""
        sent = self._sent
        while sent and sent[0] <= now - 1.0:
            sent.popleft()
        return len(sent)

    def drain(self, now: float) -> None:
        """Empty the bucket (after a pause, resume at the steady rate, not with a burst)."""
        self._tokens = 0.0
        self._stamp = now
        self._grown_at = now


@dataclass(slots=True)
class PollerStats:
    """Counters for logs, tests and the benchmark."""

    requests: int = 0
    rate_limited: int = 0
    errors: int = 0
    time_limits: int = 0
    lost: int = 0


class TaskPoller:
    """Poll every tracked task from one scheduler loop."""

    def __init__(
        self,
        fetch: FetchTask,
        listener: PollListener,
        *,
        clock: Clock,
        strategy: PollStrategy,
        budget: RateBudget,
        max_in_flight: int = 8,
        backoff_base: float = 2.0,
        backoff_cap: float = 60.0,
        rate_limit_pause: float = 5.0,
        starve_after: float = 15.0,
        rank_interval: float = 0.25,
        rng: random.Random | None = None,
    ) -> None:
        self._fetch = fetch
        self._listener = listener
        self._clock = clock
        self.strategy = strategy
        self.budget = budget
        self.max_in_flight = max_in_flight
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.rate_limit_pause = rate_limit_pause
        self.starve_after = starve_after
        self.rank_interval = rank_interval
        # Due tasks waiting for a token (by key), and the order they are served in, rebuilt at
        # most every ``rank_interval`` clock seconds (ranking costs a belief per task).
        self._ready: dict[int, TrackedTask] = {}
        self._ranked: list[TrackedTask] = []
        self._ranked_at = -math.inf
        self._rng = rng or random.Random()
        self._tasks: dict[int, TrackedTask] = {}
        self._heap: list[tuple[float, int, int, TrackedTask]] = []
        self._seq = itertools.count()
        self._alarm = Alarm(clock)
        self._idle = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._requests: set[asyncio.Task[None]] = set()
        self._paused_until = 0.0
        self._rate_limit_streak = 0
        self._polling: set[TrackedTask] = set()  # tasks with a status request open
        self.stats = PollerStats()

    # -- tracking -----------------------------------------------------------------------------

    def track(
        self,
        key: int,
        task_id: str,
        *,
        profile: str,
        submitted_at: float,
        deadline_at: float,
        now_wall: float | None = None,
    ) -> TrackedTask:
        """Follow ``task_id`` for job ``key``; ``submitted_at``/``deadline_at`` are wall times."""
        self.untrack(key)
        mono = self._clock.monotonic()
        wall = self._clock.now() if now_wall is None else now_wall
        task = TrackedTask(
            key=key,
            task_id=task_id,
            profile=profile,
            origin=mono - max(0.0, wall - submitted_at),
            deadline=mono + (deadline_at - wall),
        )
        self._tasks[key] = task
        self._schedule(task, self.strategy.first_poll(task, mono))
        return task

    def untrack(self, key: int) -> None:
        """Stop following job ``key`` (an answer already in flight is ignored)."""
        task = self._tasks.pop(key, None)
        if task is not None:
            self._ready.pop(key, None)
            task.active = False
            task.generation += 1
            self._compact()

    def _compact(self) -> None:
        # Untracked tasks leave stale heap entries that are dropped only once due; rebuild the
        # heap when they outnumber the live ones, so memory follows the tasks still tracked.
        if not self._tasks:
            self._heap.clear()
            self._ranked.clear()
        elif len(self._heap) > 2 * len(self._tasks) + 16:
            self._heap = [e for e in self._heap if e[3].active and e[2] == e[3].generation]
            heapq.heapify(self._heap)

    @property
    def heap_size(self) -> int:
        """Return how many entries the schedule holds (live and stale; for memory checks)."""
        return len(self._heap) + len(self._ready) + len(self._ranked)

    def __contains__(self, key: object) -> bool:
        return key in self._tasks

    def __len__(self) -> int:
        return len(self._tasks)

    def get(self, key: int) -> TrackedTask | None:
        """Return the tracked task of job ``key``, if any."""
        return self._tasks.get(key)

    @property
    def in_flight(self) -> int:
        """Return how many status requests are open."""
        return len(self._requests)

    @property
    def running(self) -> bool:
        """Tell whether the scheduler loop is alive (started, not stopped, not crashed)."""
        return self._loop_task is not None and not self._loop_task.done()

    @property
    def idle(self) -> bool:
        """Tell whether no request is open and nothing is due before the clock moves."""
        return self._idle.is_set() and not self._requests

    @property
    def paused_until(self) -> float:
        """Return the clock time until which a 429 pauses everyone."""
        return self._paused_until

    def _schedule(self, task: TrackedTask, due: float) -> None:
        # A task is always checked at its deadline, so the time limit is exact.
        due = min(due, task.deadline)
        task.due = due
        task.generation += 1
        heapq.heappush(self._heap, (due, next(self._seq), task.generation, task))
        if not self._heap or self._heap[0][3] is task:
            self.wake()

    # -- running ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the scheduler loop."""
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._run(), name="task-poller")
            self._loop_task.add_done_callback(self._loop_done)

    def _loop_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("the poll scheduler crashed", exc_info=task.exception())

    async def stop(self) -> None:
        """Stop polling and wait for open requests to end."""
        task, self._loop_task = self._loop_task, None
        await cancel_and_wait(task)
        requests = list(self._requests)
        for request in requests:
            request.cancel()
        await asyncio.gather(*requests, return_exceptions=True)

    def wake(self) -> None:
        """Re-check the heap now (also after a test advanced a ManualClock)."""
        self._idle.clear()
        self._alarm.wake()

    async def wait_idle(self) -> None:
        """Return once no request is open and nothing is due before the clock moves."""
        await self._idle.wait()

    def _peek(self) -> tuple[float, TrackedTask] | None:
        heap = self._heap
        while heap:
            due, _, generation, task = heap[0]
            if task.active and generation == task.generation:
                return due, task
            heapq.heappop(heap)  # stale: rescheduled or untracked since
        return None

    async def _sleep(self, due: float | None) -> None:
        if not self._requests:
            self._idle.set()
        await self._alarm.sleep_until(due)

    async def _run(self) -> None:
        while True:
            now = self._clock.monotonic()
            if now < self._paused_until:
                await self._sleep(self._paused_until)
                continue
            self._collect_due(now)
            if not self._ready:
                head = self._peek()
                await self._sleep(None if head is None else head[0])
                continue
            if len(self._requests) >= self.max_in_flight:
                await self._sleep(None)  # a finishing request wakes us
                continue
            wait = self.budget.take(now)
            if wait > 0:
                await self._sleep(now + wait)
                continue
            task = self._next_ready(now)
            del self._ready[task.key]
            task.generation += 1  # out of the schedule while its request is open
            self._idle.clear()
            self._polling.add(task)
            request = asyncio.create_task(self._poll(task, task.generation))
            self._requests.add(request)
            request.add_done_callback(self._request_done)

    def _collect_due(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, generation, task = heapq.heappop(heap)
            if task.active and generation == task.generation:
                self._ready[task.key] = task

    def _next_ready(self, now: float) -> TrackedTask:
        """Return the ready task to poll with the next token."""
        if len(self._ready) == 1:
            return next(iter(self._ready.values()))
        if not self._ranked or now - self._ranked_at >= self.rank_interval:
            self._rank(now)
        while self._ranked:
            task = self._ranked.pop()
            if self._ready.get(task.key) is task:
                return task
        self._rank(now)
        return self._ranked.pop()

    def _rank(self, now: float) -> None:
        # Served from the end: late tasks first (most late last), then by the expected time
        # each has sat finished but unseen: ranking by the chance of being done alone would
        # keep deferring a task that finished early while likelier ones keep coming due.
        late_before = now - self.starve_after
        unseen_wait = self.strategy.unseen_wait

        def order(task: TrackedTask) -> tuple[int, float, float]:
            if task.due <= late_before:
                return 1, 0.0, -task.due
            return 0, unseen_wait(task, now), -task.due

        self._ranked = sorted(self._ready.values(), key=order)
        self._ranked_at = now

    def _request_done(self, request: asyncio.Task[None]) -> None:
        self._requests.discard(request)
        if not request.cancelled() and request.exception() is not None:
            log.error("poll request crashed", exc_info=request.exception())
        self._alarm.wake()

    async def _poll(self, task: TrackedTask, generation: int) -> None:
        try:
            await self._poll_once(task, generation)
        finally:
            self._polling.discard(task)

    async def _poll_once(self, task: TrackedTask, generation: int) -> None:
        self.stats.requests += 1
        try:
            snapshot = await self._fetch(task.task_id)
        except ServiceError as exc:
            if self._current(task, generation):
                await self._failed_poll(task, exc)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("polling task %s failed unexpectedly", task.task_id)
            if self._current(task, generation):
                await self._failed_poll(task, ServiceError(ServiceErrorKind.TRANSIENT, str(exc)))
            return
        if not self._current(task, generation):
            return
        now = self._clock.monotonic()
        self._rate_limit_streak = 0
        if snapshot.is_final:
            replan = self.strategy.finished(task, now, snapshot)
            task.observe(now, snapshot)
            self._forget(task)
            if replan:
                self._replan(task.profile, now)
            await self._report(self._listener.task_finished(task, snapshot))
            return
        changed = task.observe(now, snapshot)
        if now >= task.deadline:
            await self._time_limit(task)
            return
        self._schedule(task, self.strategy.next_poll(task, now))
        if changed:
            await self._report(self._listener.task_changed(task, snapshot))

    def _replan(self, profile: str, now: float) -> None:
        """Move the waiting polls of ``profile`` to where what was just learned places them.

        Sooner when the profile proves faster; later when it proves slower, so a poll planned
        on the prior does not find the task still running and need another.
        """
        for task in self._tasks.values():
            if task.profile != profile or task.key in self._ready or task in self._polling:
                continue
            due = self.strategy.replan(task, now)
            if abs(due - task.due) > _REPLAN_SLACK:
                self._schedule(task, due)

    def _current(self, task: TrackedTask, generation: int) -> bool:
        return task.active and task.generation == generation

    def _forget(self, task: TrackedTask) -> None:
        if self._tasks.get(task.key) is task:
            del self._tasks[task.key]
            self._ready.pop(task.key, None)
        task.active = False
        task.generation += 1
        self._compact()

    async def _report(self, call: Awaitable[None]) -> None:
        try:
            await call
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the poll listener failed")

    async def _time_limit(self, task: TrackedTask) -> None:
        self.stats.time_limits += 1
        self._forget(task)
        limit = task.deadline - task.origin
        detail = f"task {task.task_id} unfinished at its deadline ({limit:.0f} s after submission)"
        await self._report(self._listener.task_lost(task, FailureCode.TIME_LIMIT, detail))

    async def _failed_poll(self, task: TrackedTask, exc: ServiceError) -> None:
        now = self._clock.monotonic()
        if exc.kind == ServiceErrorKind.NOT_FOUND:
            self.stats.lost += 1
            self._forget(task)
            detail = f"status of task {task.task_id}: {exc.message}"
            await self._report(self._listener.task_lost(task, FailureCode.TASK_NOT_FOUND, detail))
            return
        if exc.kind == ServiceErrorKind.RATE_LIMITED:
            self.stats.rate_limited += 1
            self._rate_limit_streak += 1
            pause = exc.retry_after
            if pause is None:
                pause = min(
                    self.backoff_cap, self.rate_limit_pause * 2 ** (self._rate_limit_streak - 1)
                )
            until = now + pause
            self.budget.rate_limited(now)
            if until > self._paused_until:
                log.warning("rate limited by the image service: pausing polls %.1fs", pause)
                self._paused_until = until
                self.budget.drain(until)
            # Keep its place: first in line when the pause ends.
            self._schedule(task, max(task.due, self._paused_until))
            return
        self.stats.errors += 1
        task.errors += 1
        if exc.kind in (ServiceErrorKind.AUTHENTICATION, ServiceErrorKind.INSUFFICIENT_BALANCE):
            log.error("the image service refused a status request: %s", exc.message)
        else:
            log.info("status of task %s failed (%s): backing off", task.task_id, exc.kind.value)
        if now >= task.deadline:
            await self._time_limit(task)
            return
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (task.errors - 1))
        delay = ceiling * (0.5 + 0.5 * self._rng.random())
        self._schedule(task, now + delay)
