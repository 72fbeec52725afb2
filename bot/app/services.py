"""The composition root: every long-lived service, built and closed in one place.

``async with build_services(settings) as services:`` opens, in order: the database, the one
aiohttp session, the ToAPIs client and its cached-upload image service, quotas / server
settings / policy (``bot.moderation``), a REST-only Discord client for delivery (logged in,
never connected to the gateway), the Discord delivery with its gallery, the job engine and
the generation service (and the database's identify gate). On leaving (also on errors half-way) everything opened is closed in
reverse order. The gateway bot (``bot.app.client.AtelierBot``) receives the built services.

Constructor calls of the collaborators live in this file only, so a change of one of them is
adapted here.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import discord

from bot.app.delivery import DiscordDelivery
from bot.app.gallery import GalleryPoster
from bot.app.languages import ServerLanguages
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.discord_target import point_discord_at
from bot.generation import GenerationService
from bot.identify import IdentifyGate
from bot.jobs.engine import Engine, EngineConfig
from bot.jobs.hooks import ChargeHook
from bot.jobs.strategy import AdaptiveStrategy
from bot.jobs.toapis_service import ToAPIsService
from bot.jobs.upload_cache import CachedUploads
from bot.moderation import Moderation, build_moderation
from bot.ops.metrics import PrometheusMetrics
from bot.ops.seams import DeliveredLatency, ObservedCharge, ObservedDelivery, ObservedImageService
from bot.policy import GenerationPolicy, GuildDefaults
from bot.service_health import HealthDelivery, ServiceHealth
from bot.storage import Database, open_database
from bot.storage.url import parse_database_url
from bot.toapis import ClientTimeouts, RetryPolicy, ToAPIsClient
from bot.toapis.catalog import use_catalog

log = logging.getLogger(__name__)

__all__ = [
    "Services",
    "build_services",
    "config_defaults",
    "engine_config",
    "open_rest_client",
    "poll_strategy",
]


def engine_config(settings: Settings) -> EngineConfig:
    """Map the settings onto the engine's knobs."""
    return EngineConfig(
        data_dir=settings.data_dir,
        poll_rate=settings.poll_budget_rps,
        poll_rate_max=settings.poll_budget_max_rps,
        time_limit=settings.task_timeout_seconds,
        time_limit_4k=settings.task_timeout_4k_seconds,
        max_result_bytes=settings.max_result_bytes,
        lease_seconds=settings.job_lease_seconds,
        # SQLite is one process's database; PostgreSQL may be shared by several processes.
        exclusive=parse_database_url(settings.database_url).backend == "sqlite",
    )


def poll_strategy(settings: Settings) -> AdaptiveStrategy:
    """The adaptive poller, bounded by the configured shortest and longest wait."""
    low = settings.poll_min_interval_seconds
    high = max(settings.poll_max_interval_seconds, low)
    return AdaptiveStrategy(min_gap=low, max_gap=high, overdue_gap=min(3.0, high))


def config_defaults(settings: Settings) -> GuildDefaults:
    """The generation defaults from the configuration (a policy may override per server)."""
    return GuildDefaults(
        model=settings.default_model,
        size=settings.default_size,
        resolution=settings.default_resolution,
        quality=settings.default_quality,
        max_count=settings.max_images_per_request,
    )


@dataclass(frozen=True)
class Services:
    """What the bot and its cogs use; built by ``build_services``."""

    settings: Settings
    clock: Clock
    db: Database
    session: aiohttp.ClientSession
    toapis: ToAPIsClient
    moderation: Moderation
    languages: ServerLanguages
    policy: GenerationPolicy
    charge: ChargeHook
    rest: discord.Client
    delivery: DiscordDelivery
    engine: Engine
    generation: GenerationService
    #: Who may identify on the gateway now, shared with every process on the database.
    identify: IdentifyGate
    #: This bot's metrics (its own registry); served on /metrics when METRICS_PORT is set.
    metrics: PrometheusMetrics
    #: The image service's recent health in this process (``/status``).
    health: ServiceHealth


async def open_rest_client(settings: Settings) -> discord.Client:
    """Log a discord.py client in for REST calls only (no gateway connection)."""
    point_discord_at(settings.discord_api_base, None)
    client = discord.Client(
        intents=discord.Intents.none(), allowed_mentions=discord.AllowedMentions.none()
    )
    try:
        await client.login(settings.discord_token.get_secret_value())
    except BaseException:
        await client.close()
        raise
    return client


