"""Fixtures that run the real Atelier bot against the loopback Discord and the fake ToAPIs.

* ``atelier_toapis`` — a fake ToAPIs whose clock runs at real speed; tasks take
  ``queue_s=0.2, run_s=0.5`` by default.
* ``atelier_studio`` — the server: channels ``art`` and ``general``, members ``alice`` and ``bob``,
  and ``mod`` (a role with Manage Messages).
* ``atelier`` — the real bot in this process (temporary database and data directory), READY
  and synced; ``atelier.bot`` is the ``AtelierBot``. ``atelier.restart()`` stops it and starts a
  new one on the same database.
* ``atelier_process`` — the real bot as a subprocess (``python -m bot``) that tests can kill
  and restart (``atelier_process.proc``).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from PIL import Image

from bot.app.client import AtelierBot, create_bot
from bot.app.services import build_services
from bot.clock import ManualClock
from bot.config import Settings, load_settings
from bot.jobs.records import Job
from tests.fakes.discord import FakeDiscord, Guild, InteractionRecord, Member, Message
from tests.fakes.discord.model import MANAGE_MESSAGES
from tests.fakes.discord.plugin import BotProcess, BotRunner
from tests.fakes.toapis import FakeToAPIs
from tests.fakes.toapis_model import TaskScript

FAST = TaskScript(queue_s=0.2, run_s=0.5, result_shape="result.images")


def png(
    width: int = 64, height: int = 48, colour: tuple[int, ...] = (200, 30, 90), mode: str = "RGB"
) -> bytes:
    """Return PNG bytes of a flat image."""
    buf = io.BytesIO()
    Image.new(mode, (width, height), colour).save(buf, format="PNG")
    return buf.getvalue()


def image_bytes(width: int, height: int, fmt: str, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    colour: tuple[int, ...] = (10, 120, 200, 255) if mode == "RGBA" else (10, 120, 200)
    Image.new(mode, (width, height), colour).save(buf, format=fmt)
    return buf.getvalue()


@dataclass
class Studio:
    """The test server and its people."""

    guild: Guild
    alice: Member
    bob: Member
    mod: Member

    @property
    def art(self) -> Any:
        return self.guild.channel("art")


@pytest_asyncio.fixture
async def atelier_toapis() -> AsyncIterator[FakeToAPIs]:
    """A fake ToAPIs on a clock running at real speed, with fast tasks."""
    fake = FakeToAPIs(clock=ManualClock(time.time(), speed=1.0), default_script=FAST)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


@pytest.fixture
def atelier_studio(fake_discord: FakeDiscord) -> Studio:
    """A server with #art and #general, members alice, bob and mod (Manage Messages)."""
    guild = fake_discord.add_guild(
        "Studio", channels=["art", "general"], members=["alice", "bob", "mod"]
    )
    mods = guild.add_role("mods", permissions=MANAGE_MESSAGES)
    guild.member("mod").roles.append(mods)
    return Studio(guild, guild.member("alice"), guild.member("bob"), guild.member("mod"))


def atelier_env(fake_discord: FakeDiscord, toapis: FakeToAPIs, tmp_path: Path) -> dict[str, str]:
    """The environment of a bot process pointed at the fakes."""
    return {
        "DISCORD_TOKEN": fake_discord.token,
        "TOAPIS_API_KEY": toapis.api_key,
        "TOAPIS_BASE_URL": toapis.base_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'atelier.db'}",
        "DATA_DIR": str(tmp_path / "data"),
        "DISCORD_API_BASE": fake_discord.api_base,
        "DISCORD_GATEWAY_URL": fake_discord.gateway_url,
        "POLL_MIN_INTERVAL_SECONDS": "0.05",
        "POLL_MAX_INTERVAL_SECONDS": "0.25",
        "HTTP_MAX_RETRIES": "1",
        "LOG_LEVEL": "INFO",
        "DEV_GUILD_IDS": "",
    }


@dataclass
class Atelier:
    """The running in-process bot and what it talks to."""

    discord: FakeDiscord
    toapis: FakeToAPIs
    studio: Studio
    settings: Settings
    runner: BotRunner
    bot: AtelierBot
    stack: contextlib.AsyncExitStack
    factory_kwargs: dict[str, Any] = field(default_factory=dict)

    def slash(
        self,
        command: str,
        options: dict[str, Any] | None = None,
        *,
        member: Member | None = None,
        **kw: Any,
    ) -> InteractionRecord:
        return self.discord.slash(
            command,
            options,
            guild=self.studio.guild,
            channel=kw.pop("channel", self.studio.art),
            member=member or self.studio.alice,
            **kw,
        )

    async def result(self, rec: InteractionRecord, timeout: float = 20.0) -> Message:
        """Wait until the response shows the result images."""
        return await rec.wait_original(lambda m: bool(m.attachments), timeout=timeout)

    async def job(self, job_id: int) -> Job:
        job = await self.bot.engine.get(job_id)
        assert job is not None
        return job

    async def wait_job(self, job_id: int, *states: str, timeout: float = 10.0) -> Job:
        """Wait until the job is in one of ``states`` (default: any final state)."""
        wanted = set(states or ("delivered", "failed", "cancelled"))
        deadline = time.monotonic() + timeout
        while True:
            job = await self.bot.engine.get(job_id)
            if job is not None and job.state.value in wanted:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} is {job and job.state.value}, not {wanted}")
            await asyncio.sleep(0.02)

    async def restart(self, **kwargs: Any) -> AtelierBot:
        """Stop the bot (state stays in the database) and start a new one."""
        await self.runner.stop(self.bot)
        await self.stack.aclose()
        self.stack = contextlib.AsyncExitStack()
        self.bot = await start_atelier(
            self.runner, self.settings, self.stack, **{**self.factory_kwargs, **kwargs}
        )
        return self.bot


