"""The job state machine: which states exist and which transitions are legal."""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    """Where a job is in its life; stored as text in the job row."""

    PENDING = "pending"  # recorded; nothing sent to the image service yet
    UPLOADING = "uploading"  # reference images are being uploaded (safe to redo)
    SUBMITTING = "submitting"  # the generation POST is in flight: its outcome may be unknown
    SUBMITTED = "submitted"  # the service accepted it and gave a task id; queued there
    RUNNING = "running"  # the service reports the task in progress
    COMPLETED = "completed"  # the task finished; results being downloaded or waiting for delivery
    DELIVERING = "delivering"  # results are being handed to the delivery layer
    DELIVERED = "delivered"  # final: the user got the images
    FAILED = "failed"  # final: the user is told why
    CANCELLED = "cancelled"  # final: the user asked to stop


class FailureCode(StrEnum):
    """Why a job ended without images; stored in ``error_code`` (the member's sentence for each
    lives in ``bot.messages``, the stored ``error_message`` is neutral detail only)."""

    CHARGE_REFUSED = "charge_refused"  # the reservation was refused (the member was told)
    CANCELLED = "cancelled"
    SUBMISSION_UNCONFIRMED = "submission_unconfirmed"  # the POST may or may not have arrived
    INTERRUPTED = "interrupted"  # a restart hit before the reservation was confirmed
    INVALID_REQUEST = "invalid_request"  # the service refused the request
    SERVICE_UNAVAILABLE = "service_unavailable"  # auth, balance, or retries used up
    REFERENCE_MISSING = "reference_missing"  # a kept reference file is gone
    REFERENCE_REJECTED = "reference_rejected"  # the service refused a reference upload
    GENERATION_FAILED = "generation_failed"  # the task failed at the service
    CONTENT_POLICY = "content_policy_violation"  # the task failed on the vendor's safety check
    NO_RESULT = "no_result"  # the task finished without an image
    TIME_LIMIT = "time_limit"  # the task ran past its deadline
    TASK_NOT_FOUND = "task_not_found"  # the service no longer knows the task
    RESULT_EXPIRED = "result_expired"
    RESULT_TOO_LARGE = "result_too_large"
    DOWNLOAD_FAILED = "download_failed"
    UNDELIVERABLE = "undeliverable"  # Discord refused the result

    @classmethod
    def parse(cls, code: str | None) -> FailureCode:
        """Return the code for a stored or vendor value; unknown vendor codes are generic."""
        try:
            return cls(code or "")
        except ValueError:
            return cls.GENERATION_FAILED


class ChargeState(StrEnum):
    """What happened to the job's reserved cost; recorded with the transition that decides it."""

    NONE = "none"  # nothing reserved (or the reservation was never confirmed)
    RESERVED = "reserved"
    COMMIT_PENDING = "commit_pending"  # decided: commit; the hook has not confirmed yet
    COMMITTED = "committed"
    RELEASE_PENDING = "release_pending"  # decided: release; the hook has not confirmed yet
    RELEASED = "released"


FINAL_STATES: frozenset[JobState] = frozenset(
    {JobState.DELIVERED, JobState.FAILED, JobState.CANCELLED}
)
ACTIVE_STATES: frozenset[JobState] = frozenset(JobState) - FINAL_STATES

# Delivery has begun in DELIVERING: the user may already have the images, so it cannot be cancelled.
CANCELLABLE_STATES: frozenset[JobState] = ACTIVE_STATES - {JobState.DELIVERING}

TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.PENDING: frozenset(
        {JobState.UPLOADING, JobState.SUBMITTING, JobState.FAILED, JobState.CANCELLED}
    ),
    JobState.UPLOADING: frozenset(
        {JobState.PENDING, JobState.SUBMITTING, JobState.FAILED, JobState.CANCELLED}
    ),
    # SUBMITTING -> PENDING only when the POST surely never reached the service.
    JobState.SUBMITTING: frozenset(
        {JobState.PENDING, JobState.SUBMITTED, JobState.FAILED, JobState.CANCELLED}
    ),
    JobState.SUBMITTED: frozenset(
        {JobState.RUNNING, JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED}
    ),
    JobState.RUNNING: frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED}),
    JobState.COMPLETED: frozenset({JobState.DELIVERING, JobState.FAILED, JobState.CANCELLED}),
    # DELIVERING -> COMPLETED: a delivery to retry later (or after a crash).
    JobState.DELIVERING: frozenset({JobState.DELIVERED, JobState.COMPLETED, JobState.FAILED}),
    JobState.DELIVERED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELLED: frozenset(),
}


class IllegalTransition(ValueError):
    """A transition the state machine does not allow was requested."""

    def __init__(self, source: JobState, target: JobState) -> None:
        super().__init__(f"a job cannot go from {source.value} to {target.value}")
        self.source = source
        self.target = target


def can_transition(source: JobState, target: JobState) -> bool:
    """Tell whether ``source -> target`` is a legal transition."""
    return target in TRANSITIONS[source]


def check_transition(source: JobState, target: JobState) -> None:
    """Raise ``IllegalTransition`` unless ``source -> target`` is legal."""
    if not can_transition(source, target):
        raise IllegalTransition(source, target)