def _toapis_client(
    settings: Settings, session: aiohttp.ClientSession, metrics: PrometheusMetrics
) -> ToAPIsClient:
    return ToAPIsClient(
        session,
        base_url=settings.toapis_base_url,
        api_key=settings.toapis_api_key,
        timeouts=ClientTimeouts(
            request=settings.http_timeout_seconds,
            upload=settings.upload_timeout_seconds,
            download=settings.download_timeout_seconds,
        ),
        retry=RetryPolicy(max_retries=settings.http_max_retries),
        observer=metrics,
    )


@contextlib.asynccontextmanager
async def build_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    policy: GenerationPolicy | None = None,
    charge: ChargeHook | None = None,
) -> AsyncIterator[Services]:
    """Open and wire every service; close them in reverse order on leaving.

    ``policy`` and ``charge`` replace the server policy and the quota service (tests, other
    deployments); by default both come from ``bot.moderation``.
    """
    clock = clock or SystemClock()
    metrics = PrometheusMetrics()
    # The model catalog (MODELS_FILE, validated with the settings) is the process's from here.
    use_catalog(settings.models)
    log.info("model catalog %s: %s", settings.models.source, ", ".join(settings.models.models))
    async with contextlib.AsyncExitStack() as stack:
        db = await open_database(settings.database_url)
        stack.push_async_callback(db.close)
        moderation = build_moderation(settings, db, clock=clock, operator=config_defaults(settings))
        health = ServiceHealth(clock=clock)
        # The trace records only answers to ToAPIs API calls (not Discord attachments).
        session = aiohttp.ClientSession(
            trace_configs=[health.trace_config(settings.toapis_base_url)]
        )
        stack.push_async_callback(session.close)
        toapis = _toapis_client(settings, session, metrics)
        service = CachedUploads(
            ObservedImageService(
                ToAPIsService(toapis, download_timeout=settings.download_timeout_seconds),
                metrics,
                clock=clock,
            ),
            db.uploads,
            clock=clock,
        )
        rest = await open_rest_client(settings)
        stack.push_async_callback(rest.close)
        strategy = poll_strategy(settings)
        # Typical durations come from the poll strategy's model, which the engine adopts, so
        # delivery never needs the engine.
        languages = ServerLanguages(rest, moderation.settings, clock=clock)
        delivery = DiscordDelivery(
            rest,
            languages=languages,
            extras=db.job_discord,
            queue=db.jobs,
            durations=strategy.durations,
            clock=clock,
        )
        # The gallery is a listener: the engine calls it after the delivered write, outside the
        # delivery slots, and again after a crash before it finished (it is idempotent).
        gallery = GalleryPoster(rest, moderation.settings, clock=clock, languages=languages)
        chosen_charge = charge or moderation.quotas
        # The engine's ports are counted (bot.ops.seams); the services keep the unwrapped ones.
        engine = Engine(
            db.jobs,
            db.durations,
            service,
            ObservedDelivery(HealthDelivery(delivery, health), metrics),
            listeners=(gallery, health, DeliveredLatency(metrics, clock=clock)),
            config=engine_config(settings),
            clock=clock,
            charge=ObservedCharge(chosen_charge, metrics),
            strategy=strategy,
        )
        # The engine may have been started by the bot; stopping a stopped engine is harmless.
        stack.push_async_callback(_stop_engine, engine)
        chosen_policy = policy or moderation.policy
        generation = GenerationService(
            engine.submit, db.job_discord, chosen_policy, data_dir=settings.data_dir, clock=clock
        )
        yield Services(
            settings=settings,
            clock=clock,
            db=db,
            session=session,
            toapis=toapis,
            moderation=moderation,
            languages=languages,
            policy=chosen_policy,
            charge=chosen_charge,
            rest=rest,
            delivery=delivery,
            engine=engine,
            generation=generation,
            identify=db.identify,
            metrics=metrics,
            health=health,
        )


async def _stop_engine(engine: Engine) -> None:
    try:
        await engine.stop(grace=5.0)
    except Exception:
        log.exception("stopping the job engine failed")
