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

from bot.app.forms import Submission, stateless
from bot.app.library import TrayClearButton, tray_added_text, tray_view
from bot.app.message_images import images_in
from bot.generation import DeclaredImage, Options
from bot.messages import say
from bot.refusal import Refusal

if TYPE_CHECKING:
    from bot.app.client import AtelierBot

#: A modal's text input holds at most 4000 characters (a slash prompt may hold more).
PROMPT_MAX = 4000


PROMPT_INPUT = "atelier:edit:prompt"
WHICH_INPUT = "atelier:edit:which"


class EditModal(discord.ui.Modal):
    """Ask what to change (and, for a message with several images, which one).

    Stateless (``bot.app.forms``): its custom_id names the message, which is read again when
    the modal is submitted, so a submission after a restart is answered like any other.
    """

    def __init__(self, message: discord.Message, images: int) -> None:
        super().__init__(title=say("menus.edit.title"), timeout=None)
        stateless(self, "edit", message.channel.id, message.id)
        self.add_item(
            discord.ui.TextInput(
                label=say("menus.edit.prompt_label"),
                placeholder=say("menus.edit.prompt_placeholder"),
                style=discord.TextStyle.paragraph,
                min_length=1,
                max_length=PROMPT_MAX,
                custom_id=PROMPT_INPUT,
            )
        )
        if images > 1:
            self.add_item(
                discord.ui.TextInput(
                    label=say("menus.edit.which_label", count=images),
                    default="1",
                    required=False,
                    max_length=2,
                    custom_id=WHICH_INPUT,
                )
            )


def chosen(images: list[DeclaredImage], typed: str) -> DeclaredImage:
    """The image the member picked (the first unless they typed another number)."""
    typed = typed.strip() or "1"
    if not typed.isdigit() or not 1 <= int(typed) <= len(images):
        raise Refusal(say("menus.edit.bad_index", count=len(images)))
    return images[int(typed) - 1]


async def _message(
    client: AtelierBot, interaction: discord.Interaction[Any], channel_id: int, message_id: int
) -> discord.Message:
    channel = client.get_partial_messageable(channel_id, guild_id=interaction.guild_id)
    try:
        return await channel.fetch_message(message_id)
    except (discord.NotFound, discord.Forbidden):
        raise Refusal(say("menus.message_gone")) from None


async def submit_edit(
    client: AtelierBot, interaction: discord.Interaction[Any], sub: Submission
) -> None:
    """Edit the chosen image of the modal's message with the prompt typed."""
    prompt = sub.text(PROMPT_INPUT).strip()
    if not prompt:
        raise Refusal(say("menus.edit.no_prompt"))
    channel_id, message_id = sub.ids
    images = images_in(await _message(client, interaction, channel_id, message_id))
    if not images:
        raise Refusal(say("menus.no_images"))
    image = chosen(images, sub.text(WHICH_INPUT))
    await client.flow.edit_image(interaction, Options(prompt=prompt), image)


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
        self.bot.forms.add("edit", submit_edit)
        for menu in self.menus:
            self.bot.tree.add_command(menu)

    async def cog_unload(self) -> None:
        for menu in self.menus:
            self.bot.tree.remove_command(menu.name, type=menu.type)
        self.bot.remove_dynamic_items(TrayClearButton)
        self.bot.forms.remove("edit")

    async def edit_with_atelier(
        self, interaction: discord.Interaction[Any], message: discord.Message
    ) -> None:
        images = images_in(message)
        if not images:
            raise Refusal(say("menus.no_images"))
        await interaction.response.send_modal(EditModal(message, len(images)))

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
