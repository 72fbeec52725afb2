"""``python -m bot`` with METRICS_PORT and LOG_FORMAT=json, as a container would run it."""

from __future__ import annotations

import json
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from tests.app.plugin import Studio, atelier_env
from tests.app.test_ops import samples, value, wait_answer
from tests.cli import run_bot_async
from tests.fakes.discord import FakeDiscord, wait_until
from tests.fakes.discord.plugin import BotProcess
from tests.fakes.toapis import FakeToAPIs

REPO = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def healthz(port: int) -> tuple[int, dict[str, Any]]:
    """Ask the process's /healthz; (0, {}) while nothing listens."""
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/healthz") as resp,
        ):
            return resp.status, await resp.json()
    except aiohttp.ClientConnectionError:
        return 0, {}


async def wait_healthz(port: int, status: int, timeout: float = 30.0) -> dict[str, Any]:
    return await wait_answer(lambda: healthz(port), status, timeout)


async def probe(port: int) -> tuple[int, str]:
    """Run the image's health check command, ``python -m bot healthcheck``."""
    # METRICS_HOST as in the image: the check still asks over loopback.
    env = {"METRICS_PORT": str(port), "METRICS_HOST": "0.0.0.0"}
    return await run_bot_async(["healthcheck"], env, REPO)


async def test_the_process_serves_healthz_and_metrics_and_logs_json_lines(
    fake_discord: FakeDiscord,
    atelier_toapis: FakeToAPIs,
    atelier_studio: Studio,
    spawn_discord_bot: Callable[..., Awaitable[BotProcess]],
    tmp_path: Path,
) -> None:
    port = free_port()
    env = atelier_env(fake_discord, atelier_toapis, tmp_path) | {
        "METRICS_PORT": str(port),
        "LOG_FORMAT": "json",
    }
    proc = await spawn_discord_bot("bot", env=env)
    await wait_healthz(port, 200)
    code, out = await probe(port)
    assert code == 0, out

    rec = fake_discord.slash(
        "imagine",
        {"prompt": "a process lighthouse"},
        guild=atelier_studio.guild,
        channel=atelier_studio.art,
        member=atelier_studio.alice,
    )
    await rec.wait_original(lambda m: bool(m.attachments), timeout=30)

    async def delivered() -> dict[Any, float] | None:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/metrics") as resp,
        ):
            found = samples(await resp.text())
        return found if value(found, "atelier_jobs", state="delivered") == 1 else None

    found = await wait_until(
        delivered, timeout=20, interval=0.05, what="no delivered job in /metrics"
    )
    assert value(found, "atelier_deliveries_total", outcome="delivered") == 1

    since = fake_discord.mark()
    fake_discord.hold_gateway()
    await fake_discord.drop_connections(code=4000)
    body = await wait_healthz(port, 503)
    assert body["failed"] == ["gateway"]
    code, out = await probe(port)
    assert code == 1 and "gateway" in out, out
    fake_discord.release_gateway()
    await fake_discord.wait_for(lambda e: e.kind == "gateway.resume", since=since, timeout=30)
    await wait_healthz(port, 200)

    assert await proc.terminate() == 0
    lines = [
        line
        for line in proc.output().splitlines()
        if line.strip() and not line.startswith("--- start")
    ]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    assert any(e.get("job_id") == 1 and "delivered" in e["message"] for e in entries), lines
    assert any(e.get("guild_id") == atelier_studio.guild.id for e in entries)
    assert any("health and metrics on" in e["message"] for e in entries)
    output = proc.output()
    assert fake_discord.token not in output and atelier_toapis.api_key not in output
