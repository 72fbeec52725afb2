"""The discord.py bot: wiring of database, HTTP session, ToAPIs client, engine, cogs and sync.

Plug-in points (for quotas and server settings):

* ``AtelierBot(settings, policy=..., charge=...)`` — a ``bot.policy.GenerationPolicy`` (checks
  and per-server defaults) and a ``bot.jobs.hooks.ChargeHook`` (reserve / commit / release);
  the defaults allow everything and charge nothing.
* ``EXTENSIONS`` — the cogs loaded at start-up; pass ``extensions=(*EXTENSIONS, "cogs.quota")``
  or extend the tuple.
* After ``setup_hook``: ``bot.db`` (the open ``Database``), ``bot.session`` (the one aiohttp
  session), ``bot.engine``, ``bot.generation`` (``GenerationService``), ``bot.delivery``,
  ``bot.settings``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

import aiohttp
import discord
from discord.ext import commands

from bot.app.delivery import DiscordDelivery
from bot.app.errors import AtelierTree
from bot.app.flow import GenerationFlow
from bot.app.gallery import GalleryDelivery
from bot.app.views import DYNAMIC_ITEMS
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.generation import GenerationService
from bot.jobs.engine import Engine, EngineConfig
from bot.jobs.hooks import ChargeHook, NoCharge
from bot.jobs.strategy import AdaptiveStrategy
from bot.jobs.toapis_service import ToAPIsService
from bot.jobs.upload_cache import CachedUploads
from bot.moderation import Moderation, build_moderation
from bot.policy import GenerationPolicy, GuildDefaults, PermissivePolicy
from bot.storage import Database, open_database
from bot.toapis import ClientTimeouts, RetryPolicy, ToAPIsClient

log = logging.getLogger(__name__)

__all__ = [
    "EXTENSIONS",
    "AtelierBot",
    "AutoShardedAtelierBot",
    "config_defaults",
    "create_bot",
    "engine_config",
    "poll_strategy",
]

#: Extensions loaded at start-up, in order.
EXTENSIONS: tuple[str, ...] = ("cogs.imagine", "cogs.jobs", "cogs.quota", "cogs.settings")
#: ``bot_meta`` key of the hash of the last globally synced command tree.
SYNC_HASH_KEY = "commands.global_hash"


def engine_config(settings: Settings) -> EngineConfig:
    """Map the settings onto the engine's knobs."""
    return EngineConfig(
        data_dir=settings.data_dir,
        poll_rate=settings.poll_budget_rps,
        time_limit=settings.task_timeout_seconds,
        time_limit_4k=settings.task_timeout_4k_seconds,
        max_result_bytes=settings.max_result_bytes,
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


class AtelierBot(commands.Bot):
    """Atelier on discord.py: slash commands, result buttons, the job engine."""

    def __init__(
        self,
        settings: Settings,
        *,
        policy: GenerationPolicy | None = None,
        charge: ChargeHook | None = None,
        extensions: Sequence[str] = EXTENSIONS,
        sync_only: bool = False,
        engine_clock: Clock | None = None,
        **options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=AtelierTree,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.settings = settings
        self.policy: GenerationPolicy = policy or PermissivePolicy(config_defaults(settings))
        self.charge: ChargeHook = charge or NoCharge()
        # Left out: quotas and server settings (bot.moderation) are used once the database is open.
        self._own_policy = policy is None
        self._own_charge = charge is None
        self.moderation: Moderation
        self.extension_names: tuple[str, ...] = tuple(extensions)
        self.sync_only = sync_only
        self.engine_clock = engine_clock or SystemClock()
        self.accepting = False
        self._closing = False
        self._engine_started = False
        self.session: aiohttp.ClientSession
        self.db: Database
        self.engine: Engine
        self.generation: GenerationService
        self.delivery: DiscordDelivery
        self.flow = GenerationFlow(self)

    # -- start-up -----------------------------------------------------------------------------

    async def setup_hook(self) -> None:
        settings = self.settings
        self.db = await open_database(settings.database_url)
        self.moderation = build_moderation(
            settings, self.db, clock=self.engine_clock, operator=config_defaults(settings)
        )
        if self._own_policy:
            self.policy = self.moderation.policy
        if self._own_charge:
            self.charge = self.moderation.quotas
        self.session = aiohttp.ClientSession()
        client = ToAPIsClient(
            self.session,
            base_url=settings.toapis_base_url,
            api_key=settings.toapis_api_key,
            timeouts=ClientTimeouts(
                request=settings.http_timeout_seconds,
                upload=settings.upload_timeout_seconds,
                download=settings.download_timeout_seconds,
            ),
            retry=RetryPolicy(max_retries=settings.http_max_retries),
        )
        service = CachedUploads(
            ToAPIsService(client, download_timeout=settings.download_timeout_seconds),
            self.db.uploads,
            clock=self.engine_clock,
        )
        self.delivery = DiscordDelivery(self, self.db)
        self.engine = Engine(
            self.db.jobs,
            self.db.durations,
            service,
            GalleryDelivery(self.delivery, self, self.moderation.settings),
            config=engine_config(settings),
            clock=self.engine_clock,
            charge=self.charge,
            strategy=poll_strategy(settings),
        )
        self.delivery.engine = self.engine
        self.generation = GenerationService(
            self.engine.submit,
            self.db.job_discord,
            self.policy,
            data_dir=settings.data_dir,
            clock=self.engine_clock,
        )
        self.add_dynamic_items(*DYNAMIC_ITEMS)
        for name in self.extension_names:
            await self.load_extension(name)
        await self.sync_commands(force_global=self.sync_only)
        if self.sync_only:
            return
        removed = self.generation.prune_references()
        pruned = await self.db.uploads.prune(older_than=self.engine_clock.now() - 7 * 24 * 3600)
        log.info("pruned %d old reference files and %d upload cache entries", removed, pruned)
        await self.engine.start()
        self._engine_started = True
        self.accepting = True

    def tree_hash(self) -> str:
        """A hash of the global command tree as Discord would receive it."""
        payload = [cmd.to_dict(self.tree) for cmd in self.tree.get_commands()]
        payload.sort(key=lambda c: (str(c.get("name")), int(c.get("type", 1))))
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    async def sync_commands(self, *, force_global: bool = False) -> bool:
        """Sync to the dev guilds; globally only if the tree changed (or forced). True if global."""
        for guild_id in self.settings.dev_guild_ids:
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            try:
                await self.tree.sync(guild=guild)
                log.info("commands synced to dev server %d", guild_id)
            except discord.HTTPException as exc:
                log.error("could not sync commands to server %d (HTTP %s)", guild_id, exc.status)
        digest = self.tree_hash()
        if not force_global and await self.db.meta.get(SYNC_HASH_KEY) == digest:
            log.info("global commands unchanged since the last sync")
            return False
        try:
            await self.tree.sync()
        except discord.HTTPException as exc:
            if force_global:
                raise
            log.error("could not sync global commands (HTTP %s); will retry next start", exc.status)
            return False
        await self.db.meta.set(SYNC_HASH_KEY, digest, now=self.engine_clock.now())
        log.info("global commands synced")
        return True

    async def on_ready(self) -> None:
        log.info(
            "connected as %s (id %s) to %d servers",
            self.user,
            self.user and self.user.id,
            len(self.guilds),
        )

    # -- shutdown -----------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop taking commands, stop the engine (state stays in the database), disconnect."""
        if self._closing:
            return await super().close()
        self._closing = True
        self.accepting = False
        engine = getattr(self, "engine", None)
        if engine is not None and self._engine_started:
            try:
                await engine.stop(grace=5.0)
            except Exception:
                log.exception("stopping the job engine failed")
        try:
            await super().close()
        finally:
            session = getattr(self, "session", None)
            if session is not None and not session.closed:
                await session.close()
            db = getattr(self, "db", None)
            if db is not None:
                await db.close()
        log.info("Atelier stopped")


class AutoShardedAtelierBot(AtelierBot, commands.AutoShardedBot):
    """The same bot over several gateway shards (``SHARD_COUNT``)."""


def create_bot(settings: Settings, **kwargs: Any) -> AtelierBot:
    """Build the bot the settings ask for: sharded when ``SHARD_COUNT`` is set."""
    if settings.shard_count:
        return AutoShardedAtelierBot(settings, shard_count=settings.shard_count, **kwargs)
    return AtelierBot(settings, **kwargs)
