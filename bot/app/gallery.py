"""The gallery: every delivered result is also posted to the server's gallery channel, if set.

``GalleryDelivery`` wraps the bot's ``Delivery``: after a result was delivered to the member it
posts a copy (prompt, who made it — without pinging anyone — and the images) to the gallery
channel. Best effort: a gallery that is gone or forbidden never fails the member's delivery.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import discord

from bot.app.render import truncate
from bot.guild_settings.service import GuildSettingsService
from bot.images import ImageProblem, fit_for_upload
from bot.jobs.hooks import Delivery
from bot.jobs.records import Job

log = logging.getLogger(__name__)

__all__ = ["GalleryDelivery"]

DEFAULT_LIMIT = 10 * 1024 * 1024
GALLERY_TIMEOUT = 30.0


class GalleryDelivery:
    """A ``Delivery`` that also showcases delivered results in the gallery channel."""

    def __init__(
        self, inner: Delivery, client: discord.Client, settings: GuildSettingsService
    ) -> None:
        self.inner = inner
        self.client = client
        self.settings = settings

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def progress(self, job: Job) -> None:
        await self.inner.progress(job)

    async def failed(self, job: Job) -> None:
        await self.inner.failed(job)

    async def deliver(self, job: Job, files: list[Path]) -> None:
        await self.inner.deliver(job, files)
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
            attachments.append(discord.File(_buffer(fitted.data), filename=fitted.filename))
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
        )
        return True


def _buffer(data: bytes) -> Any:
    import io

    return io.BytesIO(data)
