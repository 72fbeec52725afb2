"""Edit tools on a result — Vary (Region), Zoom out, Pan, Remix — over the loopback Discord.

What reaches the fake ToAPIs proves the geometry: the first reference uploaded is the canvas
with the original pixels where they belong, the mask has its pixel size with alpha 0 exactly
over the new area (or the chosen region) and 255 elsewhere, and the size asked for matches.
"""

from __future__ import annotations

import io
import sqlite3
from typing import Any

import pytest
from PIL import Image

from bot.app.edit_tools import AREAS_SELECT, IMAGE_SELECT, PROMPT_INPUT, TOOL_SELECT
from bot.generation.canvas import GridCell
from bot.images import MaskRegion
from tests.app.helpers import alpha_of, private_answer, text_of
from tests.app.plugin import Atelier, png
from tests.fakes.discord import InteractionRecord, Message, Upload
from tests.masks import assert_mask_keeps_exactly

#: Results of the fake ToAPIs at 1/8 of their real size keep the pixel checks quick.
SCALE = 0.125


def decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return img.convert("RGB")


async def _result(atelier: Atelier, options: dict[str, Any] | None = None) -> Message:
    atelier.toapis.result_scale = SCALE
    rec = atelier.slash("imagine", options or {"prompt": "a red fox", "count": 2})
    msg = await atelier.result(rec)
    await atelier.wait_job(1, "delivered")
    return msg


async def _modal(atelier: Atelier, msg: Message, custom_id: str, **kw: Any) -> InteractionRecord:
    kw.setdefault("member", atelier.studio.alice)
    click = atelier.discord.click(msg, custom_id, **kw)
    await click.wait_response()
    assert click.response_type == 9, click.response_type
    assert click.modal is not None
    return click


def _labels(modal: dict[str, Any]) -> list[str]:
    return [c.get("label", "") for c in modal["components"] if c.get("type") == 18]


def _select(modal: dict[str, Any], custom_id: str) -> dict[str, Any]:
    for c in modal["components"]:
        inner = c.get("component") or {}
        if inner.get("custom_id") == custom_id:
            return inner
    raise AssertionError(f"no {custom_id} in the modal")


def _cost(atelier: Atelier, body: dict[str, Any]) -> int:
    return atelier.bot.moderation.quotas.cost(
        body["model"], body.get("resolution"), body.get("quality"), body["n"]
    )


# -- zoom out and pan -------------------------------------------------------------------------


@pytest.mark.parametrize("factor", ["1.5", "2"])
async def test_zoom_out_sends_the_larger_canvas_and_its_mask(atelier: Atelier, factor: str) -> None:
    msg = await _result(atelier)
    original = decode(msg.attachments[1].data)
    w, h = original.size
    click = await _modal(atelier, msg, "atelier:canvas:1")
    sub = atelier.discord.submit_modal(
        click, {IMAGE_SELECT: ["2"], TOOL_SELECT: [f"zoom-{factor}"]}
    )
    await atelier.result(sub)

    canvas_upload, mask_upload = atelier.toapis.requests_to("upload")
    canvas = decode(canvas_upload.files["file"].data)
    f = float(factor)
    assert canvas.size == (round(w * f), round(h * f))  # a square stays 1:1
    left, top = (canvas.width - w) // 2, (canvas.height - h) // 2
    box = (left, top, left + w, top + h)
    assert canvas.crop(box).tobytes() == original.tobytes()  # image 2, pixel for pixel
    mask = alpha_of(mask_upload.files["file"].data)
    assert mask.size == canvas.size
    assert_mask_keeps_exactly(mask, box)

    first, second = (r.json for r in atelier.toapis.requests_to("submit"))
    issued = [u.url for u in atelier.toapis.uploads.values()]
    assert second["image_urls"] == [issued[0]] and second["mask_url"] == issued[1]
    assert second["size"] == "1:1" and second["prompt"] == "a red fox"
    assert second["n"] == first["n"] == 2 and second["model"] == first["model"]
    job = await atelier.wait_job(2, "delivered")
    assert job.request.size == "1:1"


