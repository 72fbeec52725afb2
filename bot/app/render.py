"""Plain-text pieces of Atelier's messages: progress bars, durations, ETAs, safe truncation.

No discord import here: these are pure functions, easy to test on their own.
"""

from __future__ import annotations

import math

from bot.jobs.records import Job
from bot.jobs.states import ChargeState, JobState

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


_ADVICE = {
    "content_policy_violation": "Try rewording the prompt.",
    "invalid_request": "Check the options (size, resolution, images) and try again.",
    "reference_rejected": "Try another image (PNG or JPEG under 10 MB).",
    "reference_missing": "Run the command again with the images attached.",
    "timeout": "Try again, perhaps at a lower resolution or quality.",
    "service_unavailable": "Try again in a few minutes.",
    "submission_unconfirmed": "Try again; if it keeps happening, tell a moderator.",
    "interrupted": "Run the command again.",
    "result_expired": "Try again.",
    "download_failed": "Try again.",
    "undeliverable": "Check that Atelier may post and attach files in this channel, then try again.",
}


def failure_text(job: Job) -> tuple[str, str, str]:
    """Return (what happened, whether anything was charged, what to try) in plain words."""
    what = (job.error_message or "The image could not be made.").strip()
    if job.charge_state in (ChargeState.COMMITTED, ChargeState.COMMIT_PENDING):
        charged = "The credits for this request were used."
    else:
        charged = "Nothing was charged."
    advice = _ADVICE.get(job.error_code or "", "Try again in a moment.")
    if "nothing was charged" in what.lower():
        # Engine messages often say it already; do not repeat it in the same breath.
        what = _drop_sentence(what, "nothing was charged")
    return truncate(what, 1000), charged, advice


def _drop_sentence(text: str, phrase: str) -> str:
    lower = text.lower()
    i = lower.find(phrase)
    if i < 0:
        return text
    # Remove ", nothing was charged" / "; nothing was charged" / ". Nothing was charged."
    head = text[:i].rstrip(" ,;:—-")
    tail = text[i + len(phrase) :].lstrip(" ,;.")
    if tail:
        tail = tail[0].upper() + tail[1:]
        return (head + ". " + tail).strip() if head else tail
    return (head + ".") if head and not head.endswith(".") else head or text
