"""``/imagine`` and ``/edit``: thin adapters from slash commands to ``GenerationFlow``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.choices import CommandChoices, catalog_of, set_choices, set_max_value
from bot.generation import Options
from bot.images import MaskRegion

if TYPE_CHECKING:
    from bot.app.client import AtelierBot

Choice = app_commands.Choice

#: Replaced from the model catalog when the cog loads (``Imagine.__init__``).
FROM_CATALOG = [Choice(name="catalog", value="")]
REGION_CHOICES = [Choice(name=r.value, value=r.value) for r in MaskRegion]

Count = app_commands.Range[int, 1, 10]
Prompt = app_commands.Range[str, 1, 6000]


def _value(choice: Choice[str] | None) -> str | None:
    return None if choice is None else choice.value


class Imagine(commands.Cog):
    """Make and edit images."""

    def __init__(self, bot: AtelierBot) -> None:
        self.bot = bot
        choices = CommandChoices(catalog_of(bot))
        for command in (self.imagine, self.edit):
            set_choices(
                command,
                model=choices.models(),
                size=choices.sizes(),
                resolution=choices.resolutions(),
                quality=choices.qualities(),
                output_format=choices.formats(),
            )
            set_max_value(command, "count", choices.most_images())

    @app_commands.command(
        name="imagine",
        description="Make images from a prompt; attach images to use them as references",
    )
    @app_commands.guild_only()
    @app_commands.rename(output_format="format")
    @app_commands.describe(
        prompt="What to paint",
        model="Image model (default: this server's)",
        size="Aspect ratio",
        resolution="1K, 2K or 4K (4K only for wide or tall ratios)",
        quality="Rendering quality",
        count="How many images",
        output_format="File format of the result",
        image1="A reference image",
        image2="Another reference image",
        image3="Another reference image",
        image4="Another reference image",
    )
    @app_commands.choices(
        model=FROM_CATALOG,
        size=FROM_CATALOG,
        resolution=FROM_CATALOG,
        quality=FROM_CATALOG,
        output_format=FROM_CATALOG,
    )
    async def imagine(
        self,
        interaction: discord.Interaction[Any],
        prompt: Prompt,
        model: Choice[str] | None = None,
        size: Choice[str] | None = None,
        resolution: Choice[str] | None = None,
        quality: Choice[str] | None = None,
        count: Count | None = None,
        output_format: Choice[str] | None = None,
        image1: discord.Attachment | None = None,
        image2: discord.Attachment | None = None,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
    ) -> None:
        options = Options(
            prompt=prompt,
            model=_value(model),
            size=_value(size),
            resolution=_value(resolution),
            quality=_value(quality),
            count=count,
            output_format=_value(output_format),
        )
        images = [a for a in (image1, image2, image3, image4) if a is not None]
        await self.bot.flow.imagine(interaction, options, images)

    @app_commands.command(
        name="edit", description="Edit an image; a mask or a region says what to repaint"
    )
    @app_commands.guild_only()
    @app_commands.rename(output_format="format")
    @app_commands.describe(
        image="The image to edit",
        prompt="What to change",
        mask="PNG of the same size; transparent pixels are repainted",
        region="Repaint only this part (no mask needed)",
        size="Aspect ratio (default: the image's)",
        resolution="1K, 2K or 4K (4K only for wide or tall ratios)",
        quality="Rendering quality",
        count="How many images",
        model="Image model (default: this server's)",
        output_format="File format of the result",
    )
    @app_commands.choices(
        region=REGION_CHOICES,
        size=FROM_CATALOG,
        resolution=FROM_CATALOG,
        quality=FROM_CATALOG,
        model=FROM_CATALOG,
        output_format=FROM_CATALOG,
    )
    async def edit(
        self,
        interaction: discord.Interaction[Any],
        image: discord.Attachment,
        prompt: Prompt,
        mask: discord.Attachment | None = None,
        region: Choice[str] | None = None,
        size: Choice[str] | None = None,
        resolution: Choice[str] | None = None,
        quality: Choice[str] | None = None,
        count: Count | None = None,
        model: Choice[str] | None = None,
        output_format: Choice[str] | None = None,
    ) -> None:
        options = Options(
            prompt=prompt,
            model=_value(model),
            size=_value(size),
            resolution=_value(resolution),
            quality=_value(quality),
            count=count,
            output_format=_value(output_format),
        )
        chosen = MaskRegion(region.value) if region is not None else None
        await self.bot.flow.edit(interaction, options, image, mask, chosen)


async def setup(bot: AtelierBot) -> None:
    await bot.add_cog(Imagine(bot))
