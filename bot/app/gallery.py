"""The gallery: every delivered result is also posted to the server's gallery channel, if set.

``GalleryPoster`` is a job listener: the engine calls ``job_delivered`` after the job's
``delivered`` write, outside the delivery slots, with the result files still on disk — and
calls it again after a crash, so it must never post the same job twice. Each post carries a
deterministic nonce (Discord answers a repeat with the first message, for a few minutes), and
when an earlier attempt may lie outside that window the gallery's history is searched for the
job's own message (its result file names) first.

Best effort: a gallery that is gone or forbidden never fails the member's delivery. The post
shows who made it without pinging anyone.
"""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path

import discord

from bot import i18n
from bot.app.delivery import NONCE_TRUST
from bot.app.delivery.embeds import gallery_embed
from bot.app.delivery.transport import (
    DiscordRefused,
    Transport,
    carries_result_of,
    nonce_for,
    result_stem,
)
from bot.app.languages import ServerLanguages
from bot.clock import Clock, SystemClock
from bot.guild_settings.service import GuildSettingsService
from bot.images import ImageProblem, fit_for_upload
from bot.jobs.records import Job
from bot.messages import say

log = logging.getLogger(__name__)

__all__ = ["GALLERY_TIMEOUT", "GalleryPoster"]

GALLERY_TIMEOUT = 30.0
MAX_FILES = 10


class GalleryPoster:
    """A ``JobListener`` that showcases delivered results in the server's gallery channel."""

    def __init__(
        self,
        client: discord.Client,
        settings: GuildSettingsService,
        *,
        clock: Clock | None = None,
        timeout: float = GALLERY_TIMEOUT,
        languages: ServerLanguages | None = None,
    ) -> None:
        self.transport = Transport(client)
        self.languages = languages
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.timeout = timeout

    async def job_delivered(self, job: Job, files: list[Path]) -> None:
        """Post the job's result to the gallery once (best effort: failures are logged)."""
        try:
            language = await self.languages.of(job.guild_id) if self.languages else i18n.SOURCE
            with i18n.speaking(language):
                await asyncio.wait_for(self.post(job, files), self.timeout)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("job %d: could not post to the gallery", job.id, exc_info=True)

    async def post(self, job: Job, files: list[Path]) -> discord.Message | None:
        """Post (or find the earlier post of) the result in the gallery; None if there is none."""
        if job.guild_id is None:
            return None
        gallery_id = (await self.settings.get(job.guild_id)).gallery_channel_id
        if gallery_id is None or gallery_id == job.channel_id:
            return None
        # Any earlier attempt came after the delivered write (finished_at); before the engine
        # runs listeners after that write, finished_at is unset and the history is searched.
        if job.finished_at is None or self.clock.now() - job.finished_at > NONCE_TRUST:
            try:
                found = await self.transport.find_own(
                    gallery_id, carries_result_of(job.id), after=job.response_message_id
                )
            except DiscordRefused as exc:
                log.info("job %d: could not search the gallery (%s)", job.id, exc)
                return None
            if found is not None:
                log.info("job %d: already in the gallery (message %d)", job.id, found.id)
                return found
        attachments = await self._attachments(job, files, self.transport.upload_limit(gallery_id))
        if not attachments:
            return None
        try:
            return await self.transport.post(
                gallery_id,
                guild_id=job.guild_id,
                nonce=nonce_for("g", job.id),
                content=say("delivery.gallery.by", mention=f"<@{job.member_id}>"),
                embed=gallery_embed(job),
                files=attachments,
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except DiscordRefused as exc:
            log.info("job %d: the gallery refused the post (%s)", job.id, exc)
            return None

    @staticmethod
    async def _attachments(job: Job, files: list[Path], limit: int) -> list[discord.File]:
        attachments = []
        for i, path in enumerate(files[:MAX_FILES], start=1):
            data = await asyncio.to_thread(path.read_bytes)
            try:
                fitted = await asyncio.to_thread(
                    fit_for_upload, data, result_stem(job.id, i), limit
                )
            except ImageProblem:
                continue
            attachments.append(discord.File(io.BytesIO(fitted.data), filename=fitted.filename))
        return attachments
