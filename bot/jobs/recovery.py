"""What to do with each unfinished job after a restart, so every job ends exactly once.

Rules, by the state the job was left in:

* ``pending`` / ``uploading`` — nothing reached the image service (uploads are harmless to
  redo): continue, i.e. upload what is missing and submit. If the row shows no confirmed
  reservation (a crash between recording the job and reserving its cost), it fails as
  ``interrupted`` and its reservation is released (``release`` is idempotent per job id).
* ``submitting`` — the generation POST was in flight: it may have created (and been charged
  for) a task whose id we never learned. The API has no idempotency key and no list endpoint,
  so the doubt cannot be resolved and resubmitting could charge twice. The job fails as
  ``submission_unconfirmed`` (the member reads that Atelier charged nothing and may try again)
  and its reservation is released. The same happens at run time on an uncertain answer; a POST
  that surely never arrived (connection refused, 5xx other than 502/504, 429) goes back to
  ``pending`` and is retried.
* ``submitted`` / ``running`` — polled again; its deadline is kept from before the restart.
* ``completed`` — downloaded again unless its files are all on disk, then delivered. A result
  URL that expired meanwhile fails the job (``result_expired``), releasing the reservation.
* ``delivering`` — the crash hit while the delivery layer was handing the files over: whether
  the user got them is unknown, so it goes back to ``completed`` and is delivered again. This
  is the one at-least-once window of delivery (between Discord accepting the message and the
  single ``delivering -> delivered`` write that follows it).
* Final jobs whose charge decision was recorded but not confirmed (``commit_pending`` /
  ``release_pending``) get the hook called again; failed jobs whose user was not told get
  ``Delivery.failed`` again; delivered jobs whose result files are still recorded (a crash
  before the listeners finished) get their listeners called again.
"""

from __future__ import annotations

from enum import StrEnum

from bot.jobs.records import Job
from bot.jobs.states import ChargeState, JobState


class RecoveryAction(StrEnum):
    """What recovery does with an unfinished job."""

    CONTINUE = "continue"  # resume the normal path from the job's state
    FAIL_INTERRUPTED = "fail_interrupted"  # no confirmed reservation: fail and release
    FAIL_UNCONFIRMED = "fail_unconfirmed"  # submission in doubt: fail and release
    REDELIVER = "redeliver"  # delivery was in flight: back to completed, deliver again


def recovery_action(job: Job) -> RecoveryAction:
    """Decide what to do with ``job`` found unfinished at start-up."""
    if job.state in (JobState.PENDING, JobState.UPLOADING) and job.charge_state == ChargeState.NONE:
        return RecoveryAction.FAIL_INTERRUPTED
    if job.state == JobState.SUBMITTING:
        return RecoveryAction.FAIL_UNCONFIRMED
    if job.state == JobState.DELIVERING:
        return RecoveryAction.REDELIVER
    return RecoveryAction.CONTINUE
