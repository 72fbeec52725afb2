"""Several shards over several gateway connections: guilds are routed by their id."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from .conftest import build_bot
from .model import shard_of
from .server import FakeDiscord


@app_commands.command(description="Which shard answers")
async def where(interaction: discord.Interaction) -> None:
    shards = getattr(interaction.client, "shard_ids", None)
    await interaction.response.send_message(f"shards {shards}")


def _sharded(shard_id: int, count: int) -> commands.Bot:
    bot = build_bot(where, cls=commands.AutoShardedBot)
    bot.shard_count, bot.shard_ids = count, [shard_id]
    return bot


async def test_each_guild_is_served_by_the_process_of_its_shard(
    fake_discord: FakeDiscord, run_discord_bot
) -> None:
    fake_discord.max_concurrency = 2  # shards 0 and 1 are in different identify buckets
    first = fake_discord.add_guild("First", shard=(0, 2))
    second = fake_discord.add_guild("Second", shard=(1, 2))
    assert (shard_of(first.id, 2), shard_of(second.id, 2)) == (0, 1)
    bot0 = await run_discord_bot(_sharded(0, 2))
    bot1 = await run_discord_bot(_sharded(1, 2), sync=False)

    assert [g.id for g in bot0.guilds] == [first.id]  # READY and GUILD_CREATE of its shard only
    assert [g.id for g in bot1.guilds] == [second.id]
    assert fake_discord.connected_shards == {0: 2, 1: 2}
    assert [ev.meta["shard"] for ev in fake_discord.identifies] == [(0, 2), (1, 2)]
    assert len({ev.meta["connection"] for ev in fake_discord.identifies}) == 2
    for guild in (first, second):
        rec = fake_discord.slash("where", guild=guild)
        msg = await rec.wait_original(lambda m: bool(m.content))
        assert msg.content == f"shards [{shard_of(guild.id, 2)}]"  # the right process answered
    assert fake_discord.identify_violations() == []  # different buckets may identify together


async def test_gateway_bot_reports_max_concurrency_and_same_bucket_identifies_are_caught(
    fake_discord: FakeDiscord, run_discord_bot
) -> None:
    fake_discord.max_concurrency = 1
    bot0 = await run_discord_bot(_sharded(0, 2), sync=False)
    limits = await bot0.fetch_session_start_limits()  # GET /gateway/bot
    assert limits.max_concurrency == 1
    fake_discord.max_concurrency = 16
    assert (await bot0.fetch_session_start_limits()).max_concurrency == 16
    fake_discord.max_concurrency = 1
    # Two processes each identifying their first shard at once share bucket 0: too soon.
    await run_discord_bot(_sharded(1, 2), sync=False)
    ((before, after),) = fake_discord.identify_violations()
    assert (before.meta["shard"], after.meta["shard"]) == ((0, 2), (1, 2))
