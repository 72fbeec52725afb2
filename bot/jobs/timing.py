"""Waiting on a ``Clock``: sleeps that follow a ManualClock's speed and can be cut short."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Callable

from bot.clock import Clock

log = logging.getLogger(__name__)

# A frozen ManualClock moves only by advance(): re-check it this often (real seconds).
FROZEN_CLOCK_RECHECK = 0.02


def real_seconds(clock: Clock, clock_seconds: float) -> float:
    """Convert a span of clock time to real seconds to sleep (SystemClock runs at speed 1)."""
    speed = float(getattr(clock, "speed", 1.0))
    if speed <= 0:
        return FROZEN_CLOCK_RECHECK
    return max(0.0, clock_seconds / speed)


async def cancel_and_wait(task: asyncio.Task[None] | None) -> None:
    """Cancel a long-lived loop task (if any) and wait until it has ended."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class Alarm:
    """Sleep until a clock time or until ``wake()``; the one place a loop waits on time."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._event = asyncio.Event()

    def wake(self) -> None:
        """Cut the current (or next) sleep short."""
        self._event.set()

    async def sleep_until(self, due: float | None) -> bool:
        """Sleep until ``clock.monotonic() >= due`` (forever if None); return True if woken."""
        if not self._event.is_set():
            if due is None:
                await self._event.wait()
            else:
                delay = due - self._clock.monotonic()
                if delay > 0:
                    try:
                        async with asyncio.timeout(real_seconds(self._clock, delay)):
                            await self._event.wait()
                    except TimeoutError:
                        return False
        woken = self._event.is_set()
        self._event.clear()
        return woken


class Timer:
    """A callback waiting in a ``ClockScheduler``; ``cancel()`` drops it."""

    __slots__ = ("_scheduler", "callback", "cancelled", "due")

    def __init__(self, scheduler: ClockScheduler, due: float, callback: Callable[[], None]) -> None:
        self._scheduler = scheduler
        self.due = due
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        """Do not run the callback (no effect once it ran)."""
        if not self.cancelled:
            self.cancelled = True
            self._scheduler._cancelled(self)


class ClockScheduler:
    """Run callbacks at clock times from one long-lived task (the engine's delayed retries)."""

    def __init__(self, clock: Clock, *, name: str = "scheduler") -> None:
        self._clock = clock
        self._name = name
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._alarm = Alarm(clock)
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._dead = 0  # cancelled timers still in the heap

    def call_at(self, due: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback()`` once ``clock.monotonic()`` reaches ``due``."""
        timer = Timer(self, due, callback)
        heapq.heappush(self._heap, (due, next(self._seq), timer))
        self.wake()
        return timer

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback()`` after ``delay`` clock seconds."""
        return self.call_at(self._clock.monotonic() + delay, callback)

    def _cancelled(self, timer: Timer) -> None:
        self._dead += 1
        # Drop cancelled timers once they are most of the heap, so it never keeps dead ones long.
        if self._dead * 2 > len(self._heap):
            self._heap = [entry for entry in self._heap if not entry[2].cancelled]
            heapq.heapify(self._heap)
            self._dead = 0

    def wake(self) -> None:
        """Re-check the clock now (tests call this after advancing a ManualClock)."""
        self._idle.clear()
        self._alarm.wake()

    def __len__(self) -> int:
        """Return how many callbacks are waiting (cancelled ones not counted)."""
        return len(self._heap) - self._dead

    @property
    def idle(self) -> bool:
        """Tell whether nothing is due before the clock moves."""
        return self._idle.is_set()

    def start(self) -> None:
        """Start the loop task."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        """Stop the loop; pending callbacks are dropped (recovery re-creates them)."""
        task, self._task = self._task, None
        await cancel_and_wait(task)
        self._heap.clear()
        self._dead = 0

    async def wait_idle(self) -> None:
        """Return once nothing is due before the clock moves."""
        await self._idle.wait()

    async def _run(self) -> None:
        while True:
            now = self._clock.monotonic()
            while self._heap and self._heap[0][0] <= now:
                _, _, timer = heapq.heappop(self._heap)
                if timer.cancelled:
                    self._dead -= 1
                    continue
                timer.cancelled = True  # ran: a later cancel() is a no-op
                try:
                    timer.callback()
                except Exception:
                    log.exception("%s: a scheduled callback failed", self._name)
            self._idle.set()
            await self._alarm.sleep_until(self._heap[0][0] if self._heap else None)
