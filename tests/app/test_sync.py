"""Command sync: dev servers at start-up, globally only when the tree changed, or on `sync`."""

from __future__ import annotations

from pathlib import Path

from bot.app.client import SYNC_HASH_KEY, AtelierBot, AutoShardedAtelierBot, create_bot
from bot.app.services import build_services
from tests.app.plugin import Atelier, atelier_env, atelier_settings
from tests.cli import run_bot_async
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.plugin import REPO_ROOT
from tests.fakes.toapis import FakeToAPIs


def _global_syncs(fake: FakeDiscord) -> int:
    return len(
        [
            e
            for e in fake.events
            if e.kind == "commands.sync" and e.ok and e.meta.get("guild_id") is None
        ]
    )


async def test_global_sync_only_when_the_tree_changed(atelier: Atelier) -> None:
    names = {name for name, _ in atelier.discord.commands[None]}
    assert {"imagine", "edit", "jobs"} <= names
    bot = atelier.bot
    assert await bot.sync_commands() is False  # unchanged since the start-up sync
    before = _global_syncs(atelier.discord)
    assert _global_syncs(atelier.discord) == before
    await bot.db.meta.set(SYNC_HASH_KEY, "an older tree", now=0)
    assert await bot.sync_commands() is True  # the tree changed: synced once more
    assert _global_syncs(atelier.discord) == before + 1
    assert await bot.db.meta.get(SYNC_HASH_KEY) == bot.tree_hash()
    assert await bot.sync_commands(force_global=True) is True


async def test_dev_guilds_get_the_commands_at_start_up(
    fake_discord: FakeDiscord,
    atelier_toapis: FakeToAPIs,
    atelier_studio: object,
    run_discord_bot: object,
    tmp_path: Path,
) -> None:
    env = atelier_env(fake_discord, atelier_toapis, tmp_path)
    guild_id = atelier_studio.guild.id  # type: ignore[attr-defined]
    env["DEV_GUILD_IDS"] = str(guild_id)
    settings = atelier_settings(env)
    async with build_services(settings) as services:
        bot = await run_discord_bot(lambda: create_bot(settings, services), sync=False)  # type: ignore[operator]
        try:
            assert ("imagine", 1) in fake_discord.commands[guild_id]
        finally:
            await run_discord_bot.stop(bot)  # type: ignore[attr-defined]
    assert ("imagine", 1) in fake_discord.commands[guild_id]
    assert ("imagine", 1) in fake_discord.commands[None]


def test_shard_count_switches_to_the_auto_sharded_bot(atelier: Atelier) -> None:
    services = atelier.bot.services
    plain = create_bot(atelier.settings, services)
    assert type(plain) is AtelierBot
    sharded = create_bot(atelier.settings.model_copy(update={"shard_count": 2}), services)
    assert isinstance(sharded, AutoShardedAtelierBot) and sharded.shard_count == 2


async def test_python_m_bot_sync_syncs_globally_and_exits(
    fake_discord: FakeDiscord, atelier_toapis: FakeToAPIs, tmp_path: Path
) -> None:
    code, out = await run_bot_async(
        ["sync"], atelier_env(fake_discord, atelier_toapis, tmp_path), REPO_ROOT, timeout=30
    )
    assert code == 0, out
    assert "synced" in out
    assert ("imagine", 1) in fake_discord.commands[None]
    assert not [e for e in fake_discord.events if e.kind == "gateway.identify"]  # no gateway needed
    assert fake_discord.token not in out
