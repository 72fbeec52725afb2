"""Every sentence a member reads, in one place (the future translation catalog).

Templates use named ``{placeholders}``; ``say(key, **params)`` fills one in. Code elsewhere
never writes a member-facing sentence itself: it raises ``bot.refusal.Refusal(say(...))`` or
stores a ``FailureCode`` whose sentence is looked up here. Sections follow the code's layers.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TEXT", "say"]

TEXT: dict[str, str] = {}

# -- generation: plan, references, variants (bot/generation/) ------------------------------
TEXT.update({})

# -- images: inspecting, converting, masks (bot/images.py) -----------------------------------
TEXT.update({})

# -- server policy and blocklist (bot/guild_settings/) ---------------------------------------
TEXT.update({})

# -- quotas (bot/quota/) ---------------------------------------------------------------------
TEXT.update({})

# -- job failures: what happened / what to try, per FailureCode (bot/jobs/, bot/app/) --------
# ``failure.<code>.what`` and ``failure.<code>.advice`` exist for every ``FailureCode``;
# ``what_detail`` variants take the neutral detail the engine stores for that code.
TEXT.update(
    {
        "failure.charge_refused.what": "The request was not accepted.",
        "failure.charge_refused.what_detail": "{detail}",
        "failure.charge_refused.advice": "See what you have left with /quota me, then try again.",
        "failure.cancelled.what": "The job was cancelled.",
        "failure.cancelled.advice": "Run the command again whenever you like.",
        "failure.submission_unconfirmed.what": (
            "We could not confirm that the request reached the image service."
        ),
        "failure.submission_unconfirmed.advice": (
            "Try again; if it keeps happening, tell a moderator."
        ),
        "failure.interrupted.what": "Atelier restarted before the request was confirmed.",
        "failure.interrupted.advice": "Run the command again.",
        "failure.invalid_request.what": "The image service refused the request.",
        "failure.invalid_request.advice": (
            "Check the options (size, resolution, images) and try again."
        ),
        "failure.service_unavailable.what": "The image service is unavailable right now.",
        "failure.service_unavailable.advice": "Try again in a few minutes.",
        "failure.reference_missing.what": "A reference image could not be read.",
        "failure.reference_missing.what_detail": "The reference image {detail} could not be read.",
        "failure.reference_missing.advice": "Run the command again with the images attached.",
        "failure.reference_rejected.what": "The image service refused a reference image.",
        "failure.reference_rejected.advice": "Try another image (PNG or JPEG under 10 MB).",
        "failure.generation_failed.what": "The image service could not make this image.",
        "failure.generation_failed.advice": (
            "Try again; rewording the prompt or choosing other options may help."
        ),
        "failure.content_policy_violation.what": (
            "The image service's safety check stopped this image."
        ),
        "failure.content_policy_violation.advice": "Try rewording the prompt.",
        "failure.no_result.what": "The image service finished but sent no image.",
        "failure.no_result.advice": "Try again.",
        "failure.time_limit.what": "The image took too long, so it was stopped.",
        "failure.time_limit.what_minutes": (
            "The image took longer than {minutes} minutes, so it was stopped."
        ),
        "failure.time_limit.advice": "Try again, perhaps at a lower resolution or quality.",
        "failure.task_not_found.what": (
            "The image service no longer knows this request (it may have expired)."
        ),
        "failure.task_not_found.advice": "Try again.",
        "failure.result_expired.what": "The finished image expired before it could be fetched.",
        "failure.result_expired.advice": "Try again.",
        "failure.result_too_large.what": "The finished image was too large to fetch.",
        "failure.result_too_large.advice": "Try again at a lower resolution.",
        "failure.download_failed.what": "The finished image could not be fetched.",
        "failure.download_failed.advice": "Try again.",
        "failure.undeliverable.what": "The image was made but could not be posted here.",
        "failure.undeliverable.advice": (
            "Check that Atelier may post and attach files in this channel, then try again."
        ),
        # The image service's own words, for the codes whose detail is its message.
        "failure.service_said": "The image service said: “{detail}”",
        "failure.charged.yes": "The credits for this request were used.",
        "failure.charged.no": "Nothing was charged.",
    }
)

# -- delivery: progress, results, failures, gallery (bot/app/delivery/) ----------------------
TEXT.update(
    {
        "delivery.state.pending": "Waiting to start",
        "delivery.state.uploading": "Uploading your images",
        "delivery.state.submitting": "Sending the request",
        "delivery.state.submitted": "Queued at the image service",
        "delivery.state.running": "Painting",
        "delivery.state.completed": "Finishing up",
        "delivery.state.delivering": "Posting the result",
        "delivery.state.delivered": "Done",
        "delivery.state.failed": "Failed",
        "delivery.state.cancelled": "Cancelled",
        "delivery.progress.title": "Working on it…",
        "delivery.progress.queue": "position {position} of {total} in the queue",
        "delivery.progress.elapsed": "Elapsed {elapsed}",
        "delivery.progress.left": "about {left} left",
        "delivery.progress.footer": "Job #{job} · {model}",
        "delivery.result.title_one": "Here is your image",
        "delivery.result.title_many": "Here are your {count} images",
        "delivery.result.model": "Model",
        "delivery.result.size": "Size",
        "delivery.result.size_default": "default",
        "delivery.result.resolution": "Resolution",
        "delivery.result.quality": "Quality",
        "delivery.result.count": "Count",
        "delivery.result.requested_by": "Requested by",
        "delivery.result.cost": "Cost",
        "delivery.result.cost_one": "{cost} credit",
        "delivery.result.cost_many": "{cost} credits",
        "delivery.result.job": "Job",
        "delivery.result.note": "Note",
        "delivery.result.the_image": "The image",
        "delivery.result.image_n": "Image {n}",
        "delivery.result.reencoded": (
            "{label} ({megabytes} MB) was larger than this channel allows, so it was re-encoded "
            "as a high-quality JPEG."
        ),
        "delivery.result.preview": (
            "{label} ({megabytes} MB) could not fit this channel's upload limit even re-encoded, "
            "so this is a downscaled preview ({width}x{height})."
        ),
        "delivery.result.footer": "Job #{job}",
        "delivery.result.footer_reroll": "Job #{job} · Re-roll of job #{parent}",
        "delivery.result.footer_vary": "Job #{job} · Variation of job #{parent}",
        "delivery.result.footer_upscale": "Job #{job} · Upscale of job #{parent}",
        "delivery.failure.title": "This image could not be made",
        "delivery.failure.what": "What happened",
        "delivery.failure.charged": "Charged?",
        "delivery.failure.advice": "What to try",
        "delivery.failure.footer": "Job #{job}",
        "delivery.cancelled.title": "Cancelled",
        "delivery.cancelled.by": "Cancelled by {by}. Nothing was charged.",
        "delivery.cancelled.footer": "Job #{job}",
        "delivery.fallback.result": "{mention} your image is ready.",
        "delivery.fallback.failure": "{mention} your request could not be completed.",
        "delivery.pointer": "Finished — the result is posted here: {url}",
        "delivery.gallery.by": "By {mention}",
        "delivery.gallery.footer": "{model} · job #{job}",
    }
)

# -- commands, buttons and the error handler (bot/app/, cogs/) -------------------------------
TEXT.update({})


def say(key: str, /, **params: Any) -> str:
    """Return the sentence ``key`` with ``params`` filled in; a missing key fails loudly."""
    return TEXT[key].format(**params)
