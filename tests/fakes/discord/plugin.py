"""pytest fixtures for the loopback Discord: the fake, an in-process bot runner, a subprocess bot."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import discord
import discord.gateway
import discord.http
import pytest
from discord.ext import commands

from bot.discord_target import point_discord_at

from .server import FakeDiscord

REPO_ROOT = Path(__file__).resolve().parents[3]

BotSource = commands.Bot | Callable[[], Awaitable[commands.Bot]] | Callable[[], commands.Bot]


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A fresh loopback Discord on an ephemeral 127.0.0.1 port (no guilds yet)."""
    async with FakeDiscord() as fake:
        yield fake


async def _wait_ready(bot: commands.Bot, task: asyncio.Task[None], timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not bot.is_ready():
        if task.done():
            task.result()  # raises what start() raised
            raise RuntimeError("bot.start() returned before READY")
        if loop.time() > deadline:
            raise TimeoutError(f"bot not READY within {timeout}s")
        await asyncio.sleep(0.01)


_DISCORD_DIR = str(Path(discord.__file__).parent)


def _is_discord_task(task: asyncio.Task[Any]) -> bool:
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and code.co_filename.startswith(_DISCORD_DIR)


class BotRunner:
    """Run discord.py bots in this event loop against a fake; undo everything on ``aclose``."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self._saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
        self._running: list[tuple[commands.Bot, asyncio.Task[None]]] = []
        self._tasks_before = asyncio.all_tasks()

    async def __call__(
        self,
        source: BotSource,
        *,
        token: str | None = None,
        sync: bool = True,
        timeout: float = 10.0,
        guild_ready_timeout: float = 0.05,
    ) -> commands.Bot:
        """Start ``source`` (a bot, or a (coroutine) function building one), wait for READY.

        With ``sync`` the fixture syncs the tree (globally, and for each guild with guild
        commands) after READY, so commands exist on the fake whether or not the bot syncs itself.
        """
        point_discord_at(self.fake.api_base, self.fake.gateway_url)
        if isinstance(source, discord.Client):
            bot = source
        else:
            built = source()
            bot = await built if inspect.isawaitable(built) else built
        # READY waits this long after the last GUILD_CREATE (2 s by default): keep tests fast.
        bot._connection.guild_ready_timeout = guild_ready_timeout
        task = asyncio.create_task(bot.start(token or self.fake.token), name="fake-discord-bot")
        self._running.append((bot, task))
        await _wait_ready(bot, task, timeout)
        if sync:
            await bot.tree.sync()
            for guild in bot.guilds:
                if bot.tree.get_commands(guild=guild):
                    await bot.tree.sync(guild=guild)
        return bot

    async def stop(self, bot: commands.Bot) -> None:
        for entry in list(self._running):
            if entry[0] is bot:
                self._running.remove(entry)
                await self._stop(*entry)

    @staticmethod
    async def _stop(bot: commands.Bot, task: asyncio.Task[None]) -> None:
        await bot.close()
        try:
            await asyncio.wait_for(task, 5)
        except (Exception, asyncio.CancelledError):
            task.cancel()

    async def aclose(self) -> None:
        for bot, task in reversed(self._running):
            await self._stop(bot, task)
        self._running.clear()
        # Let callbacks scheduled by close() run, then cancel what the bots left behind
        # (command invocations still waiting, keep-alive helpers...).
        await asyncio.sleep(0)
        current = asyncio.current_task()
        leftovers = [
            t
            for t in asyncio.all_tasks() - self._tasks_before
            if t is not current and not t.done() and _is_discord_task(t)
        ]
        for t in leftovers:
            t.cancel()
        if leftovers:
            await asyncio.gather(*leftovers, return_exceptions=True)
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved


@pytest.fixture
async def run_discord_bot(fake_discord: FakeDiscord) -> AsyncIterator[BotRunner]:
    """``bot = await run_discord_bot(bot_or_factory)``: the bot logged into ``fake_discord``, READY, synced."""
    runner = BotRunner(fake_discord)
    try:
        yield runner
    finally:
        await runner.aclose()


class BotProcess:
    """A bot module run as ``python -m module`` against the fake, which tests can kill and restart."""

    def __init__(
        self, fake: FakeDiscord, module: str, env: dict[str, str] | None, log_path: Path
    ) -> None:
        self.fake = fake
        self.module = module
        self.extra_env = dict(env or {})
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DISCORD_API_BASE=self.fake.api_base,
            DISCORD_GATEWAY_URL=self.fake.gateway_url,
            DISCORD_TOKEN=self.fake.token,
            PYTHONUNBUFFERED="1",
            PYTHONPATH=os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p),
        )
        env.update(self.extra_env)
        return env

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.returncode

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def start(self, *, wait: bool = True, timeout: float = 30.0) -> BotProcess:
        if self.running:
            raise RuntimeError("already running")
        since = self.fake.mark()
        self.starts += 1
        log = self.log_path.open("ab")
        try:
            log.write(f"--- start #{self.starts}\n".encode())
            log.flush()
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                self.module,
                cwd=str(REPO_ROOT),
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        finally:
            log.close()
        if wait:
            await self.wait_connected(since=since, timeout=timeout)
        return self

    async def wait_connected(self, *, since: int = 0, timeout: float = 30.0) -> None:
        """Wait until this process identified and got READY + GUILD_CREATEs from the fake."""
        assert self.proc is not None
        ready = asyncio.ensure_future(
            self.fake.wait_for(lambda ev: ev.kind == "gateway.ready", since=since, timeout=timeout)
        )
        exited = asyncio.ensure_future(self.proc.wait())
        done, _ = await asyncio.wait({ready, exited}, return_when=asyncio.FIRST_COMPLETED)
        if ready in done:
            exited.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await exited
            ready.result()
            return
        ready.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await ready
        raise RuntimeError(f"bot process exited with {self.proc.returncode}:\n{self.output()}")

    async def kill(self) -> int:
        """SIGKILL: no chance to close the websocket or finish anything."""
        return await self._signal(signal.SIGKILL)

    async def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM, then wait (SIGKILL after ``timeout``)."""
        return await self._signal(signal.SIGTERM, timeout)

    async def _signal(self, sig: int, timeout: float = 10.0) -> int:
        if self.proc is None:
            raise RuntimeError("not started")
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        assert self.proc.returncode is not None
        return self.proc.returncode

    async def restart(self, *, kill: bool = True, timeout: float = 30.0) -> BotProcess:
        """Stop (SIGKILL by default, else SIGTERM) and start again, waiting for the new session."""
        if self.running:
            await (self.kill() if kill else self.terminate())
        return await self.start(timeout=timeout)


@pytest.fixture
async def spawn_discord_bot(
    fake_discord: FakeDiscord, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[BotProcess]]]:
    """``proc = await spawn_discord_bot("tests.fakes.discord.minibot", env={...})``."""
    procs: list[BotProcess] = []

    async def spawn(
        module: str, *, env: dict[str, str] | None = None, wait: bool = True, timeout: float = 30.0
    ) -> BotProcess:
        proc = BotProcess(fake_discord, module, env, tmp_path / f"bot-{len(procs)}.log")
        procs.append(proc)
        return await proc.start(wait=wait, timeout=timeout)

    try:
        yield spawn
    finally:
        for proc in procs:
            if proc.running:
                await proc.kill()


__all__: list[Any] = [
    "BotProcess",
    "BotRunner",
    "fake_discord",
    "run_discord_bot",
    "spawn_discord_bot",
]
