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
TEXT.update(
    {
        "generation.mask_and_region": (
            "Give either a mask or a region, not both — the region draws the mask for you."
        ),
        "generation.stored_gone": (
            "The images of that request are no longer kept — run the command again "
            "with the images attached."
        ),
        "generation.not_an_image": (
            "{label} (`{filename}`) is not an image Atelier can use ({content_type}) — "
            "attach a PNG, JPEG or WebP file."
        ),
        "generation.reference_too_large": (
            "{label} is {size}; the most the image service takes is {limit} — "
            "attach a smaller file (e.g. a JPEG)."
        ),
        "generation.mask_not_png": (
            "The mask must be a PNG with transparency (erase the parts to repaint) — "
            "`{filename}` is {content_type}."
        ),
        "generation.mask_too_large": "The mask is {size}; the most allowed is {limit}.",
        "generation.mask_size_mismatch": (
            "The mask is {mask_width}x{mask_height} but the image is {width}x{height} — "
            "they must be the same size (or use `region` instead of a mask)."
        ),
        "generation.mask_needs_image": "A mask needs the image it edits — attach the image too.",
        # the capability catalog's checks (bot/toapis/catalog.py)
        "generation.request.unknown_model": "Unknown model `{model}` — pick {known}.",
        "generation.request.no_setting": (
            "{model} has no {setting} setting — leave it out or use {other}."
        ),
        "generation.request.option_unavailable": "{setting} `{value}` is not available — pick {allowed}.",
        "generation.request.empty_prompt": "The prompt is empty — describe the image you want.",
        "generation.request.prompt_too_long": (
            "The prompt is {length:,} characters; {model} takes at most {limit:,} — shorten it."
        ),
        "generation.request.no_auto_size": "{model} cannot choose the size itself — pick {sizes}.",
        "generation.request.size_unavailable": "Size `{size}` is not available on {model} — pick {sizes}.",
        "generation.request.4k_sizes": "4K works only with {sizes} — pick one of those or 2K.",
        "generation.request.no_compression": "{model} has no compression setting — leave it out.",
        "generation.request.compression_range": "Compression must be a whole number from 0 to 100.",
        "generation.request.no_count_allowed": "{model} cannot make images under this server's limit.",
        "generation.request.count_unavailable": (
            "{model} can make {allowed} images per request — you asked for {asked}."
        ),
        "generation.request.too_many_references": (
            "{model} takes at most {limit} reference images — you gave {given}."
        ),
        "generation.request.references_not_uploaded": (
            "Reference images must be uploaded first (http or https links only)."
        ),
        "generation.request.reference_type": "{label} must be {kinds} for {model}.",
        "generation.request.reference_too_large": "{label} is {size}; {model} takes at most {limit}.",
        "generation.request.mask_not_png": "The mask must be a PNG file.",
        "generation.request.mask_no_alpha": (
            "The mask has no transparency — erase the parts to repaint (alpha 0) "
            "and save it as PNG."
        ),
        "generation.request.mask_too_large": "The mask is {size}; {model} takes at most {limit}.",
        "generation.request.mask_size_mismatch": (
            "The mask is {mask_width}x{mask_height} but the image is {width}x{height} — "
            "they must be the same size."
        ),
        "generation.already_highest": (
            "This image is already at {resolution}, the highest resolution for {size} — "
            "nothing to upscale."
        ),
    }
)

# -- images: inspecting, converting, masks (bot/images.py) -----------------------------------
TEXT.update(
    {
        "images.empty": "{label} is empty — attach a PNG, JPEG or WebP image.",
        "images.too_many_pixels": (
            "{label} is {width}x{height} pixels — too large; use at most 8192x8192."
        ),
        "images.unreadable": "{label} is not a readable image — attach a PNG, JPEG or WebP file.",
        "images.wrong_format": "{label} is a {format} image — attach a PNG, JPEG or WebP file.",
        "images.cannot_convert": "This image format cannot be converted for the chosen model.",
        "images.too_large_converted": (
            "{label} is {size} once converted to a format the image service takes; the most it "
            "takes is {limit} — attach a JPEG, or a smaller image."
        ),
        "images.too_large_reencoded": (
            "{label} is still over {limit} even as a JPEG — attach a smaller image."
        ),
        "images.result_too_large": "The result could not be made small enough to post here.",
    }
)