async def start_atelier(
    runner: BotRunner, settings: Settings, stack: contextlib.AsyncExitStack, **kwargs: Any
) -> AtelierBot:
    """Build the services (closed by ``stack``) and run the bot on them until READY."""
    service_keys = {"clock", "policy", "charge"}
    services = await stack.enter_async_context(
        build_services(settings, **{k: v for k, v in kwargs.items() if k in service_keys})
    )
    bot_kwargs = {k: v for k, v in kwargs.items() if k not in service_keys}
    bot = await runner(lambda: create_bot(settings, services, **bot_kwargs))
    # The bot stops before its services close (the stack runs after runner.stop / aclose).
    stack.push_async_callback(runner.stop, bot)
    return bot  # type: ignore[return-value]


class DatabaseWrites:
    """See, from a connection of its own, whether anything was committed to the bot's database.

    SQLite's ``PRAGMA data_version`` changes when another connection commits, whatever driver
    it uses; reading it is synchronous, so it can be sampled inside a fake-Discord event.
    """

    def __init__(self, settings: Settings) -> None:
        path = settings.database_url.removeprefix("sqlite:///")
        self._conn = sqlite3.connect(path, isolation_level=None)
        self._base = self._version()

    def _version(self) -> int:
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def mark(self) -> None:
        """Forget what was written so far."""
        self._base = self._version()

    def written(self) -> bool:
        """Whether a commit happened since the last ``mark``."""
        return self._version() != self._base

    def close(self) -> None:
        self._conn.close()


async def written_before_ack(
    fake: FakeDiscord, watch: DatabaseWrites, send: Callable[[], InteractionRecord]
) -> tuple[InteractionRecord, bool]:
    """Send an interaction; return it and whether the database was written before its callback."""
    since = fake.mark()
    watch.mark()
    rec = send()
    seen: list[bool] = []

    def at_callback(ev: Any) -> bool:
        if ev.kind == "interaction.callback" and ev.interaction is rec:
            seen.append(watch.written())  # sampled before the bot hears the answer
            return True
        return False

    await fake.wait_for(at_callback, since=since, timeout=10)
    return rec, seen[0]


def atelier_settings(env: dict[str, str]) -> Settings:
    return load_settings(**{k.lower(): v for k, v in env.items() if v != ""})


@pytest_asyncio.fixture
async def atelier(
    fake_discord: FakeDiscord,
    atelier_toapis: FakeToAPIs,
    atelier_studio: Studio,
    run_discord_bot: BotRunner,
    tmp_path: Path,
) -> AsyncIterator[Atelier]:
    """The real Atelier bot in this process, READY and synced, on a temporary database."""
    settings = atelier_settings(atelier_env(fake_discord, atelier_toapis, tmp_path))
    stack = contextlib.AsyncExitStack()
    atelier: Atelier | None = None
    try:
        bot = await start_atelier(run_discord_bot, settings, stack)
        atelier = Atelier(
            fake_discord, atelier_toapis, atelier_studio, settings, run_discord_bot, bot, stack
        )
        yield atelier
    finally:
        # restart() replaces the stack: close whichever is current.
        await (atelier.stack if atelier is not None else stack).aclose()


@dataclass
class AtelierProcess:
    """The real bot as a subprocess."""

    discord: FakeDiscord
    toapis: FakeToAPIs
    studio: Studio
    proc: BotProcess
    env: dict[str, str]


@pytest_asyncio.fixture
async def atelier_process(
    fake_discord: FakeDiscord,
    atelier_toapis: FakeToAPIs,
    atelier_studio: Studio,
    spawn_discord_bot: Callable[..., Awaitable[BotProcess]],
    tmp_path: Path,
) -> AtelierProcess:
    """``python -m bot`` against the fakes; kill and restart it through ``.proc``."""
    env = atelier_env(fake_discord, atelier_toapis, tmp_path)
    proc = await spawn_discord_bot("bot", env=env)
    # The bot syncs its commands in setup_hook, before it connects to the gateway.
    assert fake_discord.commands.get(None), proc.output()
    return AtelierProcess(fake_discord, atelier_toapis, atelier_studio, proc, env)
