"""Channel messages at the fake: nonce + enforce_nonce, history pages, answers that never come.

Discord's Create Message: "If [enforce_nonce is] true and nonce is present, it will be checked
for uniqueness in the past few minutes. If another message was created by the same author with
the same nonce, that message will be returned and no new message will be created."
"""

from __future__ import annotations

import asyncio

import aiohttp
import discord
import pytest
from discord.http import Route

from .conftest import build_bot
from .model import Guild
from .server import FakeDiscord


async def _general(run_discord_bot, studio: Guild) -> tuple[discord.Client, discord.TextChannel]:
    bot = await run_discord_bot(build_bot())
    channel = bot.get_channel(studio.channel("general").id)
    assert isinstance(channel, discord.TextChannel)
    return bot, channel


async def test_a_repeated_nonce_returns_the_first_message(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    _, channel = await _general(run_discord_bot, studio)
    first = await channel.send("once", nonce="job:1")
    again = await channel.send("once more", nonce="job:1")
    assert again.id == first.id and again.content == "once"
    assert [m.content for m in fake_discord.channel_messages(studio.channel("general"))] == ["once"]
    creates = fake_discord.events_of("message.create", ok=True)
    assert [e.meta.get("nonce_reused", False) for e in creates] == [False, True]
    assert creates[0].payload["enforce_nonce"] is True  # discord.py sets it with a nonce
    other = await channel.send("another", nonce="job:2")
    assert other.id != first.id


async def test_a_nonce_is_per_author_not_per_channel(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    bot, channel = await _general(run_discord_bot, studio)
    gallery = bot.get_channel(studio.channel("gallery").id)
    assert isinstance(gallery, discord.TextChannel)
    first = await channel.send("here", nonce="same")
    elsewhere = await gallery.send("there", nonce="same")
    # Discord speaks of "the same author" only: a nonce must be unique across channels.
    assert elsewhere.id == first.id
    assert fake_discord.channel_messages(studio.channel("gallery")) == []


async def test_without_enforce_nonce_a_repeat_posts_again(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    bot, channel = await _general(run_discord_bot, studio)
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel.id)
    for _ in range(2):
        await bot.http.request(route, json={"content": "twice", "nonce": "n"})
    assert len(fake_discord.channel_messages(studio.channel("general"))) == 2


async def test_the_nonce_window_runs_on_the_fake_clock(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    fake_discord.nonce_window = 100.0
    _, channel = await _general(run_discord_bot, studio)
    first = await channel.send("a", nonce="w")
    fake_discord.clock.advance(90)
    assert (await channel.send("b", nonce="w")).id == first.id
    fake_discord.clock.advance(20)  # 110 s after the first: the nonce is forgotten
    later = await channel.send("c", nonce="w")
    assert later.id != first.id
    assert (await channel.send("d", nonce="w")).id == later.id  # remembered from the new one
    assert [m.content for m in fake_discord.channel_messages(studio.channel("general"))] == [
        "a",
        "c",
    ]


async def test_a_deleted_message_does_not_answer_for_its_nonce(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    _, channel = await _general(run_discord_bot, studio)
    first = await channel.send("gone soon", nonce="d")
    await first.delete()
    again = await channel.send("back", nonce="d")
    assert again.id != first.id and again.content == "back"


async def test_a_nonce_longer_than_25_characters_is_refused(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    _, channel = await _general(run_discord_bot, studio)
    with pytest.raises(discord.HTTPException) as info:
        await channel.send("x", nonce="n" * 26)
    assert (info.value.status, info.value.code) == (400, 50035)
    assert "nonce" in str(fake_discord.events_of("message.create")[-1].error)
    await channel.send("x", nonce="n" * 25)


async def test_history_pages_like_discord_and_hides_nonces(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    _, channel = await _general(run_discord_bot, studio)
    sent = [await channel.send(f"m{i}", nonce=f"h{i}") for i in range(5)]
    assert sent[0].nonce == "h0"  # the create answer echoes it
    newest = [m async for m in channel.history(limit=2)]
    assert [m.content for m in newest] == ["m4", "m3"]
    after = [m async for m in channel.history(limit=10, after=sent[1])]
    assert [m.content for m in after] == ["m2", "m3", "m4"]  # oldest first
    first_two_after = [m async for m in channel.history(limit=2, after=sent[0])]
    assert [m.content for m in first_two_after] == ["m1", "m2"]
    before = [m async for m in channel.history(limit=10, before=sent[2])]
    assert [m.content for m in before] == ["m1", "m0"]
    assert all(m.nonce is None for m in after + before + newest)  # fetched again: no nonce


async def test_a_withheld_answer_comes_after_the_message_was_created(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    _, channel = await _general(run_discord_bot, studio)
    rule = fake_discord.withhold_response("message.create", mode="hang")
    sending = asyncio.ensure_future(channel.send("in flight", nonce="crash:1"))
    event = await fake_discord.wait_for(lambda e: e.meta.get("withheld") == "hang")
    assert event.message is not None and event.message.content == "in flight"
    assert not sending.done()
    sending.cancel()  # the sender dies waiting
    with pytest.raises(asyncio.CancelledError):
        await sending
    assert rule.hits == [event] and rule.times == 0
    # The one message exists; the sender, back, gets it for the same nonce.
    again = await channel.send("in flight", nonce="crash:1")
    assert again.id == event.message.id
    assert len(fake_discord.channel_messages(studio.channel("general"))) == 1
    fake_discord.release_withheld()


async def test_a_dropped_connection_loses_the_answer_not_the_message(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    _, channel = await _general(run_discord_bot, studio)
    fake_discord.withhold_response(
        "message.create", mode="drop", when=lambda e: e.payload.get("content") == "lost"
    )
    with pytest.raises((aiohttp.ClientError, OSError)):
        await channel.send("lost", nonce="drop:1")
    messages = fake_discord.channel_messages(studio.channel("general"))
    assert [m.content for m in messages] == ["lost"]
    assert (await channel.send("lost", nonce="drop:1")).id == messages[0].id
    await channel.send("unaffected")  # the rule matched once
    assert len(fake_discord.channel_messages(studio.channel("general"))) == 2
