"""When to poll a task next: the vendor's fixed rhythm, or a prediction of when it will finish.

The adaptive strategy keeps a belief about a task's total duration ``D`` (seconds from
submission) as a log-normal: a prior learned per profile (model/resolution/quality, an EWMA of
log-durations kept in memory and persisted), sharpened by the task's own progress reports (a
linear fit of progress against time). It then places the next poll so that the chance of the
task finishing before it is about ``step_mass`` of what is left: polls are sparse while the
finish is unlikely and dense (down to ``min_gap``) around the predicted finish.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Protocol

from bot.jobs.service import TaskPhase, TaskSnapshot
from bot.jobs.store import DurationStat

_STD = NormalDist()


@dataclass(slots=True, eq=False)
class TrackedTask:
    """The poller's memory of one in-flight task (times are ``clock.monotonic()`` values)."""

    key: int
    task_id: str
    profile: str
    origin: float
    deadline: float
    phase: TaskPhase = TaskPhase.QUEUED
    progress: int | None = None
    # (time, progress) of running observations with progress > 0; the first and latest few.
    history: list[tuple[float, int]] = field(default_factory=list)
    last_queued_at: float | None = None
    run_seen_at: float | None = None
    last_poll: float | None = None
    polls: int = 0
    errors: int = 0
    due: float = 0.0
    generation: int = 0
    active: bool = True

    def observe(self, now: float, snapshot: TaskSnapshot) -> bool:
        """Record a poll's answer; return True if phase or progress changed."""
        changed = snapshot.phase != self.phase or snapshot.progress != self.progress
        self.polls += 1
        self.errors = 0
        self.last_poll = now
        if snapshot.phase == TaskPhase.QUEUED:
            self.last_queued_at = now
        elif snapshot.phase == TaskPhase.RUNNING:
            if self.run_seen_at is None:
                self.run_seen_at = now
            p = snapshot.progress
            if p is not None and 0 < p < 100 and (not self.history or p > self.history[-1][1]):
                self.history.append((now, p))
                if len(self.history) > 6:
                    del self.history[1]  # keep the first point: the longest baseline for the rate
        self.phase = snapshot.phase
        self.progress = snapshot.progress
        return changed


class PollStrategy(Protocol):
    """Decide when to poll a task next."""

    def first_poll(self, task: TrackedTask, now: float) -> float:
        """Return the time of the first poll of a newly tracked task."""
        ...

    def next_poll(self, task: TrackedTask, now: float) -> float:
        """Return the time of the next poll after a non-final answer at ``now``."""
        ...

    def finished(self, task: TrackedTask, now: float, snapshot: TaskSnapshot) -> None:
        """Learn from a task seen final at ``now``."""
        ...


class VendorRhythm:
    """The vendor's table: every 2–3 s while queued, every 3–5 s while running (midpoints)."""

    def __init__(self, queued_gap: float = 2.5, running_gap: float = 4.0) -> None:
        self.queued_gap = queued_gap
        self.running_gap = running_gap

    def first_poll(self, task: TrackedTask, now: float) -> float:
        """Poll after the queued gap."""
        return max(now, task.origin + self.queued_gap)

    def next_poll(self, task: TrackedTask, now: float) -> float:
        """Poll after the gap of the task's current phase."""
        gap = self.running_gap if task.phase == TaskPhase.RUNNING else self.queued_gap
        return now + gap

    def finished(self, task: TrackedTask, now: float, snapshot: TaskSnapshot) -> None:
        """Learn nothing."""


# Cold-start typical durations (seconds) by resolution, before anything was learned.
DEFAULT_DURATIONS: dict[str, float] = {"1k": 30.0, "2k": 60.0, "4k": 120.0, "-": 45.0}
DEFAULT_SIGMA = 0.5


class DurationModel:
    """Typical task durations per profile: an EWMA of mean and variance of log(seconds)."""

    def __init__(
        self,
        stats: Mapping[str, DurationStat] | None = None,
        *,
        alpha_floor: float = 0.05,
        sigma_floor: float = 0.08,
    ) -> None:
        self._stats: dict[str, DurationStat] = dict(stats or {})
        self._dirty: set[str] = set()
        self.alpha_floor = alpha_floor
        self.sigma_floor = sigma_floor

    def prior(self, profile: str) -> tuple[float, float]:
        """Return (mean, sigma) of log-duration for ``profile``."""
        stat = self._stats.get(profile)
        if stat is None or stat.samples == 0:
            resolution = profile.split("/")[1] if profile.count("/") >= 1 else "-"
            typical = DEFAULT_DURATIONS.get(resolution, DEFAULT_DURATIONS["-"])
            return math.log(typical), DEFAULT_SIGMA
        sigma = math.sqrt(max(stat.var_log, 0.0))
        # Few samples: do not trust a small spread yet.
        sigma = max(sigma, self.sigma_floor, DEFAULT_SIGMA / math.sqrt(stat.samples + 1))
        return stat.mean_log, sigma

    def learn(self, profile: str, seconds: float) -> None:
        """Fold one observed duration into the profile's statistics."""
        if seconds <= 0:
            return
        x = math.log(seconds)
        stat = self._stats.get(profile)
        if stat is None:
            mean, _ = self.prior(profile)
            stat = DurationStat(mean, DEFAULT_SIGMA**2, 0)
        n = stat.samples + 1
        alpha = max(1.0 / n, self.alpha_floor)
        delta = x - stat.mean_log
        mean = stat.mean_log + alpha * delta
        var = (1 - alpha) * (stat.var_log + alpha * delta * delta)
        if stat.samples == 0:
            var = DEFAULT_SIGMA**2 * 0.5  # one sample says nothing about spread
        self._stats[profile] = DurationStat(mean, var, n)
        self._dirty.add(profile)

    def snapshot(self) -> dict[str, DurationStat]:
        """Return every profile's statistics."""
        return dict(self._stats)

    def take_dirty(self) -> dict[str, DurationStat]:
        """Return the statistics changed since the last call (to persist them)."""
        dirty = {k: self._stats[k] for k in self._dirty}
        self._dirty.clear()
        return dirty


