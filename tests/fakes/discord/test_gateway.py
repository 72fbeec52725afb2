"""Gateway behaviour: heartbeats, resume after a drop, replay of missed events, a killed bot process."""

from __future__ import annotations

import asyncio
import math
import os

import discord
from discord import app_commands

from . import wait_until
from .conftest import build_bot
from .minibot import render_png
from .model import Guild
from .server import FakeDiscord


@app_commands.command(description="Ping")
async def ping(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("pong")


async def test_heartbeats_are_acknowledged(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    fake_discord.heartbeat_interval = 0.05
    bot = await run_discord_bot(build_bot(ping))
    since = fake_discord.mark()
    for _ in range(3):
        ev = await fake_discord.wait_for(
            lambda e: e.kind == "gateway.heartbeat", since=since, timeout=3
        )
        since = ev.seq + 1
    # discord.py only computes a latency once it received a HEARTBEAT_ACK
    assert math.isfinite(bot.latency) and bot.latency < 1
    hb = fake_discord.events_of("gateway.heartbeat")
    assert hb[-1].payload is not None and hb[-1].payload >= 1  # the sequence number it last saw


async def test_resume_after_dropped_websocket_replays_missed_events(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    resumed = asyncio.Event()

    def setup(bot: discord.ext.commands.Bot) -> None:
        async def on_resumed() -> None:
            resumed.set()

        bot.add_listener(on_resumed)

    bot = await run_discord_bot(build_bot(ping, setup=setup))
    identify_count = len(fake_discord.events_of("gateway.identify"))
    session_id = bot.ws.session_id
    since = fake_discord.mark()
    await fake_discord.drop_connections(code=4000)
    await fake_discord.wait_for(lambda e: e.kind == "gateway.disconnect", since=since)
    # sent while the bot is away: buffered in the session, replayed on RESUME
    rec = fake_discord.slash("ping", guild=studio)
    ev = await fake_discord.wait_for(lambda e: e.kind == "gateway.resume", since=since, timeout=5)
    assert ev.ok and ev.meta["session_id"] == session_id and ev.meta["replayed"] >= 1
    assert (await rec.wait_original()).content == "pong"
    await asyncio.wait_for(resumed.wait(), 2)
    assert (
        len(fake_discord.events_of("gateway.identify")) == identify_count
    )  # resumed, not re-identified
    assert bot.ws.session_id == session_id
    # the resume went to READY's resume_gateway_url, i.e. the fake
    assert str(bot.ws.gateway).startswith(fake_discord.gateway_url.rstrip("/"))


async def test_resume_after_abrupt_drop_and_reconnect_opcode(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    bot = await run_discord_bot(build_bot(ping))
    since = fake_discord.mark()
    await fake_discord.drop_connections(abort=True)
    await fake_discord.wait_for(
        lambda e: e.kind == "gateway.resume" and e.ok, since=since, timeout=5
    )
    since = fake_discord.mark()
    fake_discord.send_reconnect()
    await fake_discord.wait_for(
        lambda e: e.kind == "gateway.resume" and e.ok, since=since, timeout=5
    )
    assert (await fake_discord.slash("ping", guild=studio).wait_original()).content == "pong"
    assert bot.is_ready()


async def test_subprocess_bot_killed_and_restarted_button_still_works(
    fake_discord: FakeDiscord, spawn_discord_bot, studio: Guild
) -> None:
    proc = await spawn_discord_bot("tests.fakes.discord.minibot")
    assert {name for name, _ in fake_discord.commands[None]} == {"render", "panel"}

    rec = fake_discord.slash("render", {"prompt": "a lighthouse"}, guild=studio)
    msg = await rec.wait_original(timeout=10)
    assert rec.response_type == 5 and msg.content == "rendered: a lighthouse"
    assert msg.attachments[0].data == render_png("a lighthouse")
    assert msg.attachments[0].width == 32

    panel = await fake_discord.slash("panel", {"job": 42}, guild=studio).wait_original(timeout=10)
    assert panel.custom_ids() == ["minibot:job:42"]
    first_pid = proc.pid

    since = fake_discord.mark()
    assert await proc.kill() == -9
    await fake_discord.wait_for(lambda e: e.kind == "gateway.disconnect", since=since, timeout=5)
    assert not fake_discord.connected

    await proc.restart()
    assert proc.pid != first_pid and proc.starts == 2
    click = fake_discord.click(panel, "minibot:job:42", member=studio.member("alice"))
    await click.wait_response(timeout=10)
    assert click.response_type == 7
    assert panel.content == f"job 42 clicked by alice (pid {proc.pid})"
    assert os.getpid() != proc.pid

    since = fake_discord.mark()
    assert await proc.terminate() == 0  # SIGTERM: the bot closes its websocket and exits cleanly
    await fake_discord.wait_for(lambda e: e.kind == "gateway.disconnect", since=since, timeout=5)
    assert proc.output().count("has connected to Gateway") == 2


async def test_a_servers_new_language_reaches_the_guild_cache_and_rest(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    bot = await run_discord_bot(build_bot(ping))
    cached = bot.get_guild(studio.id)
    assert cached is not None and cached.preferred_locale is discord.Locale.american_english
    updates: list[tuple[discord.Guild, discord.Guild]] = []

    async def on_guild_update(before: discord.Guild, after: discord.Guild) -> None:
        updates.append((before, after))

    bot.add_listener(on_guild_update)

    studio.set_locale("zh-CN")  # GUILD_UPDATE

    await wait_until(lambda: bool(updates))
    before, after = updates[0]
    assert before.preferred_locale is discord.Locale.american_english
    assert after.preferred_locale is discord.Locale.chinese
    assert bot.get_guild(studio.id) is cached and cached.preferred_locale is discord.Locale.chinese
    assert cached.name == "Studio" and cached.get_channel(studio.channel("general").id) is not None
    fetched = await bot.fetch_guild(studio.id)
    assert fetched.preferred_locale is discord.Locale.chinese