# -- server policy and blocklist (bot/guild_settings/) ---------------------------------------
TEXT.update(
    {
        "blocklist.empty_term": "The term is empty — give a word or phrase to block.",
        "blocklist.term_too_long": "A term may be at most {limit} characters.",
        "blocklist.term_needs_letter": "A term needs at least one letter or digit.",
        "policy.channel_only": (
            "Image generation works only in {channels} on this server. Nothing was charged."
        ),
        "policy.blocked_term": (
            "Your prompt contains “{term}”, which this server's moderators have blocked. "
            "Change the prompt and try again; nothing was charged."
        ),
        "policy.max_count": (
            "This server allows at most {limit} {images} per request — you asked for "
            "{asked}. Nothing was charged."
        ),
        "policy.max_resolution": (
            "This server allows resolutions up to {limit} — you asked for {asked}. "
            "Nothing was charged."
        ),
    }
)

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
        # the buttons under a result (bot/app/views.py)
        "app.button.reroll": "Re-roll",
        "app.button.delete": "Delete",
        "app.button.vary": "Vary {n}",
        "app.button.upscale": "Upscale {n}",
        # Discord's permission names as members see them in the server settings
        # (bot/app/errors.py); several are joined pairwise with app.permissions_and
        "app.permission.manage_guild": "Manage Server",
        "app.permission.manage_messages": "Manage Messages",
        "app.permission.manage_channels": "Manage Channels",
        "app.permission.view_channel": "View Channel",
        "app.permission.send_messages": "Send Messages",
        "app.permission.embed_links": "Embed Links",
        "app.permission.attach_files": "Attach Files",
        "app.permissions_and": "{first} and {second}",
        # /jobs (cogs/jobs.py)
        "jobs.none": "You have no unfinished jobs.",
        "jobs.title": "Your unfinished jobs",
        "jobs.title_server": "Unfinished jobs in this server",
        "jobs.footer": "Cancel one with /jobs cancel job:<number>",
        "jobs.more": "…and more: the oldest are shown first.",
        "jobs.finished": "finished",
        # one job of /jobs list: {bar} is the progress bar, {prompt} the start of the prompt
        "jobs.line": "**#{job}** {state}\n{bar} — {prompt}",
        "jobs.line_queued": (
            "**#{job}** {state} · position {position} of {total}\n{bar} — {prompt}"
        ),
        # one choice of the /jobs cancel autocomplete
        "jobs.choice": "#{job} {state} — {prompt}",
        "jobs.unknown": "There is no job #{job} in this server.",
        "jobs.not_yours": (
            "You can cancel only your own jobs (members with Manage Messages can cancel any)."
        ),
        "jobs.cancelled": "Cancelled job #{job}. Nothing was charged.",
        "jobs.too_late": "Job #{job} is being posted right now; it can no longer be cancelled.",
        "jobs.already_ended": "Job #{job} has already ended ({state}).",
    }
)


