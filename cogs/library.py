"""``/show``, ``/history`` and ``/tray``: thin adapters over ``bot.app.library``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.library import HistoryButton, history_page, show_job, tray_text, tray_view
from bot.messages import say
from bot.refusal import Refusal

if TYPE_CHECKING:
    from bot.app.client import AtelierBot


class Library(commands.Cog):
    """Your jobs and your reference tray."""

    tray = app_commands.Group(
        name="tray",
        description="Your reference tray (fill it with Add to references on a message)",
        guild_only=True,
    )

    def __init__(self, bot: AtelierBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(HistoryButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(HistoryButton)

    @app_commands.command(
        name="show", description="Post a finished job of this server again, with its buttons"
    )
    @app_commands.guild_only()
    @app_commands.describe(job="The job number (see /history)")
    async def show(
        self, interaction: discord.Interaction[Any], job: app_commands.Range[int, 1]
    ) -> None:
        await show_job(self.bot, interaction, job)

    @app_commands.command(name="history", description="Your jobs in this server, newest first")
    @app_commands.guild_only()
    async def history(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.guild_id is None:
            raise Refusal(say("app.servers_only"))
        embed, view = await history_page(self.bot, interaction.guild_id, interaction.user.id, 1)
        if view is None:
            await interaction.response.send_message(embed=embed, ephemeral=True)
        else:
            await interaction.response.send_message(embed=embed, view=view, ephemeral=True)

    @tray.command(name="show", description="The images in your reference tray")
    async def tray_show(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.guild_id is None:
            raise Refusal(say("app.servers_only"))
        state = await self.bot.tray.show(interaction.guild_id, interaction.user.id)
        if state.images:
            await interaction.response.send_message(
                tray_text(state),
                view=tray_view(),
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
        else:
            await interaction.response.send_message(tray_text(state), ephemeral=True)

    @tray.command(name="clear", description="Empty your reference tray")
    async def tray_clear(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.guild_id is None:
            raise Refusal(say("app.servers_only"))
        removed = await self.bot.tray.clear(interaction.guild_id, interaction.user.id)
        await interaction.response.send_message(say("tray.cleared", count=removed), ephemeral=True)


async def setup(bot: AtelierBot) -> None:
    await bot.add_cog(Library(bot))
