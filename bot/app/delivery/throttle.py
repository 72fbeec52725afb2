"""Pacing of progress edits, per job: how often, and when to stop for good.

* At most one edit per ``interval`` seconds per message (real time: Discord's rate limits are).
* None to a message close to an hour old: Discord allows only a few edits past an hour
  (30046), and the result must still be able to replace the progress.
* None after Discord refused one for good (30046, message gone, no access): ``silence``.

Everything is per job and dropped by ``forget`` when the job ends.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import discord

__all__ = ["MESSAGE_EDIT_AGE", "OLD_MESSAGE_MARGIN", "ProgressThrottle", "message_age"]

#: Discord refuses more than a few edits to messages older than this (30046).
MESSAGE_EDIT_AGE = 3600.0
#: Stop progress edits this long before a message reaches ``MESSAGE_EDIT_AGE``.
OLD_MESSAGE_MARGIN = 60.0


def message_age(message_id: int, now: float) -> float:
    """Seconds since Discord created message ``message_id`` (from its snowflake), at ``now``."""
    return now - discord.utils.snowflake_time(message_id).timestamp()


class ProgressThrottle:
    """Decide when a job's progress message may be edited."""

    def __init__(
        self,
        interval: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        discord_now: Callable[[], float] = time.time,
    ) -> None:
        self.interval = interval
        self._monotonic = monotonic
        self._discord_now = discord_now
        self._last: dict[int, float] = {}
        self._silenced: set[int] = set()

    def delay(self, job_id: int) -> float:
        """Seconds to wait before the next edit of this job's message (0: now)."""
        last = self._last.get(job_id, -math.inf)
        return max(0.0, last + self.interval - self._monotonic())

    def sent(self, job_id: int) -> None:
        """Record that an edit was just attempted."""
        self._last[job_id] = self._monotonic()

    def silence(self, job_id: int) -> None:
        """Make no more progress edits for this job."""
        self._silenced.add(job_id)

    def silenced(self, job_id: int) -> bool:
        """Tell whether progress edits for this job have stopped."""
        return job_id in self._silenced

    def too_old(self, message_id: int) -> bool:
        """Tell whether a message is too close to an hour old to spend an edit on progress."""
        age = message_age(message_id, self._discord_now())
        return age > MESSAGE_EDIT_AGE - OLD_MESSAGE_MARGIN

    def forget(self, job_id: int) -> None:
        """Drop what is known about a job (it ended)."""
        self._last.pop(job_id, None)
        self._silenced.discard(job_id)

    def __len__(self) -> int:
        """How many jobs something is remembered about."""
        return len(self._last.keys() | self._silenced)
