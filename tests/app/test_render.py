"""What members read, without Discord: progress pieces, failure sentences per code, embeds."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from bot.app.delivery.embeds import (
    cancelled_embed,
    failure_embed,
    gallery_embed,
    progress_embed,
    result_embed,
)
from bot.app.render import (
    SERVICE_DETAIL_CODES,
    eta_seconds,
    failure_text,
    format_duration,
    progress_bar,
    state_label,
    truncate,
)
from bot.generation.store import JobDiscordInfo
from bot.images import FittedImage
from bot.jobs.records import Job, decode_request
from bot.jobs.states import ChargeState, FailureCode, JobState
from bot.messages import TEXT

MIB = 1024 * 1024


def _job(**changes: object) -> Job:
    base = Job(
        id=7,
        state=JobState.RUNNING,
        charge_state=ChargeState.RELEASED,
        member_id=1,
        request=decode_request(
            '{"model": "gpt-image-1.5-official", "prompt": "p", "size": "16:9", "resolution": "1k", "n": 1}'
        ),
        created_at=100.0,
        updated_at=100.0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _failed(code: str, detail: str | None = None, **changes: object) -> Job:
    return _job(state=JobState.FAILED, error_code=code, error_message=detail, **changes)


def test_progress_bar_and_durations() -> None:
    assert progress_bar(50, 10) == "▰▰▰▰▰▱▱▱▱▱ 50%"
    assert progress_bar(None, 4) == "▱▱▱▱ …"
    assert progress_bar(150, 4).endswith("100%")
    assert format_duration(5) == "5s" and format_duration(125) == "2m 05s"
    assert format_duration(3720) == "1h 02m" and format_duration(None) == "—"


def test_eta_from_progress_and_from_typical_duration() -> None:
    running = _job(submitted_at=100.0, progress=25)
    assert eta_seconds(running, 110.0, None) == pytest.approx(30.0)
    queued = _job(state=JobState.SUBMITTED, submitted_at=100.0, progress=None)
    assert eta_seconds(queued, 110.0, 40.0) == pytest.approx(30.0)
    assert eta_seconds(queued, 110.0, None) is None


def test_truncate_is_safe() -> None:
    assert truncate("short", 10) == "short"
    assert truncate("abcdefghij", 5) == "abcd…"
    assert len(truncate("x" * 5000, 4096)) == 4096
    assert truncate("abc\\" + "d" * 10, 5) == "abc…"


def test_every_state_has_a_label() -> None:
    labels = {state_label(s) for s in JobState}
    assert len(labels) == len(JobState) and "Painting" in labels


@pytest.mark.parametrize("code", list(FailureCode))
def test_every_failure_code_says_what_happened_and_what_to_try(code: FailureCode) -> None:
    assert TEXT[f"failure.{code.value}.what"].strip()
    assert TEXT[f"failure.{code.value}.advice"].strip()
    text = failure_text(_failed(code.value, "Some detail."))
    for sentence in (text.what, text.advice, text.charged):
        assert sentence and sentence[0].isupper()
        assert not re.search(r"\{\w*\}", sentence)  # every placeholder filled
    assert text.charged == "Nothing was charged."


def test_an_unconfirmed_submission_reads_as_one_sentence() -> None:
    # The engine's neutral detail is for the logs; the member reads the sentence for the code.
    job = _failed("submission_unconfirmed", "POST /v1/images/generations timed out after 60s")
    text = failure_text(job)
    assert text.what == "We could not confirm that the request reached the image service."
    assert text.charged == "Nothing was charged."
    assert text.advice == "Try again; if it keeps happening, tell a moderator."
    assert "timed out" not in text.what


def test_a_time_limit_says_how_long_and_what_to_try() -> None:
    job = _failed("time_limit", "deadline passed", submitted_at=1000.0, deadline_at=1600.0)
    text = failure_text(job)
    assert text.what == "The image took longer than 10 minutes, so it was stopped."
    assert text.advice == "Try again, perhaps at a lower resolution or quality."
    unknown = failure_text(_failed("time_limit"))
    assert unknown.what == "The image took too long, so it was stopped."


def test_the_image_services_words_are_shown_where_they_help() -> None:
    text = failure_text(_failed("generation_failed", "the prompt mentions a real person"))
    assert text.what == (
        "The image service could not make this image.\n"
        "The image service said: “the prompt mentions a real person”"
    )
    # An unknown vendor code reads like a generation failure, with the vendor's words.
    vendor = failure_text(_failed("moderation_blocked", "blocked by safety"))
    assert vendor.what.startswith("The image service could not make this image.")
    assert "“blocked by safety”" in vendor.what
    policy = failure_text(_failed("content_policy_violation", "nudity"))
    assert "safety check" in policy.what and "“nudity”" in policy.what
    assert policy.advice == "Try rewording the prompt."
    # No detail: no empty quote.
    assert "said" not in failure_text(_failed("generation_failed", "")).what
    assert SERVICE_DETAIL_CODES >= {FailureCode.GENERATION_FAILED, FailureCode.INVALID_REQUEST}


def test_technical_details_stay_out_of_what_members_read() -> None:
    for code in (
        set(FailureCode)
        - SERVICE_DETAIL_CODES
        - {
            FailureCode.REFERENCE_MISSING,
            FailureCode.CHARGE_REFUSED,
        }
    ):
        text = failure_text(_failed(code.value, "HTTP 503 from cdn-7.internal"))
        assert "cdn-7" not in text.what, code


def test_reference_and_charge_failures_name_what_they_are_about() -> None:
    missing = failure_text(_failed("reference_missing", "cat.png"))
    assert missing.what == "The reference image cat.png could not be read."
    rejected = failure_text(_failed("reference_rejected", "cat.png: unsupported format"))
    assert rejected.what == (
        "The image service refused a reference image.\n"
        "The image service said: “cat.png: unsupported format”"
    )
    refused = failure_text(_failed("charge_refused", "You have no credits left today."))
    assert refused.what == "You have no credits left today."


def test_whether_it_cost_comes_from_the_charge_state() -> None:
    committed = failure_text(_failed("undeliverable", charge_state=ChargeState.COMMITTED))
    assert committed.charged == "The credits for this request were used."
    pending = failure_text(_failed("undeliverable", charge_state=ChargeState.RELEASE_PENDING))
    assert pending.charged == "Nothing was charged."


def test_a_long_vendor_detail_is_cut_to_fit_the_embed() -> None:
    embed = failure_embed(_failed("generation_failed", "x" * 5000)).to_dict()
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert 0 < len(fields["What happened"]) <= 1024 and fields["What happened"].endswith("…”")
    assert fields["Charged?"] == "Nothing was charged."


def test_failure_embed_has_the_three_answers() -> None:
    embed = failure_embed(_failed("time_limit", submitted_at=0.0, deadline_at=300.0)).to_dict()
    assert embed["title"] == "This image could not be made"
    assert [f["name"] for f in embed["fields"]] == ["What happened", "Charged?", "What to try"]
    assert embed["fields"][0]["value"] == (
        "The image took longer than 5 minutes, so it was stopped."
    )
    assert embed["footer"]["text"] == "Job #7"


def test_progress_embed_shows_state_queue_and_timing() -> None:
    job = _job(state=JobState.SUBMITTED, submitted_at=100.0)
    embed = progress_embed(job, now=130.0, position=(2, 5), typical=90.0).to_dict()
    assert "**Queued at the image service** · position 2 of 5 in the queue" in embed["description"]
    assert "Elapsed 30s · about 1m 00s left" in embed["description"]
    assert embed["footer"]["text"] == "Job #7 · gpt-image-1.5-official"


def test_result_embed_explains_fitting_and_variants() -> None:
    fitted = [
        FittedImage(b"", "atelier-7-1.jpg", "image/jpeg", "reencoded", 100, 100),
        FittedImage(b"", "atelier-7-2.jpg", "image/jpeg", "preview", 50, 40),
    ]
    info = JobDiscordInfo(job_id=7, command="vary", parent_job_id=3)
    embed = result_embed(_job(cost=1.0), info, fitted, [12 * MIB, 30 * MIB]).to_dict()
    assert embed["title"] == "Here are your 2 images"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Cost"] == "1 credit" and fields["Requested by"] == "<@1>"
    assert "Image 1 (12.0 MB)" in fields["Note"] and "preview (50x40)" in fields["Note"]
    assert embed["footer"]["text"] == "Job #7 · Variation of job #3"


def test_cancelled_and_gallery_embeds() -> None:
    cancelled = cancelled_embed(_job(), "@everyone " + "x" * 200).to_dict()
    assert "Nothing was charged." in cancelled["description"]
    assert len(cancelled["description"].split("Cancelled by ")[1]) <= 80 + len(
        ". Nothing was charged."
    )
    gallery = gallery_embed(_job()).to_dict()
    assert gallery["footer"]["text"] == "gpt-image-1.5-official · job #7"
