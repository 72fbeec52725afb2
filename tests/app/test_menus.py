"""The message context menus over the loopback Discord: Edit with Atelier, Add to references,
and the reference tray feeding the next /imagine."""

from __future__ import annotations

import time

from bot.clock import ManualClock
from tests.app.helpers import private_answer, text_of
from tests.app.plugin import Atelier, png
from tests.fakes.discord import InteractionRecord, Message, Upload

PROMPT_ID = "atelier:edit:prompt"
WHICH_ID = "atelier:edit:which"


def _inputs(rec: InteractionRecord) -> list[str]:
    assert rec.modal is not None
    found: list[str] = []

    def walk(items: list[dict]) -> None:
        for item in items:
            if item.get("type") == 4:
                found.append(item["custom_id"])
            walk(item.get("components", []))
            if isinstance(item.get("component"), dict):
                walk([item["component"]])

    walk(rec.modal.get("components", []))
    return found


def _painter_post(atelier: Atelier, *images: bytes, embedded: bytes | None = None) -> Message:
    """A message by another bot with image attachments and maybe an embedded image."""
    guild = atelier.studio.guild
    painter = next((m for m in guild.members.values() if m.user.username == "painter"), None)
    painter = painter or guild.add_member("painter", bot=True)
    return atelier.discord.post_message(
        atelier.studio.art,
        painter,
        "fresh paint",
        files=[Upload(f"pic{n}.png", data) for n, data in enumerate(images, start=1)],
        embed_images=[Upload("embedded.png", embedded)] if embedded is not None else [],
    )


async def _nothing_happened(atelier: Atelier) -> None:
    assert atelier.toapis.requests == []  # nothing uploaded, nothing submitted
    assert await atelier.bot.engine.get(1) is None  # no job, nothing charged


async def test_edit_with_atelier_edits_the_chosen_image_with_the_modals_prompt(
    atelier: Atelier,
) -> None:
    first, embedded = png(64, 48, (255, 0, 0)), png(80, 60, (0, 255, 0))
    target = _painter_post(atelier, first, embedded=embedded)
    rec = atelier.discord.message_command("Edit with Atelier", target, member=atelier.studio.alice)
    await rec.wait_response()
    assert rec.response_type == 9  # a modal, nothing else yet
    assert _inputs(rec) == [PROMPT_ID, WHICH_ID]  # two images: the member picks one
    assert atelier.toapis.requests == []
    submit = atelier.discord.submit_modal(rec, {PROMPT_ID: "make it stormy", WHICH_ID: "2"})
    result = await atelier.result(submit)
    uploads = atelier.toapis.requests_to("upload")
    assert [u.files["file"].data for u in uploads] == [embedded]  # the embed's image, as is
    body = atelier.toapis.requests_to("submit")[0].json
    assert body["prompt"] == "make it stormy"
    assert body["image_urls"] == [next(iter(atelier.toapis.uploads.values())).url]
    assert body["size"] == "4:3"  # the image's own ratio, as /edit does
    job = await atelier.wait_job(1)
    assert job.member_id == atelier.studio.alice.id and job.state.value == "delivered"
    assert "atelier:vary:1:1" in result.custom_ids()


async def test_a_single_image_needs_no_choice_and_a_bad_choice_is_refused(
    atelier: Atelier,
) -> None:
    only = png(40, 40, (1, 2, 3))
    target = _painter_post(atelier, only)
    rec = atelier.discord.message_command("Edit with Atelier", target)
    await rec.wait_response()
    assert _inputs(rec) == [PROMPT_ID]
    two = _painter_post(atelier, only, png(20, 20))
    rec2 = atelier.discord.message_command("Edit with Atelier", two)
    await rec2.wait_response()
    bad = atelier.discord.submit_modal(rec2, {PROMPT_ID: "x", WHICH_ID: "7"})
    answer = await private_answer(atelier.discord, bad)
    assert "1 to 2" in answer.content
    await _nothing_happened(atelier)
    submit = atelier.discord.submit_modal(rec, {PROMPT_ID: "a lighthouse"})
    await atelier.result(submit)
    assert [u.files["file"].data for u in atelier.toapis.requests_to("upload")] == [only]


