"""Edit tools on every result: Vary (Region), Zoom out / Pan and Remix, each through a modal.

The result's first row carries one button per tool (``atelier:region:<job>``,
``atelier:canvas:<job>``, ``atelier:remix:<job>``, routed by ``bot.app.views``). A click
plans the edit first, on the one generation path (``GenerationService.plan``: the job, the
image, channel rules, blocklist, limits and credits), so a refusal is ephemeral and shows no
modal; otherwise the modal opens with the cost in its title (Zoom / Pan: on each choice) and
the prompt prefilled. Submitting plans again with what the member chose (the prompt may have
changed) and launches like every button (``GenerationFlow._launch``).

The modals are stateless (``bot.app.forms``): their custom_id names the tool and the job
(``atelier:form:region:<job>``), and the submission carries the result message, so the image is
read from it as the Vary button does. A modal opened before a restart, or answered by another
process, is submitted like any other (``EDIT_FORMS``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import discord

from bot.app.flow import GenerationFlow, declared
from bot.app.forms import FormHandler, Submission, stateless
from bot.generation import Plan, canvas_options, remix_options
from bot.generation.canvas import (
    CanvasEdit,
    Direction,
    GridCell,
    Pan,
    Repaint,
    ZoomOut,
    parse_area,
)
from bot.images import MaskRegion
from bot.jobs.records import Job
from bot.messages import say, say_plural
from bot.policy import Origin
from bot.refusal import Refusal
from bot.toapis.catalog import CATALOG, active_catalog

__all__ = [
    "AREAS_SELECT",
    "CANVAS_TOOLS",
    "EDIT_FORMS",
    "IMAGE_SELECT",
    "PROMPT_INPUT",
    "TOOL_SELECT",
    "CanvasModal",
    "RegionModal",
    "RemixModal",
    "open_canvas",
    "open_region",
    "open_remix",
]

#: Discord's limits: a modal title of 45 characters, a text input of 4,000.
TITLE_MAX = 45
TEXT_MAX = 4000

IMAGE_SELECT = "atelier:edit:image"
AREAS_SELECT = "atelier:edit:areas"
TOOL_SELECT = "atelier:edit:tool"
PROMPT_INPUT = "atelier:edit:prompt"

#: Zoom / Pan choices: select value -> the canvas edit (values never change meaning).
CANVAS_TOOLS: dict[str, ZoomOut | Pan] = {
    "zoom-1.5": ZoomOut(1.5),
    "zoom-2": ZoomOut(2.0),
    "pan-left": Pan(Direction.LEFT),
    "pan-right": Pan(Direction.RIGHT),
    "pan-up": Pan(Direction.UP),
    "pan-down": Pan(Direction.DOWN),
}
_TOOL_LABELS = {
    "zoom-1.5": "app.edit.tool.zoom_15",
    "zoom-2": "app.edit.tool.zoom_2",
    "pan-left": "app.edit.tool.pan_left",
    "pan-right": "app.edit.tool.pan_right",
    "pan-up": "app.edit.tool.pan_up",
    "pan-down": "app.edit.tool.pan_down",
}
_PRESET_LABELS = {
    MaskRegion.TOP_HALF: "app.edit.area.top_half",
    MaskRegion.BOTTOM_HALF: "app.edit.area.bottom_half",
    MaskRegion.LEFT_HALF: "app.edit.area.left_half",
    MaskRegion.RIGHT_HALF: "app.edit.area.right_half",
    MaskRegion.CENTRE: "app.edit.area.centre",
    MaskRegion.TOP_LEFT: "app.edit.area.top_left",
    MaskRegion.TOP_RIGHT: "app.edit.area.top_right",
    MaskRegion.BOTTOM_LEFT: "app.edit.area.bottom_left",
    MaskRegion.BOTTOM_RIGHT: "app.edit.area.bottom_right",
}
_CELL_LABELS = {
    GridCell.TOP_LEFT: "app.edit.cell.top_left",
    GridCell.TOP: "app.edit.cell.top",
    GridCell.TOP_RIGHT: "app.edit.cell.top_right",
    GridCell.LEFT: "app.edit.cell.left",
    GridCell.CENTRE: "app.edit.cell.centre",
    GridCell.RIGHT: "app.edit.cell.right",
    GridCell.BOTTOM_LEFT: "app.edit.cell.bottom_left",
    GridCell.BOTTOM: "app.edit.cell.bottom",
    GridCell.BOTTOM_RIGHT: "app.edit.cell.bottom_right",
}


# -- planning (the one generation path) -------------------------------------------------------


def _images(interaction: discord.Interaction[Any]) -> list[discord.Attachment]:
    images = list(interaction.message.attachments) if interaction.message else []
    if not images:
        raise Refusal(say("app.image_gone"))
    return images


async def _plan_canvas(
    flow: GenerationFlow,
    interaction: discord.Interaction[Any],
    job: Job,
    origin: Origin,
    edit: CanvasEdit,
    attachment: discord.Attachment,
    prompt: str,
) -> Plan:
    """Plan inpainting one result image with ``edit``: options, validation, policy."""
    if not attachment.width or not attachment.height:
        raise Refusal(say("app.image_gone"))
    options = canvas_options(job, edit, attachment.width, attachment.height, prompt)
    return await flow.generation.plan(
        replace(flow.context(interaction, origin), kind="button"),
        options,
        images=[declared(attachment, say("app.label_image"))],
        canvas=edit,
        parent_job_id=job.id,
    )


async def _plan_remix(
    flow: GenerationFlow, interaction: discord.Interaction[Any], job: Job, prompt: str
) -> Plan:
    """Plan the job again with ``prompt``: the same options and kept references (as Re-roll)."""
    return await flow.generation.plan(
        replace(flow.context(interaction, "remix"), kind="button"),
        remix_options(job, prompt),
        stored=tuple(replace(r, url=None) for r in job.references),
        parent_job_id=job.id,
    )


def _origin(edit: CanvasEdit) -> Origin:
    if isinstance(edit, Repaint):
        return "region"
    return "zoom" if isinstance(edit, ZoomOut) else "pan"


# -- what the buttons open --------------------------------------------------------------------


async def open_region(
    flow: GenerationFlow, interaction: discord.Interaction[Any], job_id: int
) -> None:
    """Vary (Region): check it may run, then ask for the image, the areas and the prompt."""
    job = await flow._job(job_id)
    images = _images(interaction)
    plan = await _plan_canvas(
        flow,
        interaction,
        job,
        "region",
        Repaint((MaskRegion.CENTRE,)),
        images[0],
        job.request.prompt,
    )
    modal = RegionModal(job, len(images), flow.generation.price(plan))
    await interaction.response.send_modal(modal)


async def open_canvas(
    flow: GenerationFlow, interaction: discord.Interaction[Any], job_id: int
) -> None:
    """Zoom out / Pan: check it may run, then ask for the image, the tool and the prompt."""
    job = await flow._job(job_id)
    images = _images(interaction)
    first = images[0]
    plan = await _plan_canvas(
        flow, interaction, job, "zoom", CANVAS_TOOLS["zoom-1.5"], first, job.request.prompt
    )
    costs: dict[str, int | None] = {}
    for value, edit in CANVAS_TOOLS.items():
        # Only the resolution can differ between the tools (4K falls to 2K off its ratios).
        options = canvas_options(job, edit, first.width or 1, first.height or 1, job.request.prompt)
        request = plan.request.model_copy(update={"resolution": options.resolution})
        costs[value] = flow.generation.price(replace(plan, request=request))
    await interaction.response.send_modal(CanvasModal(job, len(images), costs))


async def open_remix(
    flow: GenerationFlow, interaction: discord.Interaction[Any], job_id: int
) -> None:
    """Remix: check it may run, then ask for the new prompt."""
    job = await flow._job(job_id)
    plan = await _plan_remix(flow, interaction, job, job.request.prompt)
    await interaction.response.send_modal(RemixModal(job, flow.generation.price(plan)))


# -- what the modals submit -------------------------------------------------------------------


async def region(
    flow: GenerationFlow,
    interaction: discord.Interaction[Any],
    job_id: int,
    index: int,
    areas: list[str],
    prompt: str,
) -> None:
    """Repaint the chosen areas of image ``index`` with ``prompt``."""
    try:
        chosen = tuple(dict.fromkeys(parse_area(value) for value in areas))
    except ValueError:
        raise Refusal(say("app.edit.bad_choice")) from None
    if not chosen:
        raise Refusal(say("app.edit.bad_choice"))
    await _launch_canvas(flow, interaction, job_id, index, Repaint(chosen), prompt)


async def canvas(
    flow: GenerationFlow,
    interaction: discord.Interaction[Any],
    job_id: int,
    index: int,
    tool: str,
    prompt: str,
) -> None:
    """Zoom out or pan image ``index``, painting the new area with ``prompt``."""
    edit = CANVAS_TOOLS.get(tool)
    if edit is None:
        raise Refusal(say("app.edit.bad_choice"))
    await _launch_canvas(flow, interaction, job_id, index, edit, prompt)


async def _launch_canvas(
    flow: GenerationFlow,
    interaction: discord.Interaction[Any],
    job_id: int,
    index: int,
    edit: CanvasEdit,
    prompt: str,
) -> None:
    job = await flow._job(job_id)
    attachment = flow._attachment(interaction, index)
    plan = await _plan_canvas(flow, interaction, job, _origin(edit), edit, attachment, prompt)
    await flow._launch(interaction, plan)


async def remix(
    flow: GenerationFlow, interaction: discord.Interaction[Any], job_id: int, prompt: str
) -> None:
    """Run the job again with the edited ``prompt``."""
    job = await flow._job(job_id)
    plan = await _plan_remix(flow, interaction, job, prompt)
    await flow._launch(interaction, plan)


# -- the modals -------------------------------------------------------------------------------


def _title(key: str, cost: int | None) -> str:
    title = say(key)
    if cost is not None:
        title = say(
            "app.edit.title_cost", title=title, cost=say_plural("quota.credits", cost, n=cost)
        )
    return title[:TITLE_MAX]


def _prompt_input(job: Job) -> discord.ui.TextInput[Any]:
    caps = CATALOG.get(job.request.model) or active_catalog().first
    limit = min(TEXT_MAX, caps.max_prompt_chars)
    return discord.ui.TextInput(
        custom_id=PROMPT_INPUT,
        style=discord.TextStyle.paragraph,
        default=job.request.prompt[:limit],
        max_length=limit,
        required=True,
    )


def _image_select(images: int) -> discord.ui.Select[Any]:
    return discord.ui.Select(
        custom_id=IMAGE_SELECT,
        options=[
            discord.SelectOption(label=say("app.label_image_n", n=n), value=str(n), default=n == 1)
            for n in range(1, images + 1)
        ],
    )


def _picked_image(values: list[str]) -> int:
    if not values:
        return 1
    try:
        return int(values[0])
    except ValueError:
        raise Refusal(say("app.edit.bad_choice")) from None


class _EditModal(discord.ui.Modal):
    """A modal for one job: an image choice when the result has several, then the rest."""

    def __init__(self, title: str, kind: str, job: Job, images: int) -> None:
        super().__init__(title=title, timeout=None)
        stateless(self, kind, job.id)
        self.image: discord.ui.Select[Any] | None = None
        if images > 1:
            self.image = _image_select(images)
            self.add_item(discord.ui.Label(text=say("app.edit.image_label"), component=self.image))


class RegionModal(_EditModal):
    """Vary (Region): which image, which areas (presets and grid cells), what to paint there."""

    def __init__(self, job: Job, images: int, cost: int | None) -> None:
        super().__init__(_title("app.edit.region_title", cost), "region", job, images)
        options = [
            discord.SelectOption(label=say(key), value=area.value)
            for area, key in _PRESET_LABELS.items()
        ] + [
            discord.SelectOption(
                label=say(key), value=cell.value, description=say("app.edit.cell_hint")
            )
            for cell, key in _CELL_LABELS.items()
        ]
        self.areas: discord.ui.Select[Any] = discord.ui.Select(
            custom_id=AREAS_SELECT, min_values=1, max_values=len(options), options=options
        )
        self.prompt = _prompt_input(job)
        self.add_item(
            discord.ui.Label(
                text=say("app.edit.areas_label"),
                description=say("app.edit.areas_hint"),
                component=self.areas,
            )
        )
        self.add_item(discord.ui.Label(text=say("app.edit.prompt_label"), component=self.prompt))


class CanvasModal(_EditModal):
    """Zoom out / Pan: which image, which tool (each with its cost), the prompt to paint with."""

    def __init__(self, job: Job, images: int, costs: dict[str, int | None]) -> None:
        super().__init__(say("app.edit.canvas_title")[:TITLE_MAX], "canvas", job, images)
        options = []
        for value, key in _TOOL_LABELS.items():
            cost = costs.get(value)
            description = (
                None
                if cost is None
                else say("app.edit.costs", cost=say_plural("quota.credits", cost, n=cost))
            )
            options.append(
                discord.SelectOption(
                    label=say(key),
                    value=value,
                    description=description,
                    default=value == "zoom-1.5",
                )
            )
        self.tool: discord.ui.Select[Any] = discord.ui.Select(
            custom_id=TOOL_SELECT, options=options
        )
        self.prompt = _prompt_input(job)
        self.add_item(discord.ui.Label(text=say("app.edit.tool_label"), component=self.tool))
        self.add_item(
            discord.ui.Label(
                text=say("app.edit.prompt_label"),
                description=say("app.edit.canvas_prompt_hint"),
                component=self.prompt,
            )
        )


class RemixModal(_EditModal):
    """Remix: the prompt to run the job again with (same options and references)."""

    def __init__(self, job: Job, cost: int | None) -> None:
        super().__init__(_title("app.edit.remix_title", cost), "remix", job, 1)
        self.prompt = _prompt_input(job)
        self.add_item(
            discord.ui.Label(
                text=say("app.edit.prompt_label"),
                description=say("app.edit.remix_hint"),
                component=self.prompt,
            )
        )


# -- what the modals submit, by their custom_id (``bot.app.forms``) ---------------------------


async def _submit_region(
    client: Any, interaction: discord.Interaction[Any], sub: Submission
) -> None:
    index = _picked_image(sub.choices(IMAGE_SELECT))
    areas = sub.choices(AREAS_SELECT)
    await region(client.flow, interaction, sub.ids[0], index, areas, sub.text(PROMPT_INPUT))


async def _submit_canvas(
    client: Any, interaction: discord.Interaction[Any], sub: Submission
) -> None:
    index = _picked_image(sub.choices(IMAGE_SELECT))
    tool = next(iter(sub.choices(TOOL_SELECT)), "")
    await canvas(client.flow, interaction, sub.ids[0], index, tool, sub.text(PROMPT_INPUT))


async def _submit_remix(
    client: Any, interaction: discord.Interaction[Any], sub: Submission
) -> None:
    await remix(client.flow, interaction, sub.ids[0], sub.text(PROMPT_INPUT))


#: The edit tools' modals by kind, registered on the bot's ``FormRouter``.
EDIT_FORMS: dict[str, FormHandler] = {
    "region": _submit_region,
    "canvas": _submit_canvas,
    "remix": _submit_remix,
}