# -- /quota replies (cogs/quota.py) ----------------------------------------------------------
# Numbers arrive as ints and are formatted here (``{n:,}``); ``{when}`` is a Discord timestamp.
TEXT.update(
    {
        # /quota me
        "quota.me.title": "Your image credits",
        "quota.me.you_today": "You, today",
        "quota.me.this_server": "This server",
        "quota.me.no_server_limit": "No server-wide limit.",
        "quota.me.costs": "What requests cost (credits per image)",
        "quota.me.footer": "Failed, cancelled or undelivered requests cost nothing.",
        "quota.me.unlimited_exempt": (
            "No daily limit (moderator exemption). Used today: {used:,} credits."
        ),
        "quota.me.unlimited": "No daily limit for you. Used today: {used:,} credits.",
        "quota.me.left": ("**{left:,}** of {cap:,} credits left ({source}); resets {when}."),
        "quota.me.granted": "Plus **{granted:,}** granted credits (used once).",
        "quota.me.spendable": "You can spend {spendable:,} right now (the server pool is lower).",
        "quota.me.pool_today": "Today: {left:,} of {limit:,} credits left; resets {when}.",
        "quota.me.pool_month": "This month: {left:,} of {limit:,} credits left; resets {when}.",
        # a stored limit: a number, unlimited (quota.unlimited), or the default in force
        "quota.stored.default": "default ({value})",
        # /quota server
        "quota.server.updated": "Quota settings updated.",
        "quota.server.unchanged": "Quota settings (unchanged):",
        "quota.server.daily_pool": "Daily pool: {value}",
        "quota.server.monthly_pool": "Monthly pool: {value}",
        "quota.server.member_daily": "Member daily cap: {value}",
        "quota.server.exempt_yes": "Moderators exempt: yes",
        "quota.server.exempt_no": "Moderators exempt: no",
        "quota.server.timezone": "Time zone: {zone}",
        "quota.server.role_caps": "Role caps: {caps}",
        "quota.server.member_caps": "Member caps: {caps}",
        # /quota member and /quota role
        "quota.cap.none": "none",
        "quota.cap.none_member": "none (roles and server default apply)",
        "quota.member.changed": "Daily cap of {member}: {before} → {after}.",
        "quota.role.changed": "Daily cap of {role}: {before} → {after}.",
        "quota.role.everyone": "@everyone's cap is the server's default member cap: {value}.",
        # /quota grant and /quota reset
        "quota.grant.done": (
            "{member} now has {balance:,} granted credits, spent after their daily cap."
        ),
        "quota.reset.member": "Reset {member}'s usage today: {forgiven:,} credits forgiven.",
        "quota.reset.everyone": (
            "Reset the server pool (today and this month) and everyone's usage today: "
            "{forgiven:,} credits forgiven."
        ),
        # /quota usage
        "quota.usage.chart_title_one": "Credits per day, last {days} day",
        "quota.usage.chart_title_other": "Credits per day, last {days} days",
        "quota.usage.title_one": "Usage, last {days} day",
        "quota.usage.title_other": "Usage, last {days} days",
        "quota.usage.summary": (
            "**{total:,}** credits spent; {in_flight:,} reserved by unfinished jobs."
        ),
        "quota.usage.busiest": "Busiest day",
        "quota.usage.busiest_value": "{day}: {credits:,}",
        "quota.usage.top_members": "Top members",
        "quota.usage.by_model": "By model",
    }
)

# -- /settings replies (cogs/settings.py) ----------------------------------------------------
TEXT.update(
    {
        # /settings channels
        "settings.channels.added": (
            "{channel} is now an art channel. Images can be made in {channels}."
        ),
        "settings.channels.already": (
            "{channel} was already an art channel. Images can be made in {channels}."
        ),
        "settings.channels.removed": (
            "{channel} is no longer an art channel. Images can be made in {channels}."
        ),
        "settings.channels.removed_last": (
            "{channel} is no longer an art channel. No art channels are left: images can be "
            "made in every channel."
        ),
        "settings.channels.not_art": (
            "{channel} was not an art channel. Images can be made in {channels}."
        ),
        "settings.channels.not_art_none": (
            "{channel} was not an art channel. No art channels are left: images can be made "
            "in every channel."
        ),
        "settings.channels.none": "No art channels: images can be made in every channel.",
        "settings.channels.only": "Images can be made only in {channels}.",
        # /settings gallery
        "settings.gallery.off": "The gallery is off.",
        "settings.gallery.off_was": "The gallery is off. (It was {channel}.)",
        "settings.gallery.on": "Every finished image is now also posted to {channel}.",
        # /settings defaults: {model_stored} etc. is a value or settings.bot_default
        "settings.bot_default": "bot default",
        "settings.defaults.na": "n/a",
        "settings.defaults.na_resolution": "N/A",
        "settings.defaults.done": (
            "Defaults for requests that leave them out:\n"
            "Model: {model_stored} → {model}\n"
            "Quality: {quality_stored} → {quality}\n"
            "Resolution: {resolution_stored} → {resolution}"
        ),
        # /settings limits
        "settings.limits.server": (
            "Limits per request:\nImages: at most {count}\nResolution: up to {resolution}"
        ),
        "settings.limits.bot": (
            "Limits per request:\nImages: at most {count} (the bot limit)\n"
            "Resolution: up to {resolution}"
        ),
        # /settings blocklist
        "settings.blocklist.added": "Blocked “{term}”.",
        "settings.blocklist.already": "“{term}” was already blocked.",
        "settings.blocklist.removed": "“{term}” is no longer blocked.",
        "settings.blocklist.not_blocked": "“{term}” was not blocked.",
        "settings.blocklist.empty": "Nothing is blocked.",
        "settings.blocklist.term": "“{term}”",
        "settings.blocklist.list": "Blocked ({count}): {terms}",
        # /settings audit: one line per change; {subject} is empty or starts with a space
        "settings.audit.none": "No moderator changes yet.",
        "settings.audit.title": "Moderator changes",
        "settings.audit.line": "{when} {actor} {action}{subject}: {before} → {after}",
        "settings.audit.yes": "yes",
        "settings.audit.no": "no",
    }
)


