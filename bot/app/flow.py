"""Interactions to generations: the one path used by ``/imagine``, ``/edit`` and every button.

Order, for every entry point: check what can be checked from the interaction and ask the
policy (``GenerationService.plan``, a refusal is ephemeral and nothing happens); acknowledge
publicly; download the attachments right away (CDN links expire); verify and submit
(``GenerationService.start``). A problem found after the deferral removes the deferral and
answers ephemerally (``bot.app.errors.reply``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Protocol

import aiohttp
import discord

from bot.app.errors import SHOWN
from bot.generation import (
    UPLOAD_MAX_BYTES,
    DeclaredImage,
    DiscordTarget,
    GenerationService,
    Options,
    Plan,
    options_of,
    upscale_options,
)
from bot.generation.tray import ReferenceTray, TrayUse
from bot.images import MaskRegion
from bot.jobs.records import Job
from bot.messages import say
from bot.policy import Origin, RequestContext
from bot.refusal import Refusal

log = logging.getLogger(__name__)

__all__ = ["AttachmentDownloader", "GenerationFlow", "JobLookup", "declared"]

DOWNLOAD_TIMEOUT = 60.0


def declared(attachment: discord.Attachment, label: str) -> DeclaredImage:
    """Describe a Discord attachment as the generation service sees it."""
    return DeclaredImage(
        label=label,
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=attachment.size,
        url=attachment.url,
        width=attachment.width,
        height=attachment.height,
    )


class JobLookup(Protocol):
    """Where the flow finds the job a button belongs to (the engine)."""

    async def get(self, job_id: int) -> Job | None: ...


class AttachmentDownloader:
    """Fetch an attachment's bytes over the bot's one HTTP session (size-capped)."""

    def __init__(self, session: aiohttp.ClientSession, timeout: float = DOWNLOAD_TIMEOUT) -> None:
        self.session = session
        self.timeout = timeout

    async def __call__(self, image: DeclaredImage) -> bytes:
        """Fetch ``image`` now (Discord CDN links expire); refuse what is too large."""
        cap = max(image.size, 1) + 1024 if image.size else UPLOAD_MAX_BYTES
        cap = min(cap, UPLOAD_MAX_BYTES + 1024)
        try:
            async with self.session.get(
                image.url, timeout=aiohttp.ClientTimeout(total=self.timeout)
            ) as resp:
                if resp.status != 200:
                    raise Refusal(
                        say("app.fetch_failed_status", label=image.label, status=resp.status)
                    )
                data = bytearray()
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    data += chunk
                    if len(data) > cap:
                        raise Refusal(say("app.fetch_too_large", label=image.label))
                return bytes(data)
        except (TimeoutError, aiohttp.ClientError):
            raise Refusal(say("app.fetch_failed", label=image.label)) from None


class GenerationFlow:
    """Run commands and buttons through ``GenerationService``."""

    def __init__(
        self,
        generation: GenerationService,
        *,
        jobs: JobLookup,
        download: Callable[[DeclaredImage], Awaitable[bytes]],
        show_progress: Callable[[Job], Awaitable[None]],
        tray: ReferenceTray | None = None,
    ) -> None:
        self.generation = generation
        self.jobs = jobs
        self.download = download
        self.show_progress = show_progress
        #: The members' reference trays, used by /imagine and /edit (None: no trays).
        self.tray = tray

    # -- context ------------------------------------------------------------------------------

    @staticmethod
    def context(interaction: discord.Interaction[Any], origin: Origin) -> RequestContext:
        """Describe who asks, where, and with which rights."""
        perms = interaction.permissions
        roles = tuple(r.id for r in getattr(interaction.user, "roles", ()) if not r.is_default())
        return RequestContext(
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            member_id=interaction.user.id,
            role_ids=roles,
            can_manage_messages=perms.manage_messages,
            can_manage_guild=perms.manage_guild,
            kind="button" if interaction.type == discord.InteractionType.component else "command",
            origin=origin,
        )

    # -- commands -----------------------------------------------------------------------------

    async def imagine(
        self,
        interaction: discord.Interaction[Any],
        options: Options,
        attachments: list[discord.Attachment],
    ) -> None:
        """``/imagine``: text to image, or images as references."""
        images = [
            declared(a, say("app.label_image_n", n=i)) for i, a in enumerate(attachments, start=1)
        ]
        tray = await self._tray(interaction, options, len(images))
        plan = await self.generation.plan(
            self.context(interaction, "imagine"), options, images=[*images, *tray.images]
        )
        await self._launch(interaction, plan, tray)

    async def edit(
        self,
        interaction: discord.Interaction[Any],
        options: Options,
        image: discord.Attachment,
        mask: discord.Attachment | None,
        region: MaskRegion | None,
    ) -> None:
        """``/edit``: one image, optionally a mask or a region to repaint."""
        tray = await self._tray(interaction, options, 1)
        plan = await self.generation.plan(
            self.context(interaction, "edit"),
            options,
            images=[declared(image, say("app.label_image")), *tray.images],
            mask=declared(mask, say("app.label_mask")) if mask is not None else None,
            region=region,
        )
        await self._launch(interaction, plan, tray)

    async def edit_image(
        self, interaction: discord.Interaction[Any], options: Options, image: DeclaredImage
    ) -> None:
        """ "Edit with Atelier": one image of a message (its URL as Discord declared it)."""
        plan = await self.generation.plan(
            self.context(interaction, "edit"), options, images=[image]
        )
        await self._launch(interaction, plan)

    async def _tray(
        self, interaction: discord.Interaction[Any], options: Options, attached: int
    ) -> TrayUse:
        """The member's tray images for this request (an expired tray is refused)."""
        if self.tray is None:
            return TrayUse((), ())
        return await self.tray.for_request(
            interaction.guild_id, interaction.user.id, model=options.model, attached=attached
        )

    # -- buttons ------------------------------------------------------------------------------

    async def _job(self, job_id: int) -> Job:
        job = await self.jobs.get(job_id)
        if job is None:
            raise Refusal(say("app.job_unknown"))
        return job

    @staticmethod
    def _attachment(interaction: discord.Interaction[Any], index: int) -> discord.Attachment:
        attachments = interaction.message.attachments if interaction.message else []
        if not 1 <= index <= len(attachments):
            raise Refusal(say("app.image_gone"))
        return attachments[index - 1]

    async def reroll(self, interaction: discord.Interaction[Any], job_id: int) -> None:
        """Re-roll: the same request again (its kept reference files are reused)."""
        job = await self._job(job_id)
        stored = tuple(replace(r, url=None) for r in job.references)
        plan = await self.generation.plan(
            self.context(interaction, "reroll"),
            options_of(job),
            stored=stored,
            parent_job_id=job.id,
        )
        await self._launch(interaction, plan)

    async def vary(self, interaction: discord.Interaction[Any], job_id: int, index: int) -> None:
        """Vary n: the same prompt and options, with image n of the result as the reference."""
        job = await self._job(job_id)
        attachment = self._attachment(interaction, index)
        plan = await self.generation.plan(
            self.context(interaction, "vary"),
            options_of(job),
            images=[declared(attachment, say("app.label_image"))],
            parent_job_id=job.id,
        )
        await self._launch(interaction, plan)

    async def upscale(self, interaction: discord.Interaction[Any], job_id: int, index: int) -> None:
        """Upscale n: render image n again at 2K, or 4K where its ratio allows."""
        job = await self._job(job_id)
        attachment = self._attachment(interaction, index)
        options = upscale_options(job, attachment.width, attachment.height)
        plan = await self.generation.plan(
            self.context(interaction, "upscale"),
            options,
            images=[declared(attachment, say("app.label_image"))],
            parent_job_id=job.id,
        )
        await self._launch(interaction, plan)

    async def delete(self, interaction: discord.Interaction[Any], job_id: int) -> None:
        """Delete the result message: the member who asked, or members with Manage Messages."""
        job = await self.jobs.get(job_id)
        owner = job is not None and job.member_id == interaction.user.id
        if not owner and not interaction.permissions.manage_messages:
            raise Refusal(say("app.delete_not_allowed"))
        await interaction.response.defer()
        if interaction.message is not None:
            try:
                await interaction.message.delete()
            except discord.HTTPException:
                await interaction.delete_original_response()

    # -- the shared path ----------------------------------------------------------------------

    async def _launch(
        self, interaction: discord.Interaction[Any], plan: Plan, tray: TrayUse | None = None
    ) -> None:
        response = await interaction.response.defer(thinking=True)
        message_id = getattr(response, "message_id", None)
        if message_id is None:
            message_id = (await interaction.original_response()).id
        downloads = [self.download(image) for image in plan.images]
        if plan.mask is not None:
            downloads.append(self.download(plan.mask))
        datas = list(await asyncio.gather(*downloads))
        mask = datas.pop() if plan.mask is not None else None
        target = DiscordTarget(
            interaction_token=interaction.token,
            interaction_expires_at=interaction.expires_at.timestamp(),
            response_message_id=message_id,
            filesize_limit=interaction.filesize_limit,
            requester_name=interaction.user.display_name,
        )
        job = await self.generation.start(plan, images=datas, mask=mask, target=target)
        interaction.extras[SHOWN] = True
        if tray is not None and self.tray is not None:
            # Accepted: the tray's images are in the job now.
            await self.tray.used(interaction.guild_id, interaction.user.id, tray)
        await self.show_progress(job)
