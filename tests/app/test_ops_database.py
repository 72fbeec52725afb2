"""/healthz follows the database: a bot on PostgreSQL behind a TCP proxy that can be cut."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest_asyncio

from bot.ops.server import OpsServer, build_ops_server
from tests.app.plugin import Studio, atelier_env, atelier_settings, start_atelier
from tests.app.test_ops import health, wait_health
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.plugin import BotRunner
from tests.fakes.toapis import FakeToAPIs
from tests.storage.backends import fresh_postgres_url


class CuttableProxy:
    """A TCP proxy on 127.0.0.1 in front of the database server; ``cut()`` is an outage.

    Cut: every open connection is reset and new ones are reset as they arrive, as when the
    database host goes away; ``restore()`` lets connections through again.
    """

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()
        self.up = True
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    def cut(self) -> None:
        self.up = False
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    def restore(self) -> None:
        self.up = True

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._open |= {writer, up_writer}
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._open.discard(dst)
            with contextlib.suppress(Exception):
                dst.transport.abort()


@pytest_asyncio.fixture
async def proxied_postgres() -> AsyncIterator[tuple[str, CuttableProxy]]:
    """A fresh PostgreSQL schema reached through a ``CuttableProxy``: (URL, proxy)."""
    async with fresh_postgres_url() as url:
        parts = urlsplit(url)
        assert parts.hostname is not None and parts.port is not None
        proxy = CuttableProxy(parts.hostname, parts.port)
        await proxy.start()
        userinfo = parts.netloc.rsplit("@", 1)[0]
        proxied = urlunsplit(parts._replace(netloc=f"{userinfo}@127.0.0.1:{proxy.port}"))
        try:
            yield proxied, proxy
        finally:
            await proxy.close()


async def test_healthz_fails_while_the_database_is_gone_and_recovers_after(
    fake_discord: FakeDiscord,
    atelier_toapis: FakeToAPIs,
    atelier_studio: Studio,
    run_discord_bot: BotRunner,
    tmp_path: Path,
    proxied_postgres: tuple[str, CuttableProxy],
) -> None:
    url, proxy = proxied_postgres
    env = atelier_env(fake_discord, atelier_toapis, tmp_path) | {"DATABASE_URL": url}
    settings = atelier_settings(env)
    async with contextlib.AsyncExitStack() as stack:
        bot = await start_atelier(run_discord_bot, settings, stack)
        services = bot.services
        server: OpsServer = build_ops_server(
            settings,
            client=bot,
            db=services.db,
            engine=services.engine,
            metrics=services.metrics,
            port=0,
        )
        await server.start()
        stack.push_async_callback(server.stop)
        await wait_health(server, 200)
        proxy.cut()
        body = await wait_health(server, 503)
        assert body["failed"] == ["database"], body
        assert body["checks"]["gateway"]["ok"] and body["checks"]["engine"]["ok"]
        assert "postgresql://" not in str(body)  # never the URL (it holds the password)
        proxy.restore()
        body = await wait_health(server, 200)
        assert body["checks"]["database"] == {"ok": True}
        status, _ = await health(server)
        assert status == 200
