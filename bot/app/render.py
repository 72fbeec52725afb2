"""Plain-text pieces of Atelier's messages: progress bars, durations, ETAs, safe truncation.

No discord import here: these are pure functions, easy to test on their own.
"""

from __future__ import annotations

import math

from bot.jobs.records import Job
from bot.jobs.states import ChargeState, FailureCode, JobState
from bot.messages import say

__all__ = [
    "eta_seconds",
    "failure_text",
    "format_duration",
    "progress_bar",
    "state_label",
    "truncate",
]

_STATE_LABELS = {
    JobState.PENDING: "Waiting to start",
    JobState.UPLOADING: "Uploading your images",
    JobState.SUBMITTING: "Sending the request",
    JobState.SUBMITTED: "Queued at the image service",
    JobState.RUNNING: "Painting",
    JobState.COMPLETED: "Finishing up",
    JobState.DELIVERING: "Posting the result",
    JobState.DELIVERED: "Done",
    JobState.FAILED: "Failed",
    JobState.CANCELLED: "Cancelled",
}


def state_label(state: JobState) -> str:
    """Return a short human label for a job state."""
    return _STATE_LABELS.get(state, state.value)


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
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {(s % 3600) // 60:02d}m"


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


def failure_text(job: Job) -> tuple[str, str, str]:
    """Return (what happened, whether anything was charged, what to try) in plain words.

    Every sentence comes from ``bot.messages`` by the job's ``FailureCode``; the stored
    ``error_message`` is only the neutral detail some sentences quote, so nothing is cut.
    """
    code = FailureCode.parse(job.error_code)
    detail = (job.error_message or "").strip() or say("failure.no_detail")
    minutes = 0
    if job.deadline_at is not None and job.submitted_at is not None:
        minutes = max(1, round((job.deadline_at - job.submitted_at) / 60))
    what = say(f"failure.{code.value}.what", detail=detail, minutes=minutes)
    if job.charge_state in (ChargeState.COMMITTED, ChargeState.COMMIT_PENDING):
        charged = say("failure.charged")
    else:
        charged = say("failure.not_charged")
    return truncate(what, 1000), charged, say(f"failure.{code.value}.advice")
