"""/healthz and /metrics on the real bot over the loopback Discord and the fake ToAPIs."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from bot.ops.logs import make_handler
from bot.ops.server import OpsServer, build_ops_server
from bot.runner import RedactSecrets
from tests.app.helpers import wait_settled
from tests.app.plugin import Atelier, png
from tests.fakes.discord import Upload, wait_until


@pytest_asyncio.fixture
async def ops(atelier: Atelier) -> AsyncIterator[OpsServer]:
    """The endpoint of the in-process bot, on a free port."""
    services = atelier.bot.services
    server = build_ops_server(
        atelier.settings,
        client=atelier.bot,
        db=services.db,
        engine=services.engine,
        metrics=services.metrics,
        port=0,
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def get(server: OpsServer, path: str) -> tuple[int, str, str]:
    """GET ``path``; return the status, the Content-Type and the body."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.url + path, timeout=aiohttp.ClientTimeout(total=10)) as resp,
    ):
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


async def health(server: OpsServer) -> tuple[int, dict[str, Any]]:
    status, ctype, body = await get(server, "/healthz")
    assert ctype.startswith("application/json")
    return status, json.loads(body)


async def wait_answer(
    ask: Callable[[], Awaitable[tuple[int, dict[str, Any]]]], status: int, timeout: float
) -> dict[str, Any]:
    """Ask (a /healthz request) until it answers ``status``; return that body."""
    last: tuple[int, dict[str, Any]] = (0, {})

    async def answered() -> dict[str, Any] | None:
        nonlocal last
        last = await ask()
        return last[1] if last[0] == status else None

    body: dict[str, Any] = await wait_until(
        answered,
        timeout=timeout,
        interval=0.05,
        what=lambda: f"/healthz stayed {last}, never {status}",
    )
    return body


async def wait_health(server: OpsServer, status: int, timeout: float = 20.0) -> dict[str, Any]:
    """Ask /healthz until it answers ``status``; return that body."""
    return await wait_answer(lambda: health(server), status, timeout)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics answer by (name, sorted labels), parsed by prometheus-client."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def scrape(server: OpsServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, ctype, body = await get(server, "/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    return samples(body)


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_healthz_is_ok_while_the_gateway_database_and_engine_are(
    atelier: Atelier, ops: OpsServer
) -> None:
    status, body = await health(ops)
    assert status == 200, body
    assert body["status"] == "ok" and body["failed"] == []
    assert body["checks"]["gateway"]["shards"] == {"0": "connected"}
    assert body["checks"]["database"]["ok"] and body["checks"]["engine"]["ok"]


async def test_healthz_fails_while_the_gateway_is_down_and_recovers_after(
    atelier: Atelier, ops: OpsServer
) -> None:
    await wait_health(ops, 200)
    fake = atelier.discord
    since = fake.mark()
    fake.hold_gateway()
    await fake.drop_connections(code=4000)
    body = await wait_health(ops, 503)
    assert body["status"] == "unhealthy" and body["failed"] == ["gateway"]
    assert body["checks"]["gateway"]["shards"] == {"0": "down"}
    # The reconnect is waiting in the handshake: the bot is really away, not just reconnecting.
    await fake.wait_for(lambda e: e.kind == "gateway.held", since=since, timeout=20)
    status, body = await health(ops)
    assert status == 503 and body["failed"] == ["gateway"]
    fake.release_gateway()
    await fake.wait_for(lambda e: e.kind == "gateway.resume" and e.ok, since=since, timeout=20)
    body = await wait_health(ops, 200)
    assert body["checks"]["gateway"]["shards"] == {"0": "connected"}
    # And it works again: a command is answered.
    rec = atelier.slash("imagine", {"prompt": "back online"})
    await atelier.result(rec)


async def test_healthz_fails_while_the_engine_is_stopped(atelier: Atelier, ops: OpsServer) -> None:
    await wait_health(ops, 200)
    await atelier.bot.engine.stop()
    status, body = await health(ops)
    assert status == 503 and body["failed"] == ["engine"]
    await atelier.bot.engine.start()
    status, body = await health(ops)
    assert status == 200, body


