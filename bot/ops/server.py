"""The operations endpoint (``METRICS_PORT``): ``/healthz`` and ``/metrics`` over aiohttp.

It runs in the bot's own event loop, started and stopped with the bot by the runner
(``ops_endpoint``). ``/healthz`` answers 200 or 503 with a small JSON body naming the failed
checks (``bot.ops.health``); ``/metrics`` refreshes the present-state gauges (jobs by state
from the database, gateway shards, the poll budget) and answers the Prometheus text format.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import discord
from aiohttp import web

from bot.config import Settings
from bot.jobs.engine import Engine
from bot.ops.health import PING_KEY, HealthChecks, ShardState, gateway_shards
from bot.ops.metrics import CONTENT_TYPE, PrometheusMetrics
from bot.storage import Database

log = logging.getLogger(__name__)

__all__ = ["OpsServer", "build_ops_server", "ops_endpoint"]


class OpsServer:
    """An aiohttp site serving ``/healthz`` and ``/metrics``."""

    def __init__(
        self,
        health: HealthChecks,
        metrics: PrometheusMetrics,
        refresh: Callable[[], Awaitable[None]],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.health = health
        self.metrics = metrics
        self._refresh = refresh
        self.host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._app = app

    @property
    def port(self) -> int:
        """Return the port listened on (the real one when 0 was asked for)."""
        return self._port

    @property
    def url(self) -> str:
        """Return the base URL, e.g. ``http://127.0.0.1:9108``."""
        return f"http://{self.host}:{self._port}"

    async def start(self) -> None:
        """Listen on ``host:port``."""
        runner = web.AppRunner(self._app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self._port = int(sockets[0].getsockname()[1])
        log.info("health and metrics on http://%s:%d (/healthz, /metrics)", self.host, self._port)

    async def stop(self) -> None:
        """Stop listening."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        report = await self.health.run()
        return web.json_response(report.to_json(), status=200 if report.ok else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        await self._refresh()
        response = web.Response(body=self.metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response


def build_ops_server(
    settings: Settings,
    *,
    client: discord.Client,
    db: Database,
    engine: Engine,
    metrics: PrometheusMetrics,
    port: int | None = None,
) -> OpsServer:
    """Wire the checks and gauges to the live bot, database and engine."""
    shards: Callable[[], list[ShardState]] | None = None
    if not settings.gateway_worker:
        shard_ids = list(settings.shard_ids or range(settings.shard_count or 1))
        shards = lambda: gateway_shards(client, shard_ids)  # noqa: E731

    async def ping() -> None:
        await db.meta.get(PING_KEY)

    async def refresh() -> None:
        counts: dict[str, int] | None
        try:
            found = await asyncio.wait_for(db.jobs.count_by_state(), health.db_timeout)
            counts = {state.value: n for state, n in found.items()}
        except Exception as exc:  # a scrape still answers: the job gauges keep their last value
            log.info("metrics: could not count jobs (%s)", type(exc).__name__)
            counts = None
        states = shards() if shards is not None else []
        metrics.refresh(
            jobs_by_state=counts,
            shards=[(s.shard, s.connected, s.latency) for s in states],
            poll_budget=engine.poller.budget.rate,
        )

    health = HealthChecks(shards=shards, ping_database=ping, engine_running=lambda: engine.running)
    return OpsServer(
        health,
        metrics,
        refresh,
        host=settings.metrics_host,
        port=port if port is not None else settings.metrics_port or 0,
    )


@contextlib.asynccontextmanager
async def ops_endpoint(
    settings: Settings,
    *,
    client: discord.Client,
    db: Database,
    engine: Engine,
    metrics: PrometheusMetrics,
) -> AsyncIterator[OpsServer | None]:
    """Serve ``/healthz`` and ``/metrics`` while inside, if ``METRICS_PORT`` is set."""
    if settings.metrics_port is None:
        yield None
        return
    server = build_ops_server(settings, client=client, db=db, engine=engine, metrics=metrics)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
