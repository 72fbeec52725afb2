"""What the running bot reports for its metrics: one small interface, no metrics library.

Services call an ``Observer`` (through the port wrappers in ``bot.ops.seams`` and the ToAPIs
client's request hook); ``bot.ops.metrics.PrometheusMetrics`` is the implementation that keeps
the numbers; ``NullObserver`` drops them. Every call is synchronous and cheap: it only counts.
"""

from __future__ import annotations

from typing import Literal, Protocol

__all__ = [
    "CreditAction",
    "DeliveryOutcome",
    "NullObserver",
    "Observer",
    "UploadOutcome",
]

UploadOutcome = Literal["uploaded", "failed"]
DeliveryOutcome = Literal["delivered", "failed", "undeliverable"]
CreditAction = Literal["reserved", "committed", "released"]


class Observer(Protocol):
    """Receives what happened; each method counts one event."""

    def toapis_answered(self, call: str, status: int | None) -> None:
        """A ToAPIs request (``call``: submit, status, upload, download) got HTTP ``status``
        (None: no answer: the connection failed or timed out)."""
        ...

    def task_detected(self, seconds: float) -> None:
        """A poll saw a task completed ``seconds`` after ToAPIs says it completed."""
        ...

    def upload(self, outcome: UploadOutcome) -> None:
        """A reference image was sent to ToAPIs (or the attempt failed)."""
        ...

    def delivery(self, outcome: DeliveryOutcome) -> None:
        """A delivery attempt ended: delivered, failed (to retry), or undeliverable (permanent)."""
        ...

    def credits(self, action: CreditAction, amount: float) -> None:
        """Quota credits were reserved for a job, committed, or released."""
        ...

    def job_delivered(self, seconds: float) -> None:
        """A job was delivered ``seconds`` after it was requested (end-to-end latency)."""
        ...


class NullObserver:
    """An observer that keeps nothing."""

    def toapis_answered(self, call: str, status: int | None) -> None:
        """Drop the event."""

    def task_detected(self, seconds: float) -> None:
        """Drop the event."""

    def upload(self, outcome: UploadOutcome) -> None:
        """Drop the event."""

    def delivery(self, outcome: DeliveryOutcome) -> None:
        """Drop the event."""

    def credits(self, action: CreditAction, amount: float) -> None:
        """Drop the event."""

    def job_delivered(self, seconds: float) -> None:
        """Drop the event."""
