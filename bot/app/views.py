"""Buttons on results: dynamic items that carry the job id, so they work after a restart.

``custom_id`` formats (all well under Discord's 100 characters):
``atelier:reroll:<job>``, ``atelier:vary:<job>:<n>``, ``atelier:upscale:<job>:<n>``,
``atelier:delete:<job>``. The bot registers them with ``add_dynamic_items`` in ``setup_hook``;
each callback hands over to the bot's ``GenerationFlow`` (the same path as the commands).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import discord

from bot.app.errors import handle_error, reply

__all__ = [
    "DYNAMIC_ITEMS",
    "ImageButton",
    "JobButton",
    "failure_view",
    "result_view",
]


async def _run(interaction: discord.Interaction[Any], action: str, *args: int) -> None:
    client: Any = interaction.client
    if not getattr(client, "accepting", True):
        await reply(interaction, "Atelier is restarting — please try again in a minute.")
        return
    try:
        await getattr(client.flow, action)(interaction, *args)
    except Exception as exc:
        await handle_error(interaction, exc)


class JobButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"atelier:(?P<action>reroll|delete):(?P<job>[0-9]+)",
):
    """Act on the whole result: Re-roll (the same request again) or Delete the message (the
    member who asked, or members with Manage Messages)."""

    LOOKS: ClassVar[dict[str, tuple[str, str, discord.ButtonStyle]]] = {
        "reroll": ("Re-roll", "🎲", discord.ButtonStyle.primary),
        "delete": ("Delete", "🗑️", discord.ButtonStyle.danger),
    }

    def __init__(self, action: str, job_id: int) -> None:
        label, emoji, style = self.LOOKS[action]
        super().__init__(
            discord.ui.Button(
                label=label, emoji=emoji, style=style, custom_id=f"atelier:{action}:{job_id}"
            )
        )
        self.action = action
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> JobButton:
        return cls(match["action"], int(match["job"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _run(interaction, self.action, self.job_id)


class ImageButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"atelier:(?P<action>vary|upscale):(?P<job>[0-9]+):(?P<index>[0-9]{1,2})",
):
    """Act on one image of the result: Vary n (that image as the reference) or Upscale n
    (render it again at 2K, or 4K where its ratio allows)."""

    LABELS: ClassVar[dict[str, str]] = {"vary": "Vary", "upscale": "Upscale"}

    def __init__(self, action: str, job_id: int, index: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"{self.LABELS[action]} {index}",
                style=discord.ButtonStyle.secondary,
                custom_id=f"atelier:{action}:{job_id}:{index}",
            )
        )
        self.action = action
        self.job_id = job_id
        self.index = index

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ImageButton:
        return cls(match["action"], int(match["job"]), int(match["index"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _run(interaction, self.action, self.job_id, self.index)


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (
    JobButton,
    ImageButton,
)


def _finished(view: discord.ui.View) -> discord.ui.View:
    # Dynamic items are dispatched by their custom_id pattern; a stored view would run the
    # callback a second time (and pile up in memory), so the view is marked finished.
    view.stop()
    return view


def result_view(job_id: int, images: int) -> discord.ui.View:
    """Re-roll and Delete, then Vary n and Upscale n for each image (at most 10: 5 rows)."""
    view = discord.ui.View(timeout=None)
    view.add_item(JobButton("reroll", job_id))
    view.add_item(JobButton("delete", job_id))
    images = max(0, min(images, 10))
    for first_row, action in ((1, "vary"), (3 if images > 5 else 2, "upscale")):
        for n in range(1, images + 1):
            item = ImageButton(action, job_id, n)
            item.row = first_row + (n - 1) // 5
            view.add_item(item)
    return _finished(view)


def failure_view(job_id: int) -> discord.ui.View:
    """A Re-roll button to try the same request again."""
    view = discord.ui.View(timeout=None)
    view.add_item(JobButton("reroll", job_id))
    return _finished(view)
