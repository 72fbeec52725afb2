"""Message context-menu commands (type 3) and messages by members or other bots."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import discord
from discord import app_commands

from .conftest import build_bot, png_bytes
from .model import Guild, Upload
from .server import FakeDiscord


def _menu_bot(seen: asyncio.Future[dict[str, Any]], **names: Any) -> Any:
    async def look(interaction: discord.Interaction, message: discord.Message) -> None:
        seen.set_result(
            {
                "id": message.id,
                "author": (message.author.id, message.author.bot),
                "attachments": [(a.filename, a.content_type, a.url) for a in message.attachments],
                "embeds": [
                    (e.image.url if e.image else None, e.thumbnail.url if e.thumbnail else None)
                    for e in message.embeds
                ],
                "locale": interaction.locale,
                "user": interaction.user.id,
                "channel": interaction.channel_id,
            }
        )
        await interaction.response.send_message("looked", ephemeral=True)

    menu = app_commands.ContextMenu(name="Look At This", callback=look, **names)
    return build_bot(setup=lambda bot: bot.tree.add_command(menu))


async def test_a_message_command_reaches_the_context_menu_with_the_whole_message(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    seen: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    await run_discord_bot(_menu_bot(seen))
    (synced,) = [c for (name, kind), c in fake_discord.commands[None].items() if kind == 3]
    assert synced["name"] == "Look At This" and synced["type"] == 3
    other_bot = studio.add_member("painter", bot=True)
    alice = studio.member("alice")
    general = studio.channel("general")
    picture, thumb = png_bytes(8, 6), png_bytes(4, 4, (0, 0, 255))
    target = fake_discord.post_message(
        general,
        other_bot,
        "made this",
        files=[Upload("one.png", picture)],
        embed_images=[Upload("embedded.png", picture)],
        embed_thumbnails=[Upload("thumb.png", thumb)],
    )
    rec = fake_discord.message_command("Look At This", target, member=alice, locale="zh-CN")
    got = await asyncio.wait_for(seen, 5)
    assert got["id"] == target.id and got["author"] == (other_bot.id, True)
    assert got["attachments"] == [("one.png", "image/png", target.attachments[0].url)]
    image_url = target.embeds[0]["image"]["url"]
    assert got["embeds"] == [(image_url, None), (None, target.embeds[1]["thumbnail"]["url"])]
    assert got["locale"] == discord.Locale.chinese and got["user"] == alice.id
    assert got["channel"] == general.id
    assert rec.data["type"] == 3 and rec.data["target_id"] == str(target.id)
    assert (await rec.wait_original()).ephemeral
    # Everything the message shows is served by the fake CDN.
    async with aiohttp.ClientSession() as http:
        for url, expected in ((target.attachments[0].url, picture), (image_url, picture)):
            async with http.get(url) as resp:
                assert resp.status == 200 and await resp.read() == expected


async def test_menu_names_with_spaces_and_localizations_sync_and_bad_ones_are_refused(
    fake_discord: FakeDiscord,
) -> None:
    async with aiohttp.ClientSession() as http:
        url = f"{fake_discord.api_base}/applications/{fake_discord.application_id}/commands"
        headers = {"Authorization": f"Bot {fake_discord.token}"}
        good = [
            {
                "type": 3,
                "name": "Edit With Me",
                "description": "",
                "name_localizations": {"zh-CN": "用我 编辑"},
            }
        ]
        async with http.put(url, json=good, headers=headers) as resp:
            assert resp.status == 200
        assert ("Edit With Me", 3) in fake_discord.commands[None]
        bad_cases = [
            [{"type": 1, "name": "Edit With Me", "description": "x"}],  # slash: no spaces
            [{"type": 3, "name": "x" * 33, "description": ""}],  # too long
            [{"type": 3, "name": "ok", "description": "", "name_localizations": {"zh-CN": ""}}],
            [{"type": 3, "name": "ok", "description": "", "options": [{"type": 3, "name": "a"}]}],
        ]
        for bad in bad_cases:
            async with http.put(url, json=bad, headers=headers) as resp:
                assert resp.status == 400, bad
                assert (await resp.json())["code"] == 50035


async def test_a_message_command_not_synced_or_on_a_deleted_message_is_not_sent(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    seen: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    await run_discord_bot(_menu_bot(seen))
    general = studio.channel("general")
    msg = fake_discord.post_message(general, studio.member("alice"), "hi")
    try:
        fake_discord.message_command("Not A Menu", msg)
    except LookupError:
        pass
    else:
        raise AssertionError("an unknown menu must not be sent")
    msg.deleted = True
    try:
        fake_discord.message_command("Look At This", msg)
    except LookupError:
        pass
    else:
        raise AssertionError("a deleted message has no menu")
    assert not seen.done()
