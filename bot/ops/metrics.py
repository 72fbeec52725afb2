"""The Prometheus implementation of ``Observer``: the one module that imports prometheus-client.

Each ``PrometheusMetrics`` owns its registry (never the library's global one), so two bots in
one process (tests) keep separate numbers. Counters and histograms move as events arrive; the
gauges that describe the present (jobs by state, gateway shards, the poll budget) are set by
``refresh`` just before each scrape (``bot.ops.server``). Every metric is listed in README.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.jobs.states import JobState
from bot.ops.observer import CreditAction, DeliveryOutcome, UploadOutcome

__all__ = ["CONTENT_TYPE", "PrometheusMetrics"]

#: The Content-Type of ``render()``'s text (Prometheus text exposition format 0.0.4).
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Polls land about a second after a predicted finish; the tail is what the poller trades away.
DETECTION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0)
# 1K tasks take tens of seconds, 4K minutes; the time limits are 15 and 30 minutes.
END_TO_END_BUCKETS = (5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0, 1800.0)
_CALLS = ("submit", "status", "upload", "download")


class PrometheusMetrics:
    """Atelier's metrics in a registry of their own; implements ``bot.ops.observer.Observer``."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.jobs = Gauge(
            "atelier_jobs",
            "Jobs in the database by state (every process sharing the database)",
            ["state"],
            registry=r,
        )
        self.detection = Histogram(
            "atelier_task_detection_seconds",
            "Time from ToAPIs completing a task to the poll that saw it",
            buckets=DETECTION_BUCKETS,
            registry=r,
        )
        self.end_to_end = Histogram(
            "atelier_job_end_to_end_seconds",
            "Time from a member's request to the delivered images",
            buckets=END_TO_END_BUCKETS,
            registry=r,
        )
        self.toapis_requests = Counter(
            "atelier_toapis_requests",
            "HTTP requests to ToAPIs by call and answer code (none: no answer)",
            ["call", "code"],
            registry=r,
        )
        self.toapis_rate_limited = Counter(
            "atelier_toapis_rate_limited",
            "ToAPIs answers 429 (rate limited), by call",
            ["call"],
            registry=r,
        )
        self.uploads = Counter(
            "atelier_uploads",
            "Reference images sent to ToAPIs, by outcome",
            ["outcome"],
            registry=r,
        )
        self.deliveries = Counter(
            "atelier_deliveries",
            "Result delivery attempts to Discord, by outcome",
            ["outcome"],
            registry=r,
        )
        self.credits_moved = Counter(
            "atelier_credits",
            "Quota credits reserved for jobs, committed (delivered) and released (not delivered)",
            ["action"],
            registry=r,
        )
        self.gateway_latency = Gauge(
            "atelier_gateway_latency_seconds",
            "Discord gateway heartbeat latency by shard",
            ["shard"],
            registry=r,
        )
        self.gateway_connected = Gauge(
            "atelier_gateway_connected",
            "1 if the shard's gateway websocket is open, else 0",
            ["shard"],
            registry=r,
        )
        self.poll_budget = Gauge(
            "atelier_poll_budget_requests_per_second",
            "This process's current budget of ToAPIs status requests per second",
            registry=r,
        )
        # Series that exist from the start read 0 instead of being absent until the first event.
        for state in JobState:
            self.jobs.labels(state=state.value).set(0)
        for call in _CALLS:
            self.toapis_rate_limited.labels(call=call)
        for outcome in ("uploaded", "failed"):
            self.uploads.labels(outcome=outcome)
        for outcome in ("delivered", "failed", "undeliverable"):
            self.deliveries.labels(outcome=outcome)
        for action in ("reserved", "committed", "released"):
            self.credits_moved.labels(action=action)

    # -- Observer -----------------------------------------------------------------------------

    def toapis_answered(self, call: str, status: int | None) -> None:
        """Count one ToAPIs request and its answer."""
        self.toapis_requests.labels(call=call, code="none" if status is None else str(status)).inc()
        if status == 429:
            self.toapis_rate_limited.labels(call=call).inc()

    def task_detected(self, seconds: float) -> None:
        """Record a detection latency."""
        self.detection.observe(seconds)

    def upload(self, outcome: UploadOutcome) -> None:
        """Count an upload."""
        self.uploads.labels(outcome=outcome).inc()

    def delivery(self, outcome: DeliveryOutcome) -> None:
        """Count a delivery attempt."""
        self.deliveries.labels(outcome=outcome).inc()

    def credits(self, action: CreditAction, amount: float) -> None:
        """Count credits moved."""
        self.credits_moved.labels(action=action).inc(amount)

    def job_delivered(self, seconds: float) -> None:
        """Record an end-to-end latency."""
        self.end_to_end.observe(seconds)

    # -- the present, set before each scrape ----------------------------------------------------

    def refresh(
        self,
        *,
        jobs_by_state: Mapping[str, int] | None,
        shards: Iterable[tuple[int, bool, float]],
        poll_budget: float | None,
    ) -> None:
        """Set the gauges: job counts (None: the database did not answer, keep the last),
        ``(shard, connected, latency)`` per shard, and the poll budget."""
        if jobs_by_state is not None:
            for state in JobState:
                self.jobs.labels(state=state.value).set(jobs_by_state.get(state.value, 0))
        self.gateway_latency.clear()
        self.gateway_connected.clear()
        for shard, connected, latency in shards:
            self.gateway_connected.labels(shard=str(shard)).set(1 if connected else 0)
            if connected and math.isfinite(latency):
                self.gateway_latency.labels(shard=str(shard)).set(latency)
        if poll_budget is not None:
            self.poll_budget.set(poll_budget)

    def render(self) -> bytes:
        """Return every metric in the Prometheus text format."""
        return generate_latest(self.registry)
