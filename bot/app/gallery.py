"""The gallery: every delivered result is also posted to the server's gallery channel, if set.

``GalleryPoster`` is a ``JobListener``: the engine calls it after the ``delivered`` write,
outside the delivery slots, and once more after a restart if a crash cut it short. It posts a
copy (prompt, who made it — without pinging anyone — and the images) with a nonce derived from
the job, so Discord creates the message once even when the post is repeated. Best effort: a
gallery that is gone or forbidden never fails the member's delivery.
"""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path

import discord

from bot.app.render import truncate
from bot.guild_settings.service import GuildSettingsService
from bot.images import ImageProblem, fit_for_upload
from bot.jobs.records import Job

log = logging.getLogger(__name__)

__all__ = ["GalleryPoster", "gallery_nonce"]

DEFAULT_LIMIT = 10 * 1024 * 1024
GALLERY_TIMEOUT = 30.0


def gallery_nonce(job_id: int) -> str:
    """Return the nonce of a job's gallery post (Discord allows 25 characters)."""
    return f"atelier-g-{job_id}"[:25]


class GalleryPoster:
    """Showcase delivered results in the server's gallery channel (a ``JobListener``)."""

    def __init__(self, client: discord.Client, settings: GuildSettingsService) -> None:
        self.client = client
        self.settings = settings

    async def job_delivered(self, job: Job, files: list[Path]) -> None:
        """Post the job's result to the gallery, if the server has one (never raises)."""
        try:
            await asyncio.wait_for(self.post(job, files), GALLERY_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("job %d: could not post to the gallery", job.id, exc_info=True)

    async def post(self, job: Job, files: list[Path]) -> bool:
        """Post the result to the gallery channel; False if there is none (or it is gone)."""
        if job.guild_id is None:
            return False
        row = await self.settings.get(job.guild_id)
        if row.gallery_channel_id is None or row.gallery_channel_id == job.channel_id:
            return False
        channel = self.client.get_channel(row.gallery_channel_id)
        if channel is None:
            try:
                channel = await self.client.fetch_channel(row.gallery_channel_id)
            except discord.HTTPException:
                log.info("job %d: the gallery channel is gone", job.id)
                return False
        if not isinstance(channel, discord.abc.Messageable):
            return False
        guild = getattr(channel, "guild", None)
        limit = int(getattr(guild, "filesize_limit", DEFAULT_LIMIT) or DEFAULT_LIMIT)
        attachments = []
        for i, path in enumerate(files[:10], start=1):
            data = await asyncio.to_thread(path.read_bytes)
            try:
                fitted = await asyncio.to_thread(
                    fit_for_upload, data, f"atelier-{job.id}-{i}", limit
                )
            except ImageProblem:
                continue
            attachments.append(discord.File(io.BytesIO(fitted.data), filename=fitted.filename))
        if not attachments:
            return False
        prompt = job.request.prompt
        embed = discord.Embed(description=truncate(prompt, 1000) or None)
        embed.set_footer(text=f"{job.model} · job #{job.id}")
        await channel.send(
            content=f"By <@{job.member_id}>",
            embed=embed,
            files=attachments,
            allowed_mentions=discord.AllowedMentions.none(),
            nonce=gallery_nonce(job.id),
        )
        return True
