"""The embeds Atelier posts about a job: progress, result, failure, cancelled, gallery.

Pure: each builder takes the job and what was measured elsewhere (the time, the queue position,
the fitted files) and returns a ``discord.Embed``; no I/O. Every sentence comes from
``bot.messages``.
"""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.app.render import (
    eta_seconds,
    failure_text,
    format_duration,
    progress_bar,
    state_label,
    truncate,
)
from bot.generation.store import JobDiscordInfo
from bot.images import FittedImage
from bot.jobs.records import Job
from bot.jobs.states import JobState
from bot.messages import say, say_plural

__all__ = [
    "COLOUR_CANCELLED",
    "COLOUR_DONE",
    "COLOUR_FAILED",
    "COLOUR_WORKING",
    "WAITING_STATES",
    "cancelled_embed",
    "failure_embed",
    "gallery_embed",
    "progress_embed",
    "result_embed",
]

MIB = 1024 * 1024
#: Ahead of the queue: jobs not yet running at the image service.
WAITING_STATES: tuple[JobState, ...] = (
    JobState.PENDING,
    JobState.UPLOADING,
    JobState.SUBMITTING,
    JobState.SUBMITTED,
)
COLOUR_WORKING = discord.Colour.blurple()
COLOUR_DONE = discord.Colour.green()
COLOUR_FAILED = discord.Colour.red()
COLOUR_CANCELLED = discord.Colour.light_grey()
_VARIANT_FOOTERS = {
    "reroll": "delivery.result.footer_reroll",
    "vary": "delivery.result.footer_vary",
    "upscale": "delivery.result.footer_upscale",
    "region": "delivery.result.footer_region",
    "zoom": "delivery.result.footer_zoom",
    "pan": "delivery.result.footer_pan",
    "remix": "delivery.result.footer_remix",
}


def progress_embed(
    job: Job, *, now: float, position: tuple[int, int] | None, typical: float | None
) -> discord.Embed:
    """The job's state, progress bar and timing; ``typical`` is the usual total duration."""
    headline = f"**{state_label(job.state)}**"
    if position is not None:
        headline += " · " + say("delivery.progress.queue", position=position[0], total=position[1])
    percent: float | None = job.progress
    if job.state in WAITING_STATES and percent is None:
        percent = 0
    timing = say("delivery.progress.elapsed", elapsed=format_duration(now - job.created_at))
    eta = eta_seconds(job, now, typical)
    if eta is not None:
        timing += " · " + say("delivery.progress.left", left=format_duration(eta))
    embed = discord.Embed(
        title=say("delivery.progress.title"),
        description=truncate(job.request.prompt, 1000)
        + "\n\n"
        + "\n".join((headline, progress_bar(percent), timing)),
        colour=COLOUR_WORKING,
    )
    embed.set_footer(text=say("delivery.progress.footer", job=job.id, model=job.model))
    return embed


def result_embed(
    job: Job,
    info: JobDiscordInfo | None,
    fitted: Sequence[FittedImage],
    originals: Sequence[int],
) -> discord.Embed:
    """The result: the request's settings, who asked, the cost, and what fitting did."""
    request = job.request
    count = len(fitted)
    title = (
        say("delivery.result.title_one")
        if count == 1
        else say("delivery.result.title_many", count=count)
    )
    embed = discord.Embed(
        title=title, description=truncate(request.prompt, 2000), colour=COLOUR_DONE
    )
    size = request.size or say("delivery.result.size_default")
    for key, value in (
        ("delivery.result.model", job.model),
        ("delivery.result.size", size),
        ("delivery.result.resolution", job.resolution or "—"),
        ("delivery.result.quality", job.quality or "—"),
        ("delivery.result.count", str(request.n or count)),
        ("delivery.result.requested_by", f"<@{job.member_id}>"),
        ("delivery.result.cost", _cost(job.cost)),
        ("delivery.result.job", f"#{job.id}"),
    ):
        embed.add_field(name=say(key), value=str(value), inline=True)
    notes = []
    for i, (image, size_bytes) in enumerate(zip(fitted, originals, strict=True), start=1):
        label = (
            say("delivery.result.the_image") if count == 1 else say("delivery.result.image_n", n=i)
        )
        megabytes = f"{size_bytes / MIB:.1f}"
        if image.treatment == "reencoded":
            notes.append(say("delivery.result.reencoded", label=label, megabytes=megabytes))
        elif image.treatment == "preview":
            notes.append(
                say(
                    "delivery.result.preview",
                    label=label,
                    megabytes=megabytes,
                    width=image.width,
                    height=image.height,
                )
            )
    if notes:
        embed.add_field(
            name=say("delivery.result.note"), value=truncate(" ".join(notes), 1024), inline=False
        )
    footer = say("delivery.result.footer", job=job.id)
    if info is not None and info.parent_job_id and info.command in _VARIANT_FOOTERS:
        footer = say(_VARIANT_FOOTERS[info.command], job=job.id, parent=info.parent_job_id)
    embed.set_footer(text=footer)
    return embed


def _cost(cost: float | None) -> str:
    if cost is None:
        return "—"
    return say_plural("delivery.result.credits", 1 if cost == 1 else 2, cost=f"{cost:g}")


def failure_embed(job: Job) -> discord.Embed:
    """Why the job failed, whether it cost anything, and what to try."""
    text = failure_text(job)
    embed = discord.Embed(
        title=say("delivery.failure.title"),
        description=truncate(job.request.prompt, 1000),
        colour=COLOUR_FAILED,
    )
    embed.add_field(
        name=say("delivery.failure.what"), value=truncate(text.what, 1024), inline=False
    )
    embed.add_field(name=say("delivery.failure.charged"), value=text.charged, inline=False)
    embed.add_field(name=say("delivery.failure.advice"), value=text.advice, inline=False)
    embed.set_footer(text=say("delivery.failure.footer", job=job.id))
    return embed


def cancelled_embed(job: Job, by: str) -> discord.Embed:
    """The job was cancelled, by whom (a display name, shown as text), and that it cost nothing."""
    embed = discord.Embed(
        title=say("delivery.cancelled.title"),
        description=truncate(job.request.prompt, 1000)
        + "\n\n"
        + say("delivery.cancelled.by", by=truncate(by, 80)),
        colour=COLOUR_CANCELLED,
    )
    embed.set_footer(text=say("delivery.cancelled.footer", job=job.id))
    return embed


def gallery_embed(job: Job) -> discord.Embed:
    """The gallery's caption: the prompt, the model and the job number."""
    embed = discord.Embed(description=truncate(job.request.prompt, 1000) or None)
    embed.set_footer(text=say("delivery.gallery.footer", model=job.model, job=job.id))
    return embed