async def test_a_message_without_images_is_refused_without_a_modal(atelier: Atelier) -> None:
    target = atelier.discord.post_message(
        atelier.studio.art,
        atelier.studio.bob,
        "just words",
        files=[Upload("notes.txt", b"hello")],
    )
    for menu in ("Edit with Atelier", "Add to references"):
        rec = atelier.discord.message_command(menu, target)
        answer = await private_answer(atelier.discord, rec)
        assert rec.response_type == 4 and rec.modal is None
        assert "no image" in answer.content
    await _nothing_happened(atelier)
    assert await atelier.bot.db.trays.items(atelier.studio.guild.id, atelier.studio.alice.id) == []


async def test_a_member_out_of_credits_is_refused_after_the_modal_and_nothing_is_called(
    atelier: Atelier,
) -> None:
    guild, alice = atelier.studio.guild, atelier.studio.alice
    await atelier.bot.moderation.quotas.set_member_cap(guild.id, alice.id, 0, guild.owner_id)
    target = _painter_post(atelier, png(32, 32))
    rec = atelier.discord.message_command("Edit with Atelier", target, member=alice)
    await rec.wait_response()
    submit = atelier.discord.submit_modal(rec, {PROMPT_ID: "anything"})
    answer = await private_answer(atelier.discord, submit)
    assert answer.ephemeral and "credits" in answer.content, answer.content
    await _nothing_happened(atelier)


async def test_an_edit_modal_opened_before_a_restart_is_answered_after_it(
    atelier: Atelier,
) -> None:
    first, second = png(64, 48, (255, 0, 0)), png(48, 64, (0, 0, 255))
    target = _painter_post(atelier, first, second)
    rec = atelier.discord.message_command("Edit with Atelier", target, member=atelier.studio.bob)
    await rec.wait_response()
    await atelier.restart()
    submit = atelier.discord.submit_modal(rec, {PROMPT_ID: "at dusk", WHICH_ID: "2"})
    await atelier.result(submit)
    assert [u.files["file"].data for u in atelier.toapis.requests_to("upload")] == [second]
    body = atelier.toapis.requests_to("submit")[0].json
    assert body["prompt"] == "at dusk" and body["size"] == "3:4"
    job = await atelier.wait_job(1, "delivered")
    assert job.member_id == atelier.studio.bob.id


async def test_a_message_deleted_while_its_modal_is_open_is_refused_and_nothing_is_called(
    atelier: Atelier,
) -> None:
    target = _painter_post(atelier, png(32, 32))
    rec = atelier.discord.message_command("Edit with Atelier", target)
    await rec.wait_response()
    atelier.discord.messages[target.id].deleted = True
    submit = atelier.discord.submit_modal(rec, {PROMPT_ID: "anything"})
    answer = await private_answer(atelier.discord, submit)
    assert answer.ephemeral and "no longer read that message" in answer.content
    await _nothing_happened(atelier)


async def test_the_tray_collects_two_messages_and_feeds_the_next_imagine(atelier: Atelier) -> None:
    guild, alice = atelier.studio.guild, atelier.studio.alice
    a, b, c = png(30, 30, (9, 9, 9)), png(31, 31, (8, 8, 8)), png(32, 32, (7, 7, 7))
    first = atelier.discord.post_message(
        atelier.studio.art, atelier.studio.bob, files=[Upload("a.png", a)]
    )
    second = _painter_post(atelier, b, embedded=c)
    added = atelier.discord.message_command("Add to references", first, member=alice)
    text = (await private_answer(atelier.discord, added)).content
    assert "1 of 16" in text and "<t:" in text
    added = atelier.discord.message_command("Add to references", second, member=alice)
    answer = await private_answer(atelier.discord, added)
    assert "3 of 16" in answer.content and "atelier:tray:clear" in answer.custom_ids()
    # /tray show lists them; nothing was sent anywhere yet.
    shown = await private_answer(atelier.discord, atelier.slash("tray show"))
    assert "a.png" in shown.content and "embedded.png" in shown.content
    assert atelier.toapis.requests == []
    # Another member's tray is their own.
    assert await atelier.bot.db.trays.items(guild.id, atelier.studio.bob.id) == []
    own = Upload("own.png", png(33, 33, (6, 6, 6)))
    rec = atelier.slash("imagine", {"prompt": "a collage", "image1": own})
    await atelier.result(rec)
    uploads = [u.files["file"].data for u in atelier.toapis.requests_to("upload")]
    assert uploads == [own.data, a, b, c]  # the attached image first, then the tray in order
    body = atelier.toapis.requests_to("submit")[0].json
    assert len(body["image_urls"]) == 4
    assert await atelier.bot.db.trays.items(guild.id, alice.id) == []  # emptied once accepted
    # The next /imagine is a plain one.
    again = atelier.slash("imagine", {"prompt": "plain"})
    await atelier.result(again)
    assert "image_urls" not in atelier.toapis.requests_to("submit")[1].json