@pytest.mark.parametrize(
    ("direction", "ratio", "grow", "at"),
    [
        ("right", "3:2", (1.5, 1), (0, 0)),
        ("left", "3:2", (1.5, 1), (0.5, 0)),
        ("down", "2:3", (1, 1.5), (0, 0)),
        ("up", "2:3", (1, 1.5), (0, 0.5)),
    ],
)
async def test_pan_extends_one_side_and_masks_exactly_the_new_area(
    atelier: Atelier,
    direction: str,
    ratio: str,
    grow: tuple[float, float],
    at: tuple[float, float],
) -> None:
    msg = await _result(atelier, {"prompt": "a long corridor"})
    original = decode(msg.attachments[0].data)
    w, h = original.size  # one image: no image choice in the modal
    click = await _modal(atelier, msg, "atelier:canvas:1")
    assert IMAGE_SELECT not in str(click.modal)
    sub = atelier.discord.submit_modal(
        click, {TOOL_SELECT: [f"pan-{direction}"], PROMPT_INPUT: "a long corridor, more doors"}
    )
    await atelier.result(sub)

    canvas_upload, mask_upload = atelier.toapis.requests_to("upload")
    canvas = decode(canvas_upload.files["file"].data)
    assert canvas.size == (round(w * grow[0]), round(h * grow[1]))
    left, top = round(w * at[0]), round(h * at[1])
    box = (left, top, left + w, top + h)
    assert canvas.crop(box).tobytes() == original.tobytes()
    mask = alpha_of(mask_upload.files["file"].data)
    assert mask.size == canvas.size
    assert_mask_keeps_exactly(mask, box)
    body = atelier.toapis.requests_to("submit")[1].json
    assert body["size"] == ratio and body["prompt"] == "a long corridor, more doors"
    assert "Pan of job #1" in text_of(await atelier.result(sub))


# -- vary (region) ----------------------------------------------------------------------------


async def test_vary_region_repaints_exactly_the_chosen_areas(atelier: Atelier) -> None:
    msg = await _result(atelier)
    image = msg.attachments[0].data
    click = await _modal(atelier, msg, "atelier:region:1")
    assert _labels(click.modal)[:2] == ["Image", "Areas to repaint"]  # type: ignore[arg-type]
    prompt = _select(click.modal, PROMPT_INPUT)  # type: ignore[arg-type]
    assert prompt["value"] == "a red fox"  # prefilled
    areas = _select(click.modal, AREAS_SELECT)  # type: ignore[arg-type]
    assert len(areas["options"]) == 18 and areas["max_values"] == 18
    sub = atelier.discord.submit_modal(
        click,
        {
            IMAGE_SELECT: ["1"],
            AREAS_SELECT: [MaskRegion.TOP_HALF.value, GridCell.BOTTOM_RIGHT.value],
            PROMPT_INPUT: "a red fox wearing a hat",
        },
    )
    second = await atelier.result(sub)
    ref_upload, mask_upload = atelier.toapis.requests_to("upload")
    assert ref_upload.files["file"].data == image  # the image itself, unchanged
    w, h = decode(image).size
    mask = alpha_of(mask_upload.files["file"].data)
    assert mask.size == (w, h)
    holes = [MaskRegion.TOP_HALF.box(w, h), GridCell.BOTTOM_RIGHT.box(w, h)]
    for y in range(h):
        for x in range(w):
            inside = any(x0 <= x < x1 and y0 <= y < y1 for x0, y0, x1, y1 in holes)
            assert mask.getpixel((x, y)) == (0 if inside else 255), (x, y)
    body = atelier.toapis.requests_to("submit")[1].json
    assert body["prompt"] == "a red fox wearing a hat" and body["size"] == "1:1"
    assert body["mask_url"] == list(atelier.toapis.uploads.values())[1].url
    assert "Vary (Region) of job #1" in text_of(second)


async def test_the_modal_title_shows_the_cost(atelier: Atelier) -> None:
    msg = await _result(atelier)
    body = atelier.toapis.requests_to("submit")[0].json
    credits = _cost(atelier, body)
    click = await _modal(atelier, msg, "atelier:region:1")
    unit = "credit" if credits == 1 else "credits"
    assert click.modal["title"] == f"Vary (Region) · {credits} {unit}"  # type: ignore[index]
    zoom = await _modal(atelier, msg, "atelier:canvas:1")
    tools = _select(zoom.modal, TOOL_SELECT)  # type: ignore[arg-type]
    assert [o["description"] for o in tools["options"]] == [f"Costs {credits} {unit}"] * 6


# -- remix ------------------------------------------------------------------------------------


