"""Plain-text pieces of Atelier's messages: progress bars, durations, ETAs, failure sentences.

No discord import here: these are pure functions, easy to test on their own. Every sentence
comes from ``bot.messages``; this module only chooses which one and fills it in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.jobs.records import Job
from bot.jobs.states import ChargeState, FailureCode, JobState
from bot.messages import TEXT, say

__all__ = [
    "SERVICE_DETAIL_CODES",
    "FailureText",
    "eta_seconds",
    "failure_text",
    "format_duration",
    "progress_bar",
    "state_label",
    "truncate",
]

#: Codes whose stored detail is the image service's own message, shown to the member as such.
SERVICE_DETAIL_CODES: frozenset[FailureCode] = frozenset(
    {
        FailureCode.GENERATION_FAILED,
        FailureCode.CONTENT_POLICY,
        FailureCode.INVALID_REQUEST,
        FailureCode.REFERENCE_REJECTED,
    }
)
#: How much of a stored detail a member may read (an embed field holds 1024 characters).
DETAIL_LIMIT = 600


def state_label(state: JobState) -> str:
    """Return a short human label for a job state."""
    return say(f"delivery.state.{state.value}")


def progress_bar(percent: float | None, width: int = 16) -> str:
    """Return e.g. ``▰▰▰▰▱▱▱▱ 50%``; unknown progress shows an empty bar with ``…``."""
    if percent is None:
        return "▱" * width + " …"
    pct = max(0.0, min(100.0, float(percent)))
    filled = round(pct / 100 * width)
    return "▰" * filled + "▱" * (width - filled) + f" {int(pct)}%"


def format_duration(seconds: float | None) -> str:
    """Return ``42s``, ``3m 05s`` or ``1h 02m``; unknown is ``—``."""
    if seconds is None or math.isnan(seconds):
        return "—"
    s = max(0, round(seconds))
    if s < 60:
        return say("duration.seconds", s=s)
    if s < 3600:
        return say("duration.minutes", m=s // 60, s=f"{s % 60:02d}")
    return say("duration.hours", h=s // 3600, m=f"{(s % 3600) // 60:02d}")


def eta_seconds(job: Job, now: float, typical_total: float | None) -> float | None:
    """Estimate the seconds left: from progress while running, else from the typical duration.

    ``typical_total`` is how long tasks of this kind usually take from submission.
    """
    if job.state in (JobState.COMPLETED, JobState.DELIVERING):
        return 0.0
    start = job.submitted_at
    if (
        job.state == JobState.RUNNING
        and start is not None
        and job.progress is not None
        and 0 < job.progress < 100
    ):
        elapsed = max(0.0, now - start)
        return elapsed * (100 - job.progress) / job.progress
    if typical_total is None:
        return None
    begun = start if start is not None else now
    return max(1.0, typical_total - (now - begun))


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters on a character boundary, ending with ``…``."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    # Do not leave a lone high surrogate or a dangling backslash escape at the end.
    while cut and (cut[-1] == "\\" or "\ud800" <= cut[-1] <= "\udbff"):
        cut = cut[:-1]
    return cut + "…"


@dataclass(frozen=True, slots=True)
class FailureText:
    """What a member reads about a failed job: what happened, whether it cost, what to try."""

    what: str
    charged: str
    advice: str


def failure_text(job: Job) -> FailureText:
    """Return the member's sentences for a failed job, from its code and neutral detail."""
    code = FailureCode.parse(job.error_code)
    detail = (job.error_message or "").strip()
    what = _what(code, detail, job)
    if code in SERVICE_DETAIL_CODES and detail:
        what += "\n" + say("failure.service_said", detail=truncate(detail, DETAIL_LIMIT))
    if job.charge_state in (ChargeState.COMMITTED, ChargeState.COMMIT_PENDING):
        charged = say("failure.charged.yes")
    else:
        charged = say("failure.charged.no")
    return FailureText(truncate(what, 1000), charged, say(f"failure.{code.value}.advice"))


def _what(code: FailureCode, detail: str, job: Job) -> str:
    if code == FailureCode.TIME_LIMIT:
        if job.deadline_at is not None and job.submitted_at is not None:
            minutes = max(1, round((job.deadline_at - job.submitted_at) / 60))
            return say("failure.time_limit.what_minutes", minutes=minutes)
        return say("failure.time_limit.what")
    with_detail = f"failure.{code.value}.what_detail"
    if detail and with_detail in TEXT:
        return say(with_detail, detail=truncate(detail, DETAIL_LIMIT))
    return say(f"failure.{code.value}.what")
