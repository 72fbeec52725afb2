"""``/jobs list`` and ``/jobs cancel``: a member's unfinished jobs.

Both read only this server's jobs (and, unless the member has Manage Messages, only their
own), filtered in the database with a limit: a keystroke in the autocomplete costs one small
query whatever the number of servers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.render import progress_bar, state_label, truncate
from bot.jobs.engine import CancelOutcome
from bot.jobs.records import Job
from bot.jobs.states import FINAL_STATES, JobState
from bot.messages import say
from bot.refusal import Refusal

if TYPE_CHECKING:
    from bot.app.client import AtelierBot

#: States in which a job waits its turn at the image service (the queue /jobs list shows).
WAITING = (JobState.PENDING, JobState.UPLOADING, JobState.SUBMITTING, JobState.SUBMITTED)
#: Jobs shown by /jobs list; one more is read to know whether there are more.
LIST_LIMIT = 15
#: Discord shows at most 25 autocomplete choices.
CHOICES_LIMIT = 25


def _prompt(job: Job) -> str:
    try:
        return job.request.prompt
    except ValueError:
        return ""


class Jobs(commands.GroupCog, group_name="jobs", group_description="Your unfinished image jobs"):
    """List and cancel jobs."""

    def __init__(self, bot: AtelierBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(
        name="list", description="Your unfinished jobs: state, queue position, progress"
    )
    @app_commands.guild_only()
    async def list_jobs(self, interaction: discord.Interaction[Any]) -> None:
        mine = await self.bot.db.jobs.list_active(
            guild_id=interaction.guild_id, member_id=interaction.user.id, limit=LIST_LIMIT + 1
        )
        if not mine:
            await interaction.response.send_message(say("jobs.none"), ephemeral=True)
            return
        lines = []
        for job in mine[:LIST_LIMIT]:
            place = await self.bot.db.jobs.queue_position(job.id, WAITING)
            percent = job.progress if job.progress is not None else (0 if place else None)
            shown = {
                "job": job.id,
                "state": state_label(job.state),
                "bar": progress_bar(percent, 12),
                "prompt": truncate(_prompt(job), 80),
            }
            lines.append(
                say("jobs.line_queued", position=place[0], total=place[1], **shown)
                if place
                else say("jobs.line", **shown)
            )
        if len(mine) > LIST_LIMIT:
            lines.append(say("jobs.more"))
        embed = discord.Embed(title=say("jobs.title"), description="\n".join(lines))
        embed.set_footer(text=say("jobs.footer"))
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(
        name="cancel", description="Cancel one of your jobs (Manage Messages: any job)"
    )
    @app_commands.guild_only()
    @app_commands.describe(job="The job number (see /jobs list)")
    async def cancel(
        self, interaction: discord.Interaction[Any], job: app_commands.Range[int, 1]
    ) -> None:
        found = await self.bot.engine.get(job)
        if found is None or found.guild_id != interaction.guild_id:
            raise Refusal(say("jobs.unknown", job=job))
        own = found.member_id == interaction.user.id
        if not own and not interaction.permissions.manage_messages:
            raise Refusal(say("jobs.not_yours"))
        result = await self.bot.engine.cancel(job, by=interaction.user.display_name)
        if result.outcome == CancelOutcome.CANCELLED:
            await interaction.response.send_message(say("jobs.cancelled", job=job), ephemeral=True)
        elif result.outcome == CancelOutcome.TOO_LATE:
            raise Refusal(say("jobs.too_late", job=job))
        else:
            state = state_label(result.job.state) if result.job else say("jobs.finished")
            raise Refusal(say("jobs.already_ended", job=job, state=state.lower()))

    @cancel.autocomplete("job")
    async def _cancel_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[int]]:
        # Moderators (Manage Messages) may cancel any job of the server: offer them all.
        member_id = None if interaction.permissions.manage_messages else interaction.user.id
        active = await self.bot.db.jobs.list_active(
            guild_id=interaction.guild_id, member_id=member_id, limit=CHOICES_LIMIT
        )
        typed = current.strip().lstrip("#")
        if typed.isdigit() and all(j.id != int(typed) for j in active):
            # A job beyond the first 25 can still be picked by typing its number.
            found = await self.bot.engine.get(int(typed))
            if (
                found is not None
                and found.guild_id == interaction.guild_id
                and found.state not in FINAL_STATES
                and member_id in (None, found.member_id)
            ):
                active.insert(0, found)
        choices = []
        for job in active:
            if typed and not str(job.id).startswith(typed):
                continue
            name = truncate(
                say("jobs.choice", job=job.id, state=state_label(job.state), prompt=_prompt(job)),
                100,
            )
            choices.append(app_commands.Choice(name=name, value=job.id))
        return choices[:CHOICES_LIMIT]


async def setup(bot: AtelierBot) -> None:
    await bot.add_cog(Jobs(bot))
