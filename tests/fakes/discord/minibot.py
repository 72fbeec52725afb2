"""A minimal discord.py bot for the loopback Discord's own tests.

Run as ``python -m tests.fakes.discord.minibot``; reads ``DISCORD_TOKEN``, ``DISCORD_API_BASE``
and ``DISCORD_GATEWAY_URL`` (the two last as the real bot will). Commands:

* ``/render prompt`` defers (thinking), then edits the original response with a PNG;
* ``/panel job`` answers with a persistent :class:`JobButton` (a DynamicItem), whose click
  edits the message (response type 7) and works after a restart.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import signal

import discord
from discord import app_commands
from discord.ext import commands
from PIL import Image

from bot.discord_target import point_discord_at


def render_png(prompt: str, size: int = 32) -> bytes:
    """A small PNG whose colour depends on the prompt."""
    colour = tuple(sum(prompt.encode()) * k % 256 for k in (3, 5, 7))
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, format="PNG")
    return buf.getvalue()


class JobButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"minibot:job:(?P<job_id>[0-9]+)"
):
    """A button that carries its job id in its custom_id, so it survives restarts."""

    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"Job {job_id}",
                style=discord.ButtonStyle.primary,
                custom_id=f"minibot:job:{job_id}",
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> JobButton:
        return cls(int(match["job_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.edit_message(
            content=f"job {self.job_id} clicked by {interaction.user.name} (pid {os.getpid()})"
        )


class MiniBot(commands.Bot):
    def __init__(self) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            guild_ready_timeout=0.05,
        )

    async def setup_hook(self) -> None:
        self.add_dynamic_items(JobButton)
        self.tree.add_command(render)
        self.tree.add_command(panel)
        await self.tree.sync()

    async def on_ready(self) -> None:
        print(f"minibot ready as {self.user} (pid {os.getpid()})", flush=True)


@app_commands.command(description="Render a picture")
async def render(interaction: discord.Interaction, prompt: str) -> None:
    await interaction.response.defer(thinking=True)
    data = render_png(prompt)
    await interaction.edit_original_response(
        content=f"rendered: {prompt}",
        attachments=[discord.File(io.BytesIO(data), filename="render.png")],
    )


@app_commands.command(description="Show a job panel")
async def panel(interaction: discord.Interaction, job: int) -> None:
    view = discord.ui.View(timeout=None)
    view.add_item(JobButton(job))
    await interaction.response.send_message(f"job {job}", view=view)


async def _main() -> None:
    point_discord_at(os.environ.get("DISCORD_API_BASE"), os.environ.get("DISCORD_GATEWAY_URL"))
    bot = MiniBot()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: loop.create_task(bot.close()))
    async with bot:
        await bot.start(os.environ["DISCORD_TOKEN"])


def main() -> None:
    discord.utils.setup_logging(level=logging.INFO)
    asyncio.run(_main())


if __name__ == "__main__":
    main()