async def test_the_tray_is_capped_at_the_models_limit(atelier: Atelier) -> None:
    guild, alice = atelier.studio.guild, atelier.studio.alice
    limit = await atelier.bot.tray.limit(guild.id)
    assert limit == 16  # the default model's most references
    pictures = [png(10 + n, 10) for n in range(limit + 2)]
    first = _painter_post(atelier, *pictures[:8])
    second = _painter_post(atelier, *pictures[8:])
    for msg in (first, second):
        rec = atelier.discord.message_command("Add to references", msg, member=alice)
        await private_answer(atelier.discord, rec)
    items = await atelier.bot.db.trays.items(guild.id, alice.id)
    assert len(items) == min(limit, len(pictures))
    full = atelier.discord.message_command("Add to references", first, member=alice)
    text = (await private_answer(atelier.discord, full)).content
    assert "full" in text and f"{limit} images" in text
    cleared = await private_answer(atelier.discord, atelier.slash("tray clear"))
    assert str(len(items)) in cleared.content
    assert await atelier.bot.db.trays.items(guild.id, alice.id) == []


async def test_an_expired_tray_is_refused_and_nothing_is_called(atelier: Atelier) -> None:
    clock = ManualClock(time.time(), speed=1.0)
    await atelier.restart(clock=clock)
    guild, alice = atelier.studio.guild, atelier.studio.alice
    target = _painter_post(atelier, png(30, 30))
    added = atelier.discord.message_command("Add to references", target, member=alice)
    await private_answer(atelier.discord, added)
    clock.advance(3601)  # an hour after the last addition
    rec = atelier.slash("imagine", {"prompt": "with my tray"})
    answer = await private_answer(atelier.discord, rec)
    assert rec.response_type == 4 and "expired" in answer.content
    await _nothing_happened(atelier)
    assert await atelier.bot.db.trays.items(guild.id, alice.id) == []
    # Told once: the same command now runs without the tray.
    await atelier.result(atelier.slash("imagine", {"prompt": "without"}))
    assert "image_urls" not in atelier.toapis.requests_to("submit")[0].json


async def test_a_chinese_member_reads_the_menus_replies_in_chinese(atelier: Atelier) -> None:
    alice = atelier.studio.alice
    words = atelier.discord.post_message(atelier.studio.art, atelier.studio.bob, "no pictures")
    rec = atelier.discord.message_command("Edit with Atelier", words, member=alice, locale="zh-CN")
    assert "没有" in (await private_answer(atelier.discord, rec)).content
    target = _painter_post(atelier, png(30, 30))
    added = atelier.discord.message_command(
        "Add to references", target, member=alice, locale="zh-CN"
    )
    assert "参考图托盘" in text_of(await private_answer(atelier.discord, added))
    modal = atelier.discord.message_command(
        "Edit with Atelier", target, member=alice, locale="zh-CN"
    )
    await modal.wait_response()
    assert modal.modal is not None and modal.modal["title"] == "用 Atelier 编辑"
    shown = await private_answer(atelier.discord, atelier.slash("tray show", locale="zh-CN"))
    assert "过期" in shown.content
