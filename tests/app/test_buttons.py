"""Result buttons: Re-roll, Vary n, Upscale n, Delete — and that they survive a restart."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest

from bot.app import edit_tools
from bot.app.flow import GenerationFlow
from bot.app.views import DYNAMIC_ITEMS, IMAGE_ACTIONS, JOB_ACTIONS, result_view
from tests.app.helpers import field, private_answer, text_of
from tests.app.plugin import Atelier, DatabaseWrites, written_before_ack


async def _first_result(atelier: Atelier, options: dict[str, object] | None = None) -> object:
    rec = atelier.slash("imagine", options or {"prompt": "a red fox", "count": 2})
    msg = await atelier.result(rec)
    await atelier.wait_job(1, "delivered")
    return msg


async def test_reroll_runs_the_same_request_for_whoever_clicks(atelier: Atelier) -> None:
    msg = await _first_result(atelier)
    click = atelier.discord.click(msg, "atelier:reroll:1", member=atelier.studio.bob)  # type: ignore[arg-type]
    ack = await click.wait_response()
    assert ack.ok and click.response_type == 5 and not click.ephemeral
    second = await atelier.result(click)
    first_body, second_body = (r.json for r in atelier.toapis.requests_to("submit"))
    assert first_body == second_body
    assert field(second, "Requested by") == f"<@{atelier.studio.bob.id}>"
    assert "Re-roll of job #1" in text_of(second)
    job = await atelier.wait_job(2, "delivered")
    assert job.member_id == atelier.studio.bob.id


async def test_vary_uses_that_image_as_the_reference(atelier: Atelier) -> None:
    msg = await _first_result(atelier)
    second_image = msg.attachments[1].data  # type: ignore[attr-defined]
    click = atelier.discord.click(msg, "atelier:vary:1:2")  # type: ignore[arg-type]
    await atelier.result(click)
    upload = atelier.toapis.requests_to("upload")[0]
    assert upload.files["file"].data == second_image
    body = atelier.toapis.requests_to("submit")[1].json
    assert body["prompt"] == "a red fox" and body["n"] == 2
    assert body["image_urls"] == [next(iter(atelier.toapis.uploads.values())).url]


async def test_upscale_renders_again_at_4k_where_the_ratio_allows(atelier: Atelier) -> None:
    msg = await _first_result(atelier, {"prompt": "a wide beach", "size": "16:9"})
    click = atelier.discord.click(msg, "atelier:upscale:1:1")  # type: ignore[arg-type]
    await atelier.result(click)
    body = atelier.toapis.requests_to("submit")[1].json
    assert body["resolution"] == "4k" and body["size"] == "16:9" and body["n"] == 1
    assert body["image_urls"] == [next(iter(atelier.toapis.uploads.values())).url]


async def test_upscale_of_a_square_image_goes_to_2k(atelier: Atelier) -> None:
    msg = await _first_result(atelier, {"prompt": "a square tile"})
    click = atelier.discord.click(msg, "atelier:upscale:1:1")  # type: ignore[arg-type]
    await atelier.result(click)
    body = atelier.toapis.requests_to("submit")[1].json
    assert body["resolution"] == "2k" and body["size"] == "1:1"


async def test_upscale_of_an_image_already_at_the_top_is_refused(atelier: Atelier) -> None:
    msg = await _first_result(atelier, {"prompt": "already big", "size": "1:1", "resolution": "2k"})
    click = atelier.discord.click(msg, "atelier:upscale:1:1")  # type: ignore[arg-type]
    answer = await private_answer(atelier.discord, click)
    assert "already at 2K" in answer.content
    assert len(atelier.toapis.requests_to("submit")) == 1


async def test_button_generations_go_through_the_same_validation(atelier: Atelier) -> None:
    msg = await _first_result(atelier, {"prompt": "four", "count": 4})
    # The server's moderators lower the limit after the first result (issue 6's /settings limits).
    await atelier.bot.moderation.settings.set_limits(atelier.studio.guild.id, 0, max_count=2)
    click = atelier.discord.click(msg, "atelier:reroll:1")  # type: ignore[arg-type]
    answer = await private_answer(atelier.discord, click)
    assert "you asked for 4" in answer.content
    assert len(atelier.toapis.requests_to("submit")) == 1


async def test_delete_is_for_the_requester_or_moderators(atelier: Atelier) -> None:
    msg = await _first_result(atelier)
    bob = atelier.discord.click(msg, "atelier:delete:1", member=atelier.studio.bob)  # type: ignore[arg-type]
    answer = await private_answer(atelier.discord, bob)
    assert "Manage Messages" in answer.content
    assert not msg.deleted  # type: ignore[attr-defined]
    mod = atelier.discord.click(msg, "atelier:delete:1", member=atelier.studio.mod)  # type: ignore[arg-type]
    await atelier.discord.wait_for(lambda ev: ev.kind == "message.delete" and ev.ok, timeout=20)
    assert msg.deleted  # type: ignore[attr-defined]
    assert mod.response_type == 6


async def test_the_requester_can_delete_their_result(atelier: Atelier) -> None:
    msg = await _first_result(atelier)
    atelier.discord.click(msg, "atelier:delete:1", member=atelier.studio.alice)  # type: ignore[arg-type]
    await atelier.discord.wait_for(lambda ev: ev.kind == "message.delete" and ev.ok, timeout=20)
    assert msg.deleted  # type: ignore[attr-defined]


async def test_buttons_work_after_a_restart(atelier: Atelier) -> None:
    msg = await _first_result(atelier)
    await atelier.restart()
    click = atelier.discord.click(msg, "atelier:vary:1:1", member=atelier.studio.bob)  # type: ignore[arg-type]
    await atelier.result(click)
    reroll = atelier.discord.click(msg, "atelier:reroll:1")  # type: ignore[arg-type]
    await atelier.result(reroll)
    assert len(atelier.toapis.requests_to("submit")) == 3


async def test_a_failed_job_offers_a_reroll_that_works(atelier: Atelier) -> None:
    atelier.toapis.script(outcome="failed", queue_s=0.1, run_s=0.1)
    rec = atelier.slash("imagine", {"prompt": "try again"})
    failed = await rec.wait_original(lambda m: "atelier:reroll:1" in m.custom_ids(), timeout=15)
    click = atelier.discord.click(failed, "atelier:reroll:1")
    await atelier.result(click)


#: Every custom_id format Atelier has ever posted (see the history of bot/app/views.py) and
#: the handler it must reach, with the arguments after the interaction.
POSTED_CUSTOM_IDS = [
    ("atelier:reroll:7", GenerationFlow.reroll, (7,)),
    ("atelier:delete:7", GenerationFlow.delete, (7,)),
    ("atelier:vary:7:1", GenerationFlow.vary, (7, 1)),
    ("atelier:vary:123456:10", GenerationFlow.vary, (123456, 10)),
    ("atelier:upscale:7:3", GenerationFlow.upscale, (7, 3)),
    ("atelier:region:7", edit_tools.open_region, (7,)),
    ("atelier:canvas:7", edit_tools.open_canvas, (7,)),
    ("atelier:remix:7", edit_tools.open_remix, (7,)),
]


@pytest.mark.parametrize(("custom_id", "handler", "args"), POSTED_CUSTOM_IDS)
async def test_every_custom_id_ever_posted_routes_to_its_handler(
    custom_id: str, handler: object, args: tuple[int, ...]
) -> None:
    # discord.py runs every registered item whose template fully matches: exactly one must.
    matches = [
        (item, m)
        for item in DYNAMIC_ITEMS
        if (m := item.__discord_ui_compiled_template__.fullmatch(custom_id)) is not None
    ]
    assert len(matches) == 1, custom_id
    item_cls, match = matches[0]
    item: Any = await item_cls.from_custom_id(None, None, match)  # type: ignore[arg-type]
    assert item.item.custom_id == custom_id  # the button re-created keeps its id

    called: list[tuple[object, tuple[object, ...]]] = []

    async def record(flow: object, interaction: object, *rest: object) -> None:
        called.append((flow, rest))

    flow = object()
    interaction = SimpleNamespace(client=SimpleNamespace(accepting=True, flow=flow))
    original = item.handler
    assert original is handler
    item.handler = record
    await item.callback(interaction)
    assert called == [(flow, args)]


def test_buttons_posted_on_a_result_all_route() -> None:
    view = result_view(5, 10)
    ids = [child.custom_id for child in view.children]  # type: ignore[attr-defined]
    assert len(ids) == 25  # 5 rows of 5: Discord's most
    rows: dict[int, int] = {}
    for child in view.children:
        rows[child.row or 0] = rows.get(child.row or 0, 0) + 1  # type: ignore[attr-defined]
    assert rows == {0: 5, 1: 5, 2: 5, 3: 5, 4: 5}
    for custom_id in ids:
        assert len(custom_id) <= 100
        assert any(i.__discord_ui_compiled_template__.fullmatch(custom_id) for i in DYNAMIC_ITEMS)
    assert JOB_ACTIONS.keys() == {"reroll", "delete", "region", "canvas", "remix"}
    assert IMAGE_ACTIONS.keys() == {"vary", "upscale"}


async def test_nothing_is_written_before_a_button_is_acknowledged(atelier: Atelier) -> None:
    msg = await _first_result(atelier)
    # Wait until the first job is completely settled (listeners ran, files forgotten).
    deadline = time.monotonic() + 10
    while (await atelier.job(1)).files:
        assert time.monotonic() < deadline, "job 1 kept its result files"
        await asyncio.sleep(0.02)
    watch = DatabaseWrites(atelier.settings)
    try:
        click, early = await written_before_ack(
            atelier.discord,
            watch,
            lambda: atelier.discord.click(msg, "atelier:reroll:1", member=atelier.studio.bob),  # type: ignore[arg-type]
        )
        assert click.response_type == 5
        assert not early, "the database was written before the button was acknowledged"
        await atelier.wait_job(2, "delivered")
        assert watch.written()
    finally:
        watch.close()