async def test_remix_runs_the_same_options_and_references_with_the_new_prompt(
    atelier: Atelier,
) -> None:
    atelier.toapis.result_scale = SCALE
    rec = atelier.slash(
        "imagine",
        {
            "prompt": "a castle",
            "size": "16:9",
            "quality": "medium",
            "image1": Upload("ref.png", png(40, 30)),
        },
    )
    msg = await atelier.result(rec)
    await atelier.wait_job(1, "delivered")
    click = await _modal(atelier, msg, "atelier:remix:1")
    assert _select(click.modal, PROMPT_INPUT)["value"] == "a castle"  # type: ignore[arg-type]
    sub = atelier.discord.submit_modal(click, {PROMPT_INPUT: "a castle at night"})
    second = await atelier.result(sub)
    first_body, second_body = (r.json for r in atelier.toapis.requests_to("submit"))
    assert second_body == {**first_body, "prompt": "a castle at night"}
    assert first_body["image_urls"]  # the same reference
    assert "Remix of job #1" in text_of(second)


# -- refusals ---------------------------------------------------------------------------------


async def test_a_job_the_bot_no_longer_knows_is_refused_without_a_modal(atelier: Atelier) -> None:
    msg = await _result(atelier)
    path = atelier.settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM jobs WHERE id = 1")
    for custom_id in ("atelier:region:1", "atelier:canvas:1", "atelier:remix:1"):
        click = atelier.discord.click(msg, custom_id)
        answer = await private_answer(atelier.discord, click)
        assert click.response_type == 4 and click.modal is None
        assert "no longer knows" in answer.content
    assert len(atelier.toapis.requests_to("submit")) == 1


async def test_a_job_deleted_while_its_modal_is_open_is_refused_and_nothing_is_called(
    atelier: Atelier,
) -> None:
    msg = await _result(atelier)
    click = await _modal(atelier, msg, "atelier:region:1")
    path = atelier.settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM jobs WHERE id = 1")
    sub = atelier.discord.submit_modal(click, {AREAS_SELECT: [MaskRegion.CENTRE.value]})
    answer = await private_answer(atelier.discord, sub)
    assert answer.ephemeral and "no longer knows" in answer.content
    assert len(atelier.toapis.requests_to("submit")) == 1
    assert atelier.toapis.requests_to("upload") == []


async def test_a_result_whose_images_are_gone_is_refused(atelier: Atelier) -> None:
    msg = await _result(atelier)
    msg.attachments.clear()  # the images were removed from the message
    for custom_id in ("atelier:region:1", "atelier:canvas:1"):
        click = atelier.discord.click(msg, custom_id)
        answer = await private_answer(atelier.discord, click)
        assert click.modal is None and "no longer on this message" in answer.content
    assert len(atelier.toapis.requests_to("submit")) == 1
    assert atelier.toapis.requests_to("upload") == []


async def test_too_few_credits_are_refused_before_the_modal_and_after_it(atelier: Atelier) -> None:
    msg = await _result(atelier)
    click = await _modal(atelier, msg, "atelier:canvas:1")  # opened while credits are left
    quotas = atelier.bot.moderation.quotas
    guild, alice = atelier.studio.guild.id, atelier.studio.alice
    await quotas.set_member_cap(guild, alice.id, 0, atelier.studio.mod.id)

    sub = atelier.discord.submit_modal(click, {TOOL_SELECT: ["pan-left"]})
    answer = await private_answer(atelier.discord, sub)
    assert answer.ephemeral and "nothing was charged" in answer.content.lower()
    for custom_id in ("atelier:region:1", "atelier:canvas:1", "atelier:remix:1"):
        again = atelier.discord.click(msg, custom_id, member=alice)
        refused = await private_answer(atelier.discord, again)
        assert again.modal is None and refused.ephemeral
    assert len(atelier.toapis.requests_to("submit")) == 1
    assert atelier.toapis.requests_to("upload") == []
    assert await atelier.bot.engine.get(2) is None


async def test_the_blocklist_applies_to_the_edited_prompt(atelier: Atelier) -> None:
    msg = await _result(atelier)
    await atelier.bot.moderation.settings.add_term(
        atelier.studio.guild.id, "gore", atelier.studio.mod.id
    )
    click = await _modal(atelier, msg, "atelier:remix:1")
    sub = atelier.discord.submit_modal(click, {PROMPT_INPUT: "a fox, gore"})
    answer = await private_answer(atelier.discord, sub)
    assert "gore" in answer.content
    assert len(atelier.toapis.requests_to("submit")) == 1


# -- restarts and languages -------------------------------------------------------------------


