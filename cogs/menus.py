"""Message context menus: "Edit with Atelier" and "Add to references" (Apps menu of a message).

Thin adapters: the images come from ``bot.app.message_images``, the edit runs through the one
``GenerationFlow`` path (policy, quota, downloads as ``/edit``), the tray is
``bot.generation.tray.ReferenceTray`` and its replies are ``bot.app.library``'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.library import TrayClearButton, tray_added_text, tray_view
from bot.app.message_images import images_in
from bot.app.running import run_on_flow
from bot.generation import DeclaredImage, Options
from bot.messages import say
from bot.refusal import Refusal

if TYPE_CHECKING:
    from bot.app.client import AtelierBot
    from bot.app.flow import GenerationFlow

#: A modal's text input holds at most 4000 characters (a slash prompt may hold more).
PROMPT_MAX = 4000


class EditModal(discord.ui.Modal):
    """Ask what to change (and, for a message with several images, which one)."""

    def __init__(self, images: list[DeclaredImage]) -> None:
        super().__init__(title=say("menus.edit.title"), timeout=900)
        self.images = images
        self.prompt: discord.ui.TextInput[EditModal] = discord.ui.TextInput(
            label=say("menus.edit.prompt_label"),
            placeholder=say("menus.edit.prompt_placeholder"),
            style=discord.TextStyle.paragraph,
            min_length=1,
            max_length=PROMPT_MAX,
            custom_id="atelier:edit:prompt",
        )
        self.add_item(self.prompt)
        self.which: discord.ui.TextInput[EditModal] | None = None
        if len(images) > 1:
            self.which = discord.ui.TextInput(
                label=say("menus.edit.which_label", count=len(images)),
                default="1",
                required=False,
                max_length=2,
                custom_id="atelier:edit:which",
            )
            self.add_item(self.which)

    def chosen(self) -> DeclaredImage:
        """The image the member picked (the first unless they typed another number)."""
        typed = (self.which.value if self.which is not None else "").strip() or "1"
        if not typed.isdigit() or not 1 <= int(typed) <= len(self.images):
            raise Refusal(say("menus.edit.bad_index", count=len(self.images)))
        return self.images[int(typed) - 1]

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        async def edit(flow: GenerationFlow) -> None:
            image = self.chosen()
            prompt = self.prompt.value.strip()
            if not prompt:
                raise Refusal(say("menus.edit.no_prompt"))
            await flow.edit_image(interaction, Options(prompt=prompt), image)

        await run_on_flow(interaction, edit)


class Menus(commands.Cog):
    """Edit a message's image, or collect a message's images as references."""

    def __init__(self, bot: AtelierBot) -> None:
        self.bot = bot
        self.menus = [
            app_commands.ContextMenu(name="Edit with Atelier", callback=self.edit_with_atelier),
            app_commands.ContextMenu(name="Add to references", callback=self.add_to_references),
        ]
        for menu in self.menus:
            app_commands.guild_only()(menu)

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(TrayClearButton)
        for menu in self.menus:
            self.bot.tree.add_command(menu)

    async def cog_unload(self) -> None:
        for menu in self.menus:
            self.bot.tree.remove_command(menu.name, type=menu.type)
        self.bot.remove_dynamic_items(TrayClearButton)

    async def edit_with_atelier(
        self, interaction: discord.Interaction[Any], message: discord.Message
    ) -> None:
        images = images_in(message)
        if not images:
            raise Refusal(say("menus.no_images"))
        await interaction.response.send_modal(EditModal(images))

    async def add_to_references(
        self, interaction: discord.Interaction[Any], message: discord.Message
    ) -> None:
        images = images_in(message)
        if not images or interaction.guild_id is None:
            raise Refusal(say("menus.no_images"))
        state = await self.bot.tray.add(interaction.guild_id, interaction.user.id, images)
        await interaction.response.send_message(
            tray_added_text(state),
            view=tray_view(),
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )


async def setup(bot: AtelierBot) -> None:
    await bot.add_cog(Menus(bot))
