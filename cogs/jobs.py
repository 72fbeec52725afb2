"""``/jobs list`` and ``/jobs cancel``: a member's unfinished jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.errors import UserFacingError
from bot.app.render import progress_bar, state_label, truncate
from bot.jobs.engine import CancelOutcome
from bot.jobs.records import Job

if TYPE_CHECKING:
    from bot.app.client import AtelierBot

WAITING = ("pending", "uploading", "submitting", "submitted")


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

    async def _active(self, guild_id: int | None) -> list[Job]:
        jobs = await self.bot.db.jobs.list_active()
        return [j for j in jobs if j.guild_id == guild_id]

    @app_commands.command(
        name="list", description="Your unfinished jobs: state, queue position, progress"
    )
    @app_commands.guild_only()
    async def list_jobs(self, interaction: discord.Interaction[Any]) -> None:
        active = await self._active(interaction.guild_id)
        waiting = [j.id for j in active if j.state.value in WAITING]
        mine = [j for j in active if j.member_id == interaction.user.id]
        if not mine:
            await interaction.response.send_message("You have no unfinished jobs.", ephemeral=True)
            return
        lines = []
        for job in mine[:15]:
            where = ""
            if job.id in waiting:
                where = f" · position {waiting.index(job.id) + 1} of {len(waiting)}"
            percent = (
                job.progress if job.progress is not None else (0 if job.id in waiting else None)
            )
            lines.append(
                f"**#{job.id}** {state_label(job.state)}{where}\n{progress_bar(percent, 12)} — "
                f"{truncate(_prompt(job), 80)}"
            )
        if len(mine) > 15:
            lines.append(f"…and {len(mine) - 15} more.")
        embed = discord.Embed(title="Your unfinished jobs", description="\n".join(lines))
        embed.set_footer(text="Cancel one with /jobs cancel job:<number>")
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
            raise UserFacingError(f"There is no job #{job} in this server.")
        own = found.member_id == interaction.user.id
        if not own and not interaction.permissions.manage_messages:
            raise UserFacingError(
                "You can cancel only your own jobs (members with Manage Messages can cancel any)."
            )
        result = await self.bot.engine.cancel(job, by=interaction.user.display_name)
        if result.outcome == CancelOutcome.CANCELLED:
            await interaction.response.send_message(
                f"Cancelled job #{job}. Nothing was charged.", ephemeral=True
            )
        elif result.outcome == CancelOutcome.TOO_LATE:
            raise UserFacingError(
                f"Job #{job} is being posted right now; it can no longer be cancelled."
            )
        else:
            state = state_label(result.job.state) if result.job else "finished"
            raise UserFacingError(f"Job #{job} has already ended ({state.lower()}).")

    @cancel.autocomplete("job")
    async def _cancel_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[int]]:
        active = await self._active(interaction.guild_id)
        if not interaction.permissions.manage_messages:
            active = [j for j in active if j.member_id == interaction.user.id]
        choices = []
        for job in active:
            if current and not str(job.id).startswith(current.strip().lstrip("#")):
                continue
            name = truncate(f"#{job.id} {state_label(job.state)} — {_prompt(job)}", 100)
            choices.append(app_commands.Choice(name=name, value=job.id))
        return choices[:25]


async def setup(bot: AtelierBot) -> None:
    await bot.add_cog(Jobs(bot))