async def test_the_edit_buttons_work_after_a_restart(atelier: Atelier) -> None:
    msg = await _result(atelier)
    await atelier.restart()
    click = await _modal(atelier, msg, "atelier:canvas:1", member=atelier.studio.bob)
    sub = atelier.discord.submit_modal(click, {TOOL_SELECT: ["zoom-2"]})
    await atelier.result(sub)
    remix = await _modal(atelier, msg, "atelier:remix:1")
    await atelier.result(atelier.discord.submit_modal(remix, {PROMPT_INPUT: "a grey fox"}))
    bodies = [r.json for r in atelier.toapis.requests_to("submit")]
    assert len(bodies) == 3 and bodies[2]["prompt"] == "a grey fox"
    job = await atelier.wait_job(2, "delivered")
    assert job.member_id == atelier.studio.bob.id


async def test_a_modal_opened_before_a_restart_is_answered_after_it(atelier: Atelier) -> None:
    msg = await _result(atelier)
    w, h = decode(msg.attachments[0].data).size
    click = await _modal(atelier, msg, "atelier:region:1")
    await atelier.restart()
    sub = atelier.discord.submit_modal(
        click, {AREAS_SELECT: [MaskRegion.TOP_HALF.value], PROMPT_INPUT: "a starry sky"}
    )
    await atelier.result(sub)
    _, mask_upload = atelier.toapis.requests_to("upload")
    top = MaskRegion.TOP_HALF.box(w, h)
    assert top[:3] == (0, 0, w)
    assert_mask_keeps_exactly(alpha_of(mask_upload.files["file"].data), (0, top[3], w, h))
    body = atelier.toapis.requests_to("submit")[1].json
    assert body["prompt"] == "a starry sky" and "mask_url" in body


async def test_two_members_modals_for_one_result_keep_their_own_answers(atelier: Atelier) -> None:
    msg = await _result(atelier)
    alice = await _modal(atelier, msg, "atelier:remix:1", member=atelier.studio.alice)
    bob = await _modal(atelier, msg, "atelier:remix:1", member=atelier.studio.bob)
    await atelier.result(atelier.discord.submit_modal(bob, {PROMPT_INPUT: "a fox by bob"}))
    await atelier.result(atelier.discord.submit_modal(alice, {PROMPT_INPUT: "a fox by alice"}))
    prompts = [r.json["prompt"] for r in atelier.toapis.requests_to("submit")]
    assert prompts == ["a red fox", "a fox by bob", "a fox by alice"]
    jobs = [await atelier.wait_job(n, "delivered") for n in (2, 3)]
    assert [j.member_id for j in jobs] == [atelier.studio.bob.id, atelier.studio.alice.id]


async def test_a_modal_of_a_kind_this_version_lacks_is_answered_privately(
    atelier: Atelier,
) -> None:
    msg = await _result(atelier)
    click = await _modal(atelier, msg, "atelier:remix:1")
    click.modal["custom_id"] = "atelier:form:sketch:1"  # type: ignore[index]
    answer = await private_answer(atelier.discord, atelier.discord.submit_modal(click, {}))
    assert "older version" in answer.content
    assert len(atelier.toapis.requests_to("submit")) == 1


async def test_a_chinese_member_gets_chinese_modals_and_replies(atelier: Atelier) -> None:
    msg = await _result(atelier)
    click = await _modal(atelier, msg, "atelier:region:1", locale="zh-CN")
    assert click.modal["title"].startswith("局部重绘")  # type: ignore[index]
    assert _labels(click.modal) == ["图片", "要重绘的区域", "提示词"]  # type: ignore[arg-type]
    areas = _select(click.modal, AREAS_SELECT)  # type: ignore[arg-type]
    assert areas["options"][0]["label"] == "上半部分"
    zoom = await _modal(atelier, msg, "atelier:canvas:1", locale="zh-CN")
    assert zoom.modal["title"] == "缩小或平移"  # type: ignore[index]
    assert _select(zoom.modal, TOOL_SELECT)["options"][1]["label"] == "缩小 2 倍"  # type: ignore[arg-type]
    await atelier.bot.moderation.quotas.set_member_cap(
        atelier.studio.guild.id, atelier.studio.alice.id, 0, atelier.studio.mod.id
    )
    sub = atelier.discord.submit_modal(zoom, {}, locale="zh-CN")
    answer = await private_answer(atelier.discord, sub)
    assert "额度" in answer.content
    refused = atelier.discord.click(
        msg, "atelier:remix:1", locale="zh-CN", member=atelier.studio.alice
    )
    assert "额度" in (await private_answer(atelier.discord, refused)).content
