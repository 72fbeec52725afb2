"""When to poll a task next: the vendor's fixed rhythm, or a prediction of when it will finish.

The adaptive strategy learns, per profile (model/resolution/quality) and overall, how long tasks
wait in the queue, how long they render, how soon failures come and how many tasks fail: an EWMA
of log-seconds per phase (``DurationModel``), updated from every finished or failed task and
persisted. A profile with few samples leans on the overall figures, which lean on a cautious prior
(short, wide), so a fresh install polls early and converges within a few tasks.

A task's end is a mixture: "fails at T_f" (weight: the failure share) or "completes at queue +
render" (Fenton-Wilkinson log-normal of the sum); once running, the render prior is anchored at
the estimated start and fused with a linear fit of the task's progress. With a single progress
answer the start comes from the learned queue time (limited to what the answers allow) fused
with "progress p at t means t - p R" for the learned render time R, so one running answer
already places the final poll. The next poll is placed where the expected time the task would
sit finished but unseen since now reaches ``latency_price`` seconds: a poll buys back that much
expected waiting. So polls are sparse while an end is unlikely, and come just after a predicted
finish; the failure component yields early probes while failures are plausible, and fades as a
profile proves it does not fail.
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
_cdf = _STD.cdf


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

    def unseen_wait(self, task: TrackedTask, now: float) -> float:
        """Return the expected seconds the task has sat ended but unseen since its last answer.

        Ranks polls on a tight budget: a poll now ends that much expected waiting.
        """
        ...

    def finished(self, task: TrackedTask, now: float, snapshot: TaskSnapshot) -> bool:
        """Learn from a task seen final at ``now``; True if others of its profile need replanning."""
        ...

    def replan(self, task: TrackedTask, now: float) -> float:
        """Return when to poll a waiting task, given what was learned since it was scheduled."""
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

    def unseen_wait(self, task: TrackedTask, now: float) -> float:
        """Rank every due task alike (served first-due-first-served)."""
        return 0.0

    def finished(self, task: TrackedTask, now: float, snapshot: TaskSnapshot) -> bool:
        """Learn nothing."""
        return False

    def replan(self, task: TrackedTask, now: float) -> float:
        """Keep the rhythm."""
        return max(now, task.due)


QUEUE, RUN, FAIL = "queue", "run", "fail"
OVERALL = "*"
# The cautious prior of a fresh install: (median seconds, sigma of log) per phase; the render
# time by resolution. Short and wide: early polls, until real tasks teach better.
PRIOR_QUEUE = (2.0, 0.9)
PRIOR_RUN: dict[str, tuple[float, float]] = {
    "1k": (15.0, 0.9),
    "2k": (30.0, 0.9),
    "4k": (60.0, 0.9),
    "-": (20.0, 0.9),
}
PRIOR_FAIL = (4.0, 0.9)
PRIOR_FAIL_SHARE = (0.5, 4.0)  # pseudo-counts (failures, tasks): 12.5 % until tasks are seen
SHRINK = 2.0  # a profile's own samples count against this many of its fallback's


def stat_key(phase: str, profile: str) -> str:
    """Return the stored key of a phase's statistics (``duration_stats.profile``)."""
    return f"{phase}:{profile}"


def _resolution(profile: str) -> str:
    parts = profile.split("/")
    return parts[1] if len(parts) >= 2 else "-"


def _blend(stat: DurationStat | None, mu: float, sigma: float) -> tuple[float, float]:
    """Mix a learned stat with its fallback by sample weight (moments of the mixture)."""
    if stat is None or stat.samples <= 0:
        return mu, sigma
    w = stat.samples / (stat.samples + SHRINK)
    m = w * stat.mean_log + (1 - w) * mu
    var = w * max(stat.var_log, 0.0) + (1 - w) * sigma * sigma
    var += w * (1 - w) * (stat.mean_log - mu) ** 2
    return m, math.sqrt(var)


