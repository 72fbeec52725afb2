"""Scale out: a bot runs some of the shards, a worker runs none, processes take turns identifying."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot.app.client import create_bot
from bot.app.services import build_services
from bot.config import Settings
from tests.app.helpers import private_answer
from tests.app.plugin import atelier_env, atelier_settings, start_atelier
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.plugin import BotProcess, BotRunner
from tests.fakes.toapis import FakeToAPIs
from tests.storage.backends import fresh_postgres_url

from .plugin import Atelier


def _settings(fake: FakeDiscord, toapis: FakeToAPIs, tmp_path: Path, **env: str) -> Settings:
    return atelier_settings({**atelier_env(fake, toapis, tmp_path), **env})


async def test_a_bot_with_two_of_four_shards_serves_exactly_their_servers(
    fake_discord: FakeDiscord,
    atelier_toapis: FakeToAPIs,
    run_discord_bot: BotRunner,
    tmp_path: Path,
) -> None:
    fake_discord.max_concurrency = 2  # shards 0 and 1 are in different identify buckets
    servers = {
        shard: fake_discord.add_guild(
            f"Studio {shard}", channels=["art"], members=["alice"], shard=(shard, 4)
        )
        for shard in range(4)
    }
    settings = _settings(fake_discord, atelier_toapis, tmp_path, SHARD_COUNT="4", SHARD_IDS="0,1")
    async with contextlib.AsyncExitStack() as stack:
        bot = await start_atelier(run_discord_bot, settings, stack)

        assert fake_discord.connected_shards == {0: 4, 1: 4}  # two gateway sessions, no more
        assert sorted(ev.meta["shard"] for ev in fake_discord.identifies) == [(0, 4), (1, 4)]
        assert {g.id for g in bot.guilds} == {servers[0].id, servers[1].id}
        for shard in (0, 1):
            server = servers[shard]
            rec = fake_discord.slash(
                "jobs list",
                guild=server,
                channel=server.channel("art"),
                member=server.member("alice"),
            )
            answer = await private_answer(fake_discord, rec)
            assert "no unfinished jobs" in answer.content
        with pytest.raises(RuntimeError, match="shard"):  # no process of ours serves shard 2
            fake_discord.slash("jobs list", guild=servers[2], member=servers[2].member("alice"))


async def test_two_processes_on_one_postgresql_identify_one_bucket_at_a_time(
    fake_discord: FakeDiscord,
    atelier_toapis: FakeToAPIs,
    run_discord_bot: BotRunner,
    tmp_path: Path,
) -> None:
    fake_discord.max_concurrency = 1  # every shard is in bucket 0: one identify per 5 s
    for shard in range(2):
        fake_discord.add_guild(f"Studio {shard}", members=["alice"], shard=(shard, 2))
    async with fresh_postgres_url() as url, contextlib.AsyncExitStack() as stack:
        bots = []
        for shard in range(2):
            settings = _settings(
                fake_discord,
                atelier_toapis,
                tmp_path / str(shard),
                DATABASE_URL=url,
                SHARD_COUNT="2",
                SHARD_IDS=str(shard),
            )
            services = await stack.enter_async_context(build_services(settings))
            bots.append(create_bot(settings, services))
            stack.push_async_callback(run_discord_bot.stop, bots[-1])
        # Both processes start at once; the second waits for the bucket the first holds.
        await asyncio.gather(*(run_discord_bot(bot, sync=False, timeout=30) for bot in bots))

        assert sorted(ev.meta["shard"] for ev in fake_discord.identifies) == [(0, 2), (1, 2)]
        assert fake_discord.identify_violations(window=5.0) == []
        first, second = fake_discord.identifies
        assert second.monotonic - first.monotonic >= 5.0
        assert fake_discord.connected_shards == {0: 2, 1: 2}


async def test_a_worker_connects_no_gateway_but_delivers_a_result(atelier: Atelier) -> None:
    atelier.toapis.script(queue_s=3600, run_s=1)  # queued at the image service until we say
    rec = atelier.slash("imagine", {"prompt": "a lighthouse at dusk"})
    await atelier.wait_job(1, "submitted", "running")
    await atelier.runner.stop(atelier.bot)  # the gateway process goes away
    await atelier.stack.aclose()

    worker_settings = atelier.settings.model_copy(update={"shard_ids": []})  # SHARD_IDS=none
    since = atelier.discord.mark()
    async with build_services(worker_settings) as services:
        worker = create_bot(worker_settings, services)
        assert worker.worker
        stop = asyncio.Event()
        serving = asyncio.create_task(
            worker.serve_without_gateway(worker_settings.discord_token.get_secret_value(), stop)
        )
        try:
            atelier.toapis.advance(3600)  # the image is ready
            result = await atelier.result(rec)
            assert result.attachments and "a lighthouse at dusk" in str(result.embeds)
            deadline = time.monotonic() + 20
            while (job := await services.engine.get(1)) is None or job.state.value != "delivered":
                assert time.monotonic() < deadline, job
                await asyncio.sleep(0.02)  # the delivered write follows the edit
        finally:
            stop.set()
            await asyncio.wait_for(serving, 10)
            await worker.close()

    later = [ev.kind for ev in atelier.discord.events[since:]]
    assert "gateway.identify" not in later and "gateway.url" not in later  # never connected
    assert "commands.sync" not in later  # a worker leaves the commands alone
    assert "webhook.edit" in later  # the result went over REST


async def test_python_m_bot_with_shard_ids_none_delivers_and_stops_on_sigterm(
    atelier: Atelier, spawn_discord_bot: Callable[..., Awaitable[BotProcess]], tmp_path: Path
) -> None:
    atelier.toapis.script(queue_s=3600, run_s=1)
    rec = atelier.slash("imagine", {"prompt": "a worker's lighthouse"})
    await atelier.wait_job(1, "submitted", "running")
    await atelier.runner.stop(atelier.bot)
    await atelier.stack.aclose()

    since = atelier.discord.mark()
    env = {**atelier_env(atelier.discord, atelier.toapis, tmp_path), "SHARD_IDS": "none"}
    proc = await spawn_discord_bot("bot", env=env, wait=False)
    atelier.toapis.advance(3600)
    result = await atelier.result(rec, timeout=30)
    assert result.attachments, proc.output()
    assert await proc.terminate() == 0, proc.output()
    assert "job worker running" in proc.output()
    later = [ev.kind for ev in atelier.discord.events[since:]]
    assert "gateway.identify" not in later and "commands.sync" not in later