async def test_metrics_move_with_a_real_job(atelier: Atelier, ops: OpsServer) -> None:
    before = await scrape(ops)
    assert value(before, "atelier_jobs", state="delivered") == 0
    assert value(before, "atelier_gateway_connected", shard="0") == 1
    assert value(before, "atelier_deliveries_total", outcome="delivered") == 0
    # One status answer is a 429: the poller pauses and goes on.
    atelier.toapis.faults.add("rate_limit", endpoint="status", retry_after=1, times=1)
    rec = atelier.slash(
        "imagine", {"prompt": "a counted lighthouse", "image1": Upload("ref.png", png())}
    )
    await atelier.result(rec)
    job = await wait_settled(atelier, 1, "delivered")
    assert job.cost
    after = await scrape(ops)
    assert value(after, "atelier_jobs", state="delivered") == 1
    assert value(after, "atelier_jobs", state="pending") == 0
    assert value(after, "atelier_deliveries_total", outcome="delivered") == 1
    assert value(after, "atelier_deliveries_total", outcome="undeliverable") == 0
    assert value(after, "atelier_uploads_total", outcome="uploaded") == 1
    assert value(after, "atelier_toapis_requests_total", call="submit", code="200") == 1
    assert value(after, "atelier_toapis_requests_total", call="upload", code="200") == 1
    assert value(after, "atelier_toapis_requests_total", call="status", code="429") == 1
    assert value(after, "atelier_toapis_rate_limited_total", call="status") == 1
    assert value(after, "atelier_toapis_requests_total", call="status", code="200") >= 1
    assert value(after, "atelier_toapis_requests_total", call="download", code="200") >= 1
    assert value(after, "atelier_credits_total", action="reserved") == job.cost
    assert value(after, "atelier_credits_total", action="committed") == job.cost
    assert value(after, "atelier_credits_total", action="released") == 0
    assert value(after, "atelier_job_end_to_end_seconds_count") == 1
    assert value(after, "atelier_job_end_to_end_seconds_sum") > 0
    assert value(after, "atelier_task_detection_seconds_count") == 1
    assert value(after, "atelier_gateway_connected", shard="0") == 1
    assert ("atelier_gateway_latency_seconds", (("shard", "0"),)) in after
    assert value(after, "atelier_poll_budget_requests_per_second") > 0


async def test_a_failed_job_releases_its_credits_in_the_metrics(
    atelier: Atelier, ops: OpsServer
) -> None:
    atelier.toapis.script(outcome="failed")
    rec = atelier.slash("imagine", {"prompt": "this one fails"})
    await rec.wait_response()
    job = await wait_settled(atelier, 1, "failed")
    found = await scrape(ops)
    assert job.cost
    assert value(found, "atelier_jobs", state="failed") == 1
    assert value(found, "atelier_credits_total", action="reserved") == job.cost
    assert value(found, "atelier_credits_total", action="released") == job.cost
    assert value(found, "atelier_credits_total", action="committed") == 0
    assert value(found, "atelier_deliveries_total", outcome="delivered") == 0
    assert value(found, "atelier_job_end_to_end_seconds_count") == 0


async def test_two_bots_keep_separate_metrics(atelier: Atelier) -> None:
    from bot.ops.metrics import PrometheusMetrics

    other = PrometheusMetrics()
    atelier.bot.services.metrics.upload("uploaded")
    assert value(samples(other.render().decode()), "atelier_uploads_total", outcome="uploaded") == 0
    mine = samples(atelier.bot.services.metrics.render().decode())
    assert value(mine, "atelier_uploads_total", outcome="uploaded") == 1


async def test_json_log_lines_carry_the_job_server_and_interaction(atelier: Atelier) -> None:
    stream = io.StringIO()
    handler = make_handler("json", stream)
    secret = atelier.settings.discord_token.get_secret_value()
    handler.addFilter(RedactSecrets([secret, atelier.settings.toapis_api_key.get_secret_value()]))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        rec = atelier.slash("imagine", {"prompt": "logged lighthouse"})
        await atelier.result(rec)
        await wait_settled(atelier, 1, "delivered")
        logging.getLogger("bot.test").info("the token is %s", secret)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines and all({"time", "level", "logger", "message"} <= set(e) for e in lines)
    guild = atelier.studio.guild.id
    about_job = [e for e in lines if e.get("job_id") == 1]
    assert any("delivered" in e["message"] for e in about_job), lines
    assert any("submitted" in e["message"] for e in about_job), lines
    assert all(e.get("guild_id") == guild for e in about_job if "delivered" in e["message"])
    assert any(e.get("interaction_id") == int(rec.payload["id"]) for e in lines), lines
    assert secret not in stream.getvalue()
    assert any(e["message"] == "the token is <redacted>" for e in lines)