def _sum_lognormal(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    """Return a log-normal matching the mean and variance of the sum of two (Fenton-Wilkinson)."""
    mean = var = 0.0
    for mu, s in (a, b):
        m = math.exp(mu + s * s / 2)
        mean += m
        var += (math.exp(s * s) - 1) * m * m
    s2 = math.log(1 + var / (mean * mean))
    return math.log(mean) - s2 / 2, math.sqrt(s2)


class DurationModel:
    """Learned durations per phase, per profile and overall: EWMAs of log-seconds."""

    def __init__(
        self,
        stats: Mapping[str, DurationStat] | None = None,
        *,
        alpha_floor: float = 0.05,
        sigma_floor: float = 0.08,
    ) -> None:
        self._stats: dict[str, DurationStat] = {}
        self._dirty: set[str] = set()
        self.alpha_floor = alpha_floor
        self.sigma_floor = sigma_floor
        if stats:
            self.load(stats)

    def load(self, stats: Mapping[str, DurationStat]) -> None:
        """Take stored statistics (what this process learned since wins)."""
        for key, stat in stats.items():
            if ":" not in key:
                # Written by an older release: a total duration. A fair seed of the render time.
                key = stat_key(RUN, key)
                stat = DurationStat(stat.mean_log, stat.var_log, min(stat.samples, 3))
            self._stats.setdefault(key, stat)

    def phase(self, phase: str, profile: str) -> tuple[float, float]:
        """Return (mean, sigma) of log-seconds of ``phase`` for ``profile``."""
        if phase == QUEUE:
            mu0, s0 = PRIOR_QUEUE
        elif phase == FAIL:
            mu0, s0 = PRIOR_FAIL
        else:
            mu0, s0 = PRIOR_RUN.get(_resolution(profile), PRIOR_RUN["-"])
        mu, sigma = _blend(self._stats.get(stat_key(phase, OVERALL)), math.log(mu0), s0)
        if phase == RUN and profile != OVERALL:
            # The overall render time mixes resolutions: keep the prior's ratio between them.
            overall = self._stats.get(stat_key(RUN, OVERALL))
            if overall is not None and overall.samples > 0:
                mu = mu + math.log(mu0 / PRIOR_RUN["-"][0]) * (1 - 1 / (1 + overall.samples))
        mu, sigma = _blend(self._stats.get(stat_key(phase, profile)), mu, sigma)
        return mu, max(sigma, self.sigma_floor)

    def fail_share(self, profile: str) -> float:
        """Return the expected share of tasks of ``profile`` that fail."""
        a, n = PRIOR_FAIL_SHARE
        fails = self._stats.get(stat_key(FAIL, profile))
        done = self._stats.get(stat_key(RUN, profile))
        f = fails.samples if fails else 0
        c = done.samples if done else 0
        return (f + a) / (f + c + n)

    def samples(self, profile: str) -> int:
        """Return how many ends (completed or failed) of ``profile`` were learned."""
        run = self._stats.get(stat_key(RUN, profile))
        fail = self._stats.get(stat_key(FAIL, profile))
        return (run.samples if run else 0) + (fail.samples if fail else 0)

    def prior(self, profile: str) -> tuple[float, float]:
        """Return (mean, sigma) of the log of a completed task's total duration (queue + run)."""
        return _sum_lognormal(self.phase(QUEUE, profile), self.phase(RUN, profile))

    def learn(self, phase: str, profile: str, seconds: float) -> None:
        """Fold one observed duration into the profile's and the overall statistics."""
        if seconds <= 0:
            return
        for key in (stat_key(phase, profile), stat_key(phase, OVERALL)):
            self._learn(key, math.log(seconds))

    def _learn(self, key: str, x: float) -> None:
        stat = self._stats.get(key)
        if stat is None or stat.samples == 0:
            self._stats[key] = DurationStat(x, 0.0, 1)
        else:
            n = stat.samples + 1
            alpha = max(1.0 / n, self.alpha_floor)
            delta = x - stat.mean_log
            mean = stat.mean_log + alpha * delta
            var = (1 - alpha) * (stat.var_log + alpha * delta * delta)
            self._stats[key] = DurationStat(mean, var, n)
        self._dirty.add(key)

    def snapshot(self) -> dict[str, DurationStat]:
        """Return every statistic by stored key."""
        return dict(self._stats)

    def take_dirty(self) -> dict[str, DurationStat]:
        """Return the statistics changed since the last call (to persist them)."""
        dirty = {k: self._stats[k] for k in self._dirty}
        self._dirty.clear()
        return dirty


def _truncated_lognormal(mu: float, s: float, lo: float, hi: float) -> tuple[float, float]:
    """Return the mean and variance of a log-normal limited to [lo, hi] (uniform if negligible)."""
    lo = max(lo, 1e-6)
    if hi <= lo:
        return hi, 0.0
    a, b = (math.log(lo) - mu) / s, (math.log(hi) - mu) / s
    mass = _cdf(b) - _cdf(a)
    if mass < 1e-9:
        return (lo + hi) / 2, (hi - lo) ** 2 / 12
    m1 = math.exp(mu + s * s / 2) * (_cdf(b - s) - _cdf(a - s)) / mass
    m2 = math.exp(2 * mu + 2 * s * s) * (_cdf(b - 2 * s) - _cdf(a - 2 * s)) / mass
    return m1, max(m2 - m1 * m1, 0.0)


def _combine(mu0: float, s0: float, mu1: float, s1: float) -> tuple[float, float]:
    w0, w1 = 1.0 / (s0 * s0), 1.0 / (s1 * s1)
    return (mu0 * w0 + mu1 * w1) / (w0 + w1), math.sqrt(1.0 / (w0 + w1))


# A belief: (weight, mu, sigma) log-normal components of the end, in seconds since submission.
Belief = list[tuple[float, float, float]]


def _cdf_at(belief: Belief, e: float) -> float:
    if e <= 0:
        return 0.0
    x = math.log(e)
    return sum(w * _cdf((x - mu) / s) for w, mu, s in belief)


def _partial(belief: Belief, e: float) -> float:
    """Return the integral of the CDF from 0 to ``e`` (expected time spent ended by ``e``)."""
    if e <= 0:
        return 0.0
    x = math.log(e)
    total = 0.0
    for w, mu, s in belief:
        z = (x - mu) / s
        total += w * (e * _cdf(z) - math.exp(mu + s * s / 2) * _cdf(z - s))
    return total


class AdaptiveStrategy:
    """Predict each task's end from learned durations and its progress; poll just after it."""

    def __init__(
        self,
        durations: DurationModel | None = None,
        *,
        latency_price: float = 0.25,
        min_gap: float = 0.5,
        max_gap: float = 30.0,
        overdue_gap: float = 3.0,
        progress_noise: float = 0.08,
        explore_tasks: int = 3,
        explore_ratio: float = 1.0,
        explore_first: float = 3.0,
    ) -> None:
        self.durations = durations or DurationModel()
        self.latency_price = latency_price
        self.explore_tasks = explore_tasks
        self.explore_ratio = explore_ratio
        self.explore_first = explore_first
        self.min_gap = min_gap
        self.max_gap = max_gap
        self.overdue_gap = overdue_gap
        self.progress_noise = progress_noise

    def _run_start(self, task: TrackedTask) -> tuple[float, float] | None:
        """Return (estimated start of rendering, its uncertainty) once the task was seen running."""
        if task.run_seen_at is None:
            return None
        earliest = task.last_queued_at if task.last_queued_at is not None else task.origin
        latest = task.run_seen_at
        if len(task.history) >= 2:
            (t0, p0), (t1, p1) = task.history[0], task.history[-1]
            if t1 > t0 and p1 > p0:
                start = t0 - p0 * (t1 - t0) / (p1 - p0)
                return min(max(start, earliest), latest), (latest - earliest) / 6
        return self._one_point_start(task, earliest, latest)

    def _one_point_start(
        self, task: TrackedTask, earliest: float, latest: float
    ) -> tuple[float, float]:
        """Estimate when rendering began from the learned queue and render times.

        Two views of the start, fused by their variances: the queue time learned for the
        profile, limited to the window the answers allow (after the last queued answer, before
        the first running one); and, with a progress p seen at t, t - p * R for the learned
        render time R.
        """
        width = latest - earliest
        if width <= 0:
            return latest, 0.0
        qmu, qs = self.durations.phase(QUEUE, task.profile)
        mean, var = _truncated_lognormal(qmu, qs, earliest - task.origin, latest - task.origin)
        start, spread2 = task.origin + mean, var
        if task.history:
            t1, p1 = task.history[-1]
            rmu, rs = self.durations.phase(RUN, task.profile)
            m = math.exp(rmu + rs * rs / 2)
            frac = p1 / 100
            guess = t1 - frac * m
            guess_var = (frac * m) ** 2 * (math.exp(rs * rs) - 1)
            if guess_var > 0 and spread2 > 0:
                w = guess_var / (guess_var + spread2)
                start = w * start + (1 - w) * guess
                spread2 = spread2 * guess_var / (spread2 + guess_var)
        start = min(max(start, earliest), latest)
        return start, min(math.sqrt(spread2), width / 2)

    def belief(self, task: TrackedTask) -> Belief:
        """Return the mixture of log-normal components of the task's end (seconds after origin)."""
        model = self.durations
        start = self._run_start(task)
        if start is None:
            share = model.fail_share(task.profile)
            mu, s = model.prior(task.profile)
            fmu, fs = model.phase(FAIL, task.profile)
            return [(share, fmu, fs), (1 - share, mu, s)]
        began, spread = start
        offset = max(began - task.origin, 0.0)
        rmu, rs = model.phase(RUN, task.profile)
        median = math.exp(rmu)
        total = offset + median
        sigma = math.hypot(rs * median, spread) / total
        mu = math.log(total)
        estimate = self._progress_estimate(task, start)
        if estimate is not None:
            mu, sigma = _combine(mu, sigma, *estimate)
        return [(1.0, mu, max(sigma, 0.005))]

    def _progress_estimate(
        self, task: TrackedTask, start: tuple[float, float]
    ) -> tuple[float, float] | None:
        """Return the end from a linear fit of progress; ``start`` is ``_run_start``'s answer."""
        if not task.history:
            return None
        t1, p1 = task.history[-1]
        if len(task.history) >= 2:
            t0, p0 = task.history[0]
            timing = 0.0
        else:
            # One point: progress started at 0 when rendering began, as estimated (with its
            # uncertainty) from the learned queue and render times within the answers' window.
            (t0, timing), p0 = start, 0
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
        """Poll once the expected unseen wait since submission reaches the price."""
        return self._step(task, now)

    def next_poll(self, task: TrackedTask, now: float) -> float:
        """Poll once the expected unseen wait since this answer reaches the price."""
        return self._step(task, now)

    def _step(self, task: TrackedTask, now: float) -> float:
        belief = self.belief(task)
        e0 = max(now - task.origin, 0.0)
        f0 = _cdf_at(belief, e0)
        left = 1.0 - f0
        if left < 0.01:
            # Past every prediction: fall back to a steady rhythm until it ends.
            return now + self.overdue_gap
        i0 = _partial(belief, e0)
        price = self.latency_price * left

        def waited(gap: float) -> float:
            # Expected time ended-but-unseen between now and now + gap, times ``left``.
            e = e0 + gap
            return _partial(belief, e) - i0 - f0 * gap

        lo, hi = self.min_gap, self.max_gap
        if self.durations.samples(task.profile) < self.explore_tasks:
            # A profile seen end fewer than ``explore_tasks`` times: its prior may be far off
            # (a fresh install, a new model), so gaps grow with the task's age, not the prior:
            # quick failures and unexpectedly fast tasks are caught while the model learns.
            hi = min(hi, max(lo, self.explore_first, self.explore_ratio * e0))
        if waited(lo) >= price:
            return now + lo
        if waited(hi) <= price:
            return now + hi
        for _ in range(30):
            mid = (lo + hi) / 2
            if waited(mid) < price:
                lo = mid
            else:
                hi = mid
            if hi - lo < 0.02:
                break
        return now + hi

    def unseen_wait(self, task: TrackedTask, now: float) -> float:
        """Return the expected seconds the task has sat ended but unseen since its last answer."""
        belief = self.belief(task)
        last = task.last_poll if task.last_poll is not None else task.origin
        e0, e1 = last - task.origin, now - task.origin
        if e1 <= e0:
            return 0.0
        f0 = _cdf_at(belief, e0)
        left = 1.0 - f0
        if left <= 1e-9:
            return e1 - e0  # past every prediction: it has most likely waited all along
        # Given it had not ended at its last answer: E[(now - end)+] = ∫ (F(t) - F(e0)) dt / (1 - F(e0)).
        return max(0.0, (_partial(belief, e1) - _partial(belief, e0) - f0 * (e1 - e0)) / left)

    def _ended(self, belief: Belief, lo: float, hi: float) -> float:
        """Return the median end inside the window [lo, hi] (seconds after origin)."""
        f_lo, f_hi = _cdf_at(belief, lo), _cdf_at(belief, hi)
        if f_hi - f_lo < 1e-9:
            return (lo + hi) / 2
        target = (f_lo + f_hi) / 2
        a, b = lo, hi
        for _ in range(40):
            m = (a + b) / 2
            if _cdf_at(belief, m) < target:
                a = m
            else:
                b = m
        return (a + b) / 2

    def finished(self, task: TrackedTask, now: float, snapshot: TaskSnapshot) -> bool:
        """Learn the phases of a finished or failed task; True while its profile is young."""
        if snapshot.phase not in (TaskPhase.COMPLETED, TaskPhase.FAILED):
            return False
        previous = task.last_poll if task.last_poll is not None else task.origin
        belief = self.belief(task)
        ended = self._ended(belief, previous - task.origin, now - task.origin)
        model, profile = self.durations, task.profile
        start = self._run_start(task)
        if snapshot.phase == TaskPhase.FAILED:
            model.learn(FAIL, profile, ended)
            if start is not None:
                model.learn(QUEUE, profile, start[0] - task.origin)
            return self._young(profile)
        if start is not None:
            queued = start[0] - task.origin
        else:
            # Never seen running: split the total by the current medians of the two phases.
            q = math.exp(model.phase(QUEUE, profile)[0])
            r = math.exp(model.phase(RUN, profile)[0])
            queued = ended * q / (q + r)
        model.learn(QUEUE, profile, queued)
        model.learn(RUN, profile, ended - queued)
        return self._young(profile)

    def _young(self, profile: str) -> bool:
        # While a profile is young each end moves its belief a lot: tasks of it already waiting
        # are replanned (a burst of a new model learns from its first task, not its last).
        return self.durations.samples(profile) <= 2 * self.explore_tasks

    def replan(self, task: TrackedTask, now: float) -> float:
        """Return the next poll from the task's last answer under what is believed now."""
        last = task.last_poll if task.last_poll is not None else task.origin
        return max(now, self._step(task, last))