def say(key: str, /, **params: Any) -> str:
    """Return the sentence ``key`` with ``params`` filled in; a missing key fails loudly."""
    return TEXT[key].format(**params)


# -- quota and settings refusals (bot/quota/service.py, bot/guild_settings/service.py) -------
TEXT.update(
    {
        # a request over budget (QuotaExceeded): "{head} {resets}[ {hint}] {charged}"
        "quota.pool_daily_left": (
            "This server's daily credit pool is nearly used up: {left} of {limit} credits "
            "left today, and this request costs {credits}."
        ),
        "quota.pool_monthly_left": (
            "This server's monthly credit pool is nearly used up: {left} of {limit} credits "
            "left this month, and this request costs {credits}."
        ),
        "quota.member_left": (
            "You have {left} left today ({where}), and this request costs {credits}."
        ),
        "quota.member_where": "of your {cap} a day",
        "quota.member_where_granted": "{daily_left} of your {cap} a day plus {granted} granted",
        "quota.pool_resets": "The pool resets {when}.",
        "quota.member_resets": "Your credits reset {when}.",
        "quota.try_smaller": "Try fewer images, a lower quality or resolution.",
        "quota.nothing_charged": "Nothing was charged.",
        "quota.when": "<t:{t}:R> (<t:{t}:f>)",
        "quota.credit": "{n} credit",
        "quota.credits": "{n} credits",
        "quota.unlimited": "unlimited",
        # a moderator's input (QuotaError); {what} is one of the quota.what.* names
        "quota.what.limit": "limit",
        "quota.what.daily_pool": "daily pool",
        "quota.what.monthly_pool": "monthly pool",
        "quota.what.member_daily": "member daily cap",
        "quota.what.members_daily": "member's daily cap",
        "quota.what.roles_daily": "role's daily cap",
        "quota.limit_not_a_number": (
            "The {what} must be a whole number of credits (0 or more) or `unlimited`, "
            "not `{given}`."
        ),
        "quota.limit_out_of_range": (
            "The {what} must be between 0 and {most} credits, or `unlimited`."
        ),
        "quota.limit_missing": "Give the {what}: credits per day, `unlimited`, or `default`.",
        "quota.bad_timezone": (
            "`{zone}` is not a time zone — use an IANA name such as Europe/Paris, "
            "America/New_York or UTC."
        ),
        "quota.grant_whole": "Grant a whole number of credits.",
        "quota.grant_range": ("Grant between 1 and {most} credits (a negative number takes back)."),
        "quota.report_days": "Pick between 1 and {most} days.",
        # a moderator's input (SettingsError)
        "settings.too_many_channels": (
            "A server can have at most {limit} art channels — remove one first."
        ),
        "settings.unknown_model": "Unknown model `{model}` — pick {known}.",
        "settings.bad_quality": "Quality must be low, medium or high.",
        "settings.bad_resolution": "Resolution must be 1k, 2k or 4k.",
        "settings.max_count_range": (
            "The most images per request must be from 1 to {ceiling} (0 = no server limit)."
        ),
        "settings.bad_max_resolution": "The highest resolution must be 1k, 2k or 4k.",
        "settings.blocklist_full": (
            "The blocklist holds at most {limit} terms — remove one first."
        ),
    }
)
