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
TEXT.update({})

# -- delivery: progress, results, failures, gallery (bot/app/delivery/) ----------------------
TEXT.update({})

# -- commands, buttons and the error handler (bot/app/, cogs/) -------------------------------
TEXT.update(
    {
        # the error handler (bot/app/errors.py)
        "app.cooldown": "Slow down a little — try again in {seconds} s.",
        "app.missing_permissions": (
            "Only members with the {permissions} permission can do that here."
        ),
        "app.bot_missing_permissions": (
            "Atelier is missing the {permissions} permission in this channel — ask a moderator."
        ),
        "app.servers_only": "This command works in servers only.",
        "app.check_failed": "You cannot use this here.",
        "app.bad_option": (
            "One of the options has a value Atelier cannot use — check it and try again."
        ),
        "app.channel_forbidden": (
            "Atelier is not allowed to do that in this channel — it needs View Channel, "
            "Send Messages, Embed Links and Attach Files."
        ),
        "app.unexpected": (
            "Something went wrong on Atelier's side and nothing was charged. Please try again; "
            "if it keeps happening, give a moderator this reference: `{reference}`."
        ),
        "app.restarting": "Atelier is restarting — please try again in a minute.",
        # the generation flow and buttons (bot/app/flow.py, bot/app/views.py)
        "app.job_unknown": "Atelier no longer knows that request — run the command again.",
        "app.image_gone": "That image is no longer on this message.",
        "app.delete_not_allowed": (
            "Only the member who asked for this image, or someone with Manage Messages, "
            "can delete it."
        ),
        "app.fetch_failed_status": (
            "{label} could not be fetched from Discord (HTTP {status}) — attach it again."
        ),
        "app.fetch_too_large": "{label} is larger than the image service takes (10 MB).",
        "app.fetch_failed": "{label} could not be fetched from Discord — attach it again.",
        # how refusals name the member's attachments (they start a sentence)
        "app.label_image_n": "Image {n}",
        "app.label_image": "The image",
        "app.label_mask": "The mask",
        # /jobs (cogs/jobs.py)
        "jobs.none": "You have no unfinished jobs.",
        "jobs.title": "Your unfinished jobs",
        "jobs.title_server": "Unfinished jobs in this server",
        "jobs.footer": "Cancel one with /jobs cancel job:<number>",
        "jobs.more": "…and more: the oldest are shown first.",
        "jobs.finished": "finished",
        "jobs.position": " · position {position} of {total}",
        "jobs.unknown": "There is no job #{job} in this server.",
        "jobs.not_yours": (
            "You can cancel only your own jobs (members with Manage Messages can cancel any)."
        ),
        "jobs.cancelled": "Cancelled job #{job}. Nothing was charged.",
        "jobs.too_late": "Job #{job} is being posted right now; it can no longer be cancelled.",
        "jobs.already_ended": "Job #{job} has already ended ({state}).",
    }
)


def say(key: str, /, **params: Any) -> str:
    """Return the sentence ``key`` with ``params`` filled in; a missing key fails loudly."""
    return TEXT[key].format(**params)
