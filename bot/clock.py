"""Clocks: the real one, and one that tests and benchmarks can drive."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Tell the time; ``now`` is wall-clock seconds (UTC epoch), ``monotonic`` never goes back."""

    def now(self) -> float: ...

    def monotonic(self) -> float: ...


class SystemClock:
    """Read the machine's clocks."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to, or at ``speed`` times real time when running.

    ``speed=0`` (the default) freezes it: only ``advance`` moves it. A positive speed lets
    benchmarks run hours of simulated time in seconds without changing the code under test.
    """

    def __init__(self, start: float = 1_767_225_600.0, *, speed: float = 0.0) -> None:
        self._base = start
        self._speed = speed
        self._real_origin = time.monotonic()
        self._offset = 0.0

    def now(self) -> float:
        elapsed = (time.monotonic() - self._real_origin) * self._speed
        return self._base + elapsed + self._offset

    def monotonic(self) -> float:
        return self.now()

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        if seconds < 0:
            raise ValueError("a clock cannot go back")
        self._offset += seconds

    @property
    def speed(self) -> float:
        return self._speed
