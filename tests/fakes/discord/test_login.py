"""Login, READY / GUILD_CREATE, command sync, heartbeats and resume against the fake."""

from __future__ import annotations

import discord
import discord.gateway
import discord.http
import pytest
from discord.ext import commands

from .model import SEND_MESSAGES
from .server import FakeDiscord


def _bot(cls: type[commands.Bot] = commands.Bot, **kw) -> commands.Bot:
    intents = discord.Intents.default()
    intents.members = True
    bot = cls(command_prefix="!", intents=intents, **kw)

    @bot.tree.command(description="Say hi")
    async def hello(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("hi")

    return bot


@pytest.mark.parametrize("cls", [commands.Bot, commands.AutoShardedBot])
async def test_login_ready_and_guild_create(
    fake_discord: FakeDiscord, run_discord_bot, cls
) -> None:
    guild = fake_discord.add_guild("Studio", channels=["general", "gallery"], members=["alice"])
    artists = guild.add_role("artists", permissions=SEND_MESSAGES)
    guild.member("alice").roles.append(artists)

    bot = await run_discord_bot(_bot(cls))

    assert bot.user is not None and bot.user.id == fake_discord.bot_user.id
    assert bot.application_id == fake_discord.application_id
    assert [g.id for g in bot.guilds] == [guild.id]
    dguild = bot.get_guild(guild.id)
    assert dguild is not None and dguild.name == "Studio"
    assert sorted(c.name for c in dguild.text_channels) == ["gallery", "general"]
    assert {r.name for r in dguild.roles} >= {"@everyone", "artists", "Atelier"}
    assert dguild.me is not None and dguild.me.id == bot.user.id
    alice = dguild.get_member(guild.member("alice").id)
    assert alice is not None and artists.id in [r.id for r in alice.roles]
    me = dguild.me.guild_permissions
    assert me.send_messages and me.attach_files and not me.administrator
    kinds = [e.kind for e in fake_discord.events]
    assert kinds.index("login") < kinds.index("application") < kinds.index("gateway.identify")
    if cls is commands.AutoShardedBot:
        assert fake_discord.events_of("gateway.url")
        assert bot.shard_count == 1
        assert fake_discord.events_of("gateway.identify")[0].payload["shard"] == [0, 1]
    # Route.BASE and DEFAULT_GATEWAY point at the fake while the bot runs
    assert discord.http.Route.BASE == fake_discord.api_base


async def test_runner_accepts_a_coroutine_factory(
    fake_discord: FakeDiscord, run_discord_bot
) -> None:
    guild = fake_discord.add_guild("Factory")

    async def build() -> commands.Bot:
        # Built after the patches are applied, as the real bot would be.
        assert discord.http.Route.BASE == fake_discord.api_base
        return _bot()

    bot = await run_discord_bot(build)
    assert bot.get_guild(guild.id) is not None
    assert ("hello", 1) in fake_discord.commands[None]
    assert (await fake_discord.slash("hello", guild=guild).wait_original()).content == "hi"
    await run_discord_bot.stop(bot)
    assert bot.is_closed()


async def test_wrong_token_is_rejected(fake_discord: FakeDiscord, run_discord_bot) -> None:
    with pytest.raises(discord.LoginFailure):
        await run_discord_bot(_bot(), token="not-the-token")


async def test_patches_restored_after_teardown() -> None:
    # Runs after the tests above: the in-process runner restored discord.py's defaults.
    assert discord.http.Route.BASE == "https://discord.com/api/v10"
    assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == "wss://gateway.discord.gg/"