def _combine(mu0: float, s0: float, mu1: float, s1: float) -> tuple[float, float]:
    w0, w1 = 1.0 / (s0 * s0), 1.0 / (s1 * s1)
    return (mu0 * w0 + mu1 * w1) / (w0 + w1), math.sqrt(1.0 / (w0 + w1))


class AdaptiveStrategy:
    """Predict each task's finish from learned durations and its progress; poll around it."""

    def __init__(
        self,
        durations: DurationModel | None = None,
        *,
        step_mass: float = 0.2,
        first_mass: float = 0.05,
        min_gap: float = 0.5,
        max_gap: float = 30.0,
        overdue_gap: float = 3.0,
        progress_noise: float = 0.08,
    ) -> None:
        self.durations = durations or DurationModel()
        self.step_mass = step_mass
        self.first_mass = first_mass
        self.min_gap = min_gap
        self.max_gap = max_gap
        self.overdue_gap = overdue_gap
        self.progress_noise = progress_noise

    def belief(self, task: TrackedTask) -> tuple[float, float]:
        """Return (mean, sigma) of the log of the task's total duration."""
        mu, sigma = self.durations.prior(task.profile)
        estimate = self._progress_estimate(task)
        if estimate is not None:
            mu, sigma = _combine(mu, sigma, *estimate)
        return mu, sigma

    def _progress_estimate(self, task: TrackedTask) -> tuple[float, float] | None:
        if not task.history:
            return None
        t1, p1 = task.history[-1]
        if len(task.history) >= 2:
            t0, p0 = task.history[0]
            timing = 0.0
        else:
            # One point: assume progress started at 0 when running began, somewhere between
            # the last queued answer and the first running one.
            earliest = task.last_queued_at if task.last_queued_at is not None else task.origin
            latest = task.run_seen_at if task.run_seen_at is not None else t1
            t0, p0 = (earliest + min(latest, t1)) / 2, 0
            timing = (min(latest, t1) - earliest) / 2
        span, gained = t1 - t0, p1 - p0
        if span <= 0 or gained <= 0:
            return None
        rate = gained / span
        remaining = (100 - p1) / rate
        total = t1 + remaining - task.origin
        if total <= 0:
            return None
        # Uncertainty of the remaining time: whole-percent rounding over the observed gain,
        # an unknown start, and how far real progress strays from a straight line.
        rel = math.hypot(1.0 / gained, timing / span, self.progress_noise)
        sigma_abs = remaining * rel + 0.05
        return math.log(total), max(sigma_abs / total, 0.005)

    def first_poll(self, task: TrackedTask, now: float) -> float:
        """Poll when the task has a ``first_mass`` chance of being done."""
        return self._step(task, now, self.first_mass)

    def next_poll(self, task: TrackedTask, now: float) -> float:
        """Poll when ``step_mass`` of the remaining chance of finishing has passed."""
        return self._step(task, now, self.step_mass)

    def _step(self, task: TrackedTask, now: float, mass: float) -> float:
        mu, sigma = self.belief(task)
        elapsed = max(now - task.origin, 1e-3)
        z_now = (math.log(elapsed) - mu) / sigma
        done = _STD.cdf(z_now)
        if done > 0.995:
            # Past every prediction: fall back to a steady rhythm until it ends.
            return now + self.overdue_gap
        target = done + (1.0 - done) * mass
        z_next = _STD.inv_cdf(min(target, 0.9999))
        gap = math.exp(mu + sigma * z_next) - elapsed
        return now + min(max(gap, self.min_gap), self.max_gap)

    def finished(self, task: TrackedTask, now: float, snapshot: TaskSnapshot) -> None:
        """Learn the task's duration: it ended between the previous poll and this one."""
        if snapshot.phase != TaskPhase.COMPLETED:
            return
        previous = task.last_poll if task.last_poll is not None else task.origin
        mu, _ = self.belief(task)
        predicted = task.origin + math.exp(mu)
        # The prediction is the best guess inside the window the polls allow.
        ended = min(max(predicted, previous), now)
        self.durations.learn(task.profile, ended - task.origin)
