"""``/status`` for moderators: the image service's recent health, the queue, the version.

Same permission as ``/settings`` (Manage Server, checked by discord.py on every call). The
numbers come from ``bot.service_health`` (this process's rolling window) and the job table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import __version__, i18n
from bot.jobs.states import JobState
from bot.messages import say
from cogs.settings import moderators_only, server_id

if TYPE_CHECKING:
    from bot.app.client import AtelierBot

#: Jobs waiting their turn (here or at the image service), and those being made or handed over.
WAITING = (JobState.PENDING, JobState.UPLOADING, JobState.SUBMITTING, JobState.SUBMITTED)
RUNNING = (JobState.RUNNING, JobState.COMPLETED, JobState.DELIVERING)


def _decimal(value: float) -> str:
    return i18n.format_number(round(value, 1))


class Status(commands.Cog):
    """The bot's health for moderators."""

    def __init__(self, bot: AtelierBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="status", description="Moderators: image service health, the queue, the version"
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @moderators_only
    async def status(self, interaction: discord.Interaction[Any]) -> None:
        guild_id = server_id(interaction)
        health = self.bot.services.health.snapshot()
        counts = await self.bot.db.jobs.count_by_state()
        here = await self.bot.db.jobs.list_active(guild_id=guild_id)
        minutes = round(health.window / 60)
        if health.calls:
            service = say(
                "status.service",
                minutes=minutes,
                calls=health.calls,
                error_rate=_decimal(100 * (health.error_rate or 0.0)),
                rate_limited=health.rate_limited,
            )
        else:
            service = say("status.service_idle", minutes=minutes)
        median = (
            say("duration.seconds", s=_decimal(health.median_task_seconds))
            if health.median_task_seconds is not None
            else say("status.no_median")
        )
        lines = [
            say("status.title", version=__version__),
            service,
            say(
                "status.jobs",
                done=health.jobs_done,
                failed=health.jobs_failed,
                median=median,
            ),
            say(
                "status.queue",
                waiting=sum(counts.get(s, 0) for s in WAITING),
                running=sum(counts.get(s, 0) for s in RUNNING),
                here=len(here),
            ),
        ]
        await interaction.response.send_message(
            "\n".join(lines)[:2000],
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )


async def setup(bot: AtelierBot) -> None:
    await bot.add_cog(Status(bot))
