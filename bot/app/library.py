"""A member's library: the reference tray's replies, ``/history`` pages and ``/show`` re-posts.

* Tray: the texts of "Add to references" and ``/tray``, and a Clear button
  (``atelier:tray:clear``; it empties the tray of whoever clicks, on an ephemeral message).
* History: a member's jobs in one server, newest first, ``HISTORY_PAGE`` per page, with
  Prev / Next buttons (``atelier:history:<member>:<page>``) that work after a restart; only
  that member may turn the pages.
* Show: a finished job of this server posted again with working result buttons. Result files
  are not kept after delivery, so the images come from where they still are: the job's files
  if still on disk, else the result message the bot posted on Discord, else the image
  service's result links while they last; otherwise the member is told honestly.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord

from bot.app.delivery.embeds import result_embed
from bot.app.delivery.transport import (
    DEFAULT_FILE_LIMIT,
    DiscordRefused,
    carries_result_of,
    result_stem,
)
from bot.app.render import state_label, truncate
from bot.app.running import run_on_bot
from bot.app.views import finished_view, result_view
from bot.generation import DeclaredImage
from bot.generation.plan import short
from bot.generation.tray import TrayState
from bot.images import FittedImage, ImageProblem, fit_for_upload
from bot.jobs.records import Job
from bot.jobs.states import JobState
from bot.messages import say, timestamp
from bot.refusal import Refusal

if TYPE_CHECKING:
    from bot.app.client import AtelierBot

log = logging.getLogger(__name__)

__all__ = [
    "HISTORY_PAGE",
    "HistoryButton",
    "TrayClearButton",
    "history_page",
    "show_job",
    "tray_added_text",
    "tray_text",
    "tray_view",
]

#: Jobs per /history page.
HISTORY_PAGE = 10


# -- the reference tray ---------------------------------------------------------------------


def tray_added_text(state: TrayState) -> str:
    """The confirmation of "Add to references"."""
    text = say(
        "tray.added",
        added=state.added,
        count=len(state.images),
        limit=state.limit,
        expires=timestamp(state.expires_at or 0),
    )
    if state.left_out:
        text += "\n" + say("tray.left_out", left_out=state.left_out, limit=state.limit)
    return text


def tray_text(state: TrayState) -> str:
    """What ``/tray show`` says: the images in the tray and when it expires."""
    if not state.images:
        return say("tray.empty")
    lines = [
        say(
            "tray.contents",
            count=len(state.images),
            limit=state.limit,
            expires=timestamp(state.expires_at or 0),
        )
    ]
    for n, image in enumerate(state.images, start=1):
        lines.append(say("tray.line", n=n, filename=short(image.filename, 80)))
    return "\n".join(lines)


class TrayClearButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"atelier:tray:clear"
):
    """Empty the clicking member's reference tray."""

    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(
                label=say("tray.button.clear"),
                emoji="🧺",
                style=discord.ButtonStyle.secondary,
                custom_id="atelier:tray:clear",
            )
        )

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> TrayClearButton:
        return cls()

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        async def clear(bot: AtelierBot) -> None:
            if interaction.guild_id is None:
                raise Refusal(say("app.servers_only"))
            removed = await bot.tray.clear(interaction.guild_id, interaction.user.id)
            await interaction.response.edit_message(
                content=say("tray.cleared", count=removed), view=None
            )

        await run_on_bot(interaction, clear)


def tray_view() -> discord.ui.View:
    """The Clear button under a tray message."""
    view = discord.ui.View(timeout=None)
    view.add_item(TrayClearButton())
    return finished_view(view)


# -- /history -------------------------------------------------------------------------------


def _prompt(job: Job) -> str:
    try:
        return job.request.prompt
    except ValueError:
        return ""


async def history_page(
    bot: AtelierBot, guild_id: int, member_id: int, page: int
) -> tuple[discord.Embed, discord.ui.View | None]:
    """Page ``page`` (from 1) of the member's jobs in the server, and its Prev / Next buttons."""
    total = await bot.db.history.count(guild_id, member_id)
    if total == 0:
        raise Refusal(say("history.none"))
    pages = max(1, math.ceil(total / HISTORY_PAGE))
    page = max(1, min(page, pages))
    jobs = await bot.db.history.page(
        guild_id, member_id, offset=(page - 1) * HISTORY_PAGE, limit=HISTORY_PAGE
    )
    lines = [
        say(
            "history.line",
            job=job.id,
            state=state_label(job.state),
            when=timestamp(job.created_at),
            prompt=truncate(_prompt(job).replace("\n", " "), 70),
        )
        for job in jobs
    ]
    embed = discord.Embed(title=say("history.title"), description="\n".join(lines))
    embed.set_footer(text=say("history.footer", page=page, pages=pages, total=total))
    if pages == 1:
        return embed, None
    view = discord.ui.View(timeout=None)
    view.add_item(HistoryButton(member_id, page - 1, "prev", disabled=page <= 1))
    view.add_item(HistoryButton(member_id, page + 1, "next", disabled=page >= pages))
    return embed, finished_view(view)


class HistoryButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"atelier:history:(?P<member>[0-9]+):(?P<page>[0-9]{1,6})(?::(?P<way>prev|next))?",
):
    """Turn a page of ``/history``: only the member whose history it is."""

    def __init__(self, member_id: int, page: int, way: str, *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label=say(f"history.{way}"),
                style=discord.ButtonStyle.secondary,
                custom_id=f"atelier:history:{member_id}:{max(page, 0)}:{way}",
                disabled=disabled,
            )
        )
        self.member_id = member_id
        self.page = page

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> HistoryButton:
        return cls(int(match["member"]), int(match["page"]), match["way"] or "next")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        async def turn(bot: AtelierBot) -> None:
            if interaction.user.id != self.member_id or interaction.guild_id is None:
                raise Refusal(say("history.not_yours"))
            embed, view = await history_page(bot, interaction.guild_id, self.member_id, self.page)
            await interaction.response.edit_message(embed=embed, view=view)

        await run_on_bot(interaction, turn)


# -- /show ----------------------------------------------------------------------------------


async def _result_bytes(bot: AtelierBot, job: Job) -> list[bytes]:
    """The job's result images from wherever they still are; [] if nowhere."""
    present = [Path(f) for f in job.files]
    if present and all(await asyncio.gather(*(asyncio.to_thread(p.is_file) for p in present))):
        return [await asyncio.to_thread(p.read_bytes) for p in present]
    sources: list[DeclaredImage] = []
    if job.channel_id is not None:
        try:
            found = await bot.delivery.transport.find_own(
                job.channel_id, carries_result_of(job.id), after=job.response_message_id
            )
        except DiscordRefused as exc:
            log.info("job %d: could not look for its result message (%s)", job.id, exc)
            found = None
        if found is not None:
            sources = [
                DeclaredImage(
                    label=say("app.label_image_n", n=n),
                    filename=a.filename,
                    content_type=a.content_type,
                    size=a.size,
                    url=a.url,
                )
                for n, a in enumerate(found.attachments, start=1)
            ]
    if not sources and job.result_urls and (job.result_expires_at or 0) > bot.clock.now():
        sources = [
            DeclaredImage(
                label=say("app.label_image_n", n=n), filename="", content_type=None, size=0, url=u
            )
            for n, u in enumerate(job.result_urls, start=1)
        ]
    datas: list[bytes] = []
    for source in sources:
        try:
            datas.append(await bot.flow.download(source))
        except Refusal as exc:
            log.info("job %d: a result image could not be fetched again: %s", job.id, exc.message)
            return []
    return datas


async def show_job(bot: AtelierBot, interaction: discord.Interaction[Any], job_id: int) -> None:
    """Post a finished job of this server again, with its result buttons."""
    job = await bot.engine.get(job_id)
    if job is None or job.guild_id is None or job.guild_id != interaction.guild_id:
        raise Refusal(say("show.unknown", job=job_id))
    if job.state != JobState.DELIVERED:
        raise Refusal(say("show.not_finished", job=job_id, state=state_label(job.state).lower()))
    await interaction.response.defer(thinking=True)
    datas = await _result_bytes(bot, job)
    if not datas:
        raise Refusal(say("show.gone", job=job_id))
    limit = interaction.filesize_limit or DEFAULT_FILE_LIMIT
    fitted: list[FittedImage] = []
    try:
        for n, data in enumerate(datas, start=1):
            stem = result_stem(job.id, n)
            fitted.append(await asyncio.to_thread(fit_for_upload, data, stem, limit))
    except ImageProblem:
        raise Refusal(say("show.gone", job=job_id)) from None
    info = await bot.db.job_discord.get(job.id)
    await interaction.edit_original_response(
        content=None,
        embed=result_embed(job, info, fitted, [len(d) for d in datas]),
        attachments=[discord.File(io.BytesIO(f.data), filename=f.filename) for f in fitted],
        view=result_view(job.id, len(fitted)),
        allowed_mentions=discord.AllowedMentions.none(),
    )
