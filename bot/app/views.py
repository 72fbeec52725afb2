"""Buttons on results: dynamic items that carry the job id, so they work after a restart.

``custom_id`` formats (all well under Discord's 100 characters):
``atelier:reroll:<job>``, ``atelier:vary:<job>:<n>``, ``atelier:upscale:<job>:<n>``,
``atelier:delete:<job>``, and the edit tools ``atelier:region:<job>``,
``atelier:canvas:<job>`` (Zoom out / Pan), ``atelier:remix:<job>``. The bot registers them with ``add_dynamic_items`` in ``setup_hook``;
each callback hands over to the bot's ``GenerationFlow`` (the same path as the commands)
through an explicit table from the ``custom_id`` action to the flow's handler
(``JOB_ACTIONS``, ``IMAGE_ACTIONS``): buttons already posted keep their meaning whatever the
methods are called. ``tests/app/test_buttons.py`` checks every format ever posted.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

import discord

from bot.app import edit_tools
from bot.app.flow import GenerationFlow
from bot.app.running import run_on_flow
from bot.messages import say

__all__ = [
    "DYNAMIC_ITEMS",
    "IMAGE_ACTIONS",
    "JOB_ACTIONS",
    "ImageButton",
    "JobButton",
    "failure_view",
    "finished_view",
    "result_view",
]


JobHandler = Callable[[GenerationFlow, discord.Interaction[Any], int], Awaitable[None]]
ImageHandler = Callable[[GenerationFlow, discord.Interaction[Any], int, int], Awaitable[None]]

#: ``atelier:<action>:<job>`` → the flow's handler. Never rename or drop a key: posted
#: buttons carry it for ever.
JOB_ACTIONS: Mapping[str, JobHandler] = {
    "reroll": GenerationFlow.reroll,
    "delete": GenerationFlow.delete,
    # The edit tools open a modal first (``bot.app.edit_tools``).
    "region": edit_tools.open_region,
    "canvas": edit_tools.open_canvas,
    "remix": edit_tools.open_remix,
}
#: ``atelier:<action>:<job>:<n>`` → the flow's handler (n: the image on the message, from 1).
IMAGE_ACTIONS: Mapping[str, ImageHandler] = {
    "vary": GenerationFlow.vary,
    "upscale": GenerationFlow.upscale,
}


def _alternatives(actions: Mapping[str, object]) -> str:
    return "|".join(re.escape(action) for action in actions)


class JobButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"atelier:(?P<action>{_alternatives(JOB_ACTIONS)}):(?P<job>[0-9]+)",
):
    """Act on the whole result: Re-roll (the same request again), the edit tools (a modal
    first: Vary (Region), Zoom out / Pan, Remix) or Delete the message (the member who asked,
    or members with Manage Messages)."""

    LOOKS: ClassVar[dict[str, tuple[str, str, discord.ButtonStyle]]] = {
        "reroll": ("app.button.reroll", "🎲", discord.ButtonStyle.primary),
        "delete": ("app.button.delete", "🗑️", discord.ButtonStyle.danger),
        "region": ("app.button.region", "🖌️", discord.ButtonStyle.secondary),
        "canvas": ("app.button.canvas", "🔍", discord.ButtonStyle.secondary),
        "remix": ("app.button.remix", "✏️", discord.ButtonStyle.secondary),
    }

    def __init__(self, action: str, job_id: int) -> None:
        label, emoji, style = self.LOOKS[action]
        super().__init__(
            discord.ui.Button(
                label=say(label), emoji=emoji, style=style, custom_id=f"atelier:{action}:{job_id}"
            )
        )
        self.action = action
        self.job_id = job_id
        self.handler: JobHandler = JOB_ACTIONS[action]

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
        await run_on_flow(interaction, lambda flow: self.handler(flow, interaction, self.job_id))


class ImageButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=(
        rf"atelier:(?P<action>{_alternatives(IMAGE_ACTIONS)}):(?P<job>[0-9]+):(?P<index>[0-9]{{1,2}})"
    ),
):
    """Act on one image of the result: Vary n (that image as the reference) or Upscale n
    (render it again at 2K, or 4K where its ratio allows)."""

    #: The label's message key (``{n}``: the image's number).
    LABELS: ClassVar[dict[str, str]] = {"vary": "app.button.vary", "upscale": "app.button.upscale"}

    def __init__(self, action: str, job_id: int, index: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=say(self.LABELS[action], n=index),
                style=discord.ButtonStyle.secondary,
                custom_id=f"atelier:{action}:{job_id}:{index}",
            )
        )
        self.action = action
        self.job_id = job_id
        self.index = index
        self.handler: ImageHandler = IMAGE_ACTIONS[action]

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
        await run_on_flow(
            interaction, lambda flow: self.handler(flow, interaction, self.job_id, self.index)
        )


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (
    JobButton,
    ImageButton,
)


def finished_view(view: discord.ui.View) -> discord.ui.View:
    """Mark a view of dynamic items finished (they are dispatched by their custom_id)."""
    # Dynamic items are dispatched by their custom_id pattern; a stored view would run the
    # callback a second time (and pile up in memory), so the view is marked finished.
    view.stop()
    return view


def result_view(job_id: int, images: int) -> discord.ui.View:
    """Re-roll, the edit tools and Delete on the first row, then Vary n and Upscale n for each
    image (at most 10: 5 rows). The edit tools ask for the image in their modal, so one row
    serves any number of images."""
    view = discord.ui.View(timeout=None)
    for action in ("reroll", "region", "canvas", "remix", "delete"):
        button = JobButton(action, job_id)
        button.row = 0
        view.add_item(button)
    images = max(0, min(images, 10))
    for first_row, action in ((1, "vary"), (3 if images > 5 else 2, "upscale")):
        for n in range(1, images + 1):
            item = ImageButton(action, job_id, n)
            item.row = first_row + (n - 1) // 5
            view.add_item(item)
    return finished_view(view)


def failure_view(job_id: int) -> discord.ui.View:
    """A Re-roll button to try the same request again."""
    view = discord.ui.View(timeout=None)
    view.add_item(JobButton("reroll", job_id))
    return finished_view(view)
