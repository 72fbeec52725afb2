"""The gateway bot: slash commands, result buttons, command sync; services come built.

``AtelierBot(settings, services)`` receives what ``bot.app.services.build_services`` opened (the
database, the engine, the generation service, delivery...); ``setup_hook`` only registers the
button items, loads ``EXTENSIONS``, syncs the commands and starts the engine. Cogs reach the
services through ``bot.services`` (and the read-only shortcuts ``bot.db``, ``bot.engine``,
``bot.generation``, ``bot.moderation``, ``bot.delivery``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

import discord
from discord.ext import commands

from bot import i18n
from bot.app.delivery import DiscordDelivery
from bot.app.edit_tools import EDIT_FORMS
from bot.app.errors import AtelierTree
from bot.app.flow import AttachmentDownloader, GenerationFlow
from bot.app.forms import FormRouter
from bot.app.languages import ServerLanguages
from bot.app.services import Services
from bot.app.translator import CatalogTranslator
from bot.app.views import DYNAMIC_ITEMS
from bot.clock import Clock
from bot.config import Settings
from bot.generation import GenerationService
from bot.generation.tray import ReferenceTray
from bot.identify import IDENTIFY_HOLD_SECONDS, identify_bucket
from bot.jobs.engine import Engine
from bot.moderation import Moderation
from bot.storage import Database

log = logging.getLogger(__name__)

__all__ = ["EXTENSIONS", "SYNC_HASH_KEY", "AtelierBot", "AutoShardedAtelierBot", "create_bot"]

#: Extensions loaded at start-up, in order.
EXTENSIONS: tuple[str, ...] = (
    "cogs.imagine",
    "cogs.jobs",
    "cogs.quota",
    "cogs.settings",
    "cogs.status",
    "cogs.menus",
    "cogs.library",
)
#: ``bot_meta`` key of the hash of the last globally synced command tree.
SYNC_HASH_KEY = "commands.global_hash"


class AtelierBot(commands.Bot):
    """Atelier on discord.py: slash commands, result buttons, the job engine."""

    def __init__(
        self,
        settings: Settings,
        services: Services,
        *,
        extensions: Sequence[str] = EXTENSIONS,
        sync_only: bool = False,
        worker: bool = False,
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
        self.services = services
        # Public posts read the server's language from this bot's guild cache (GUILD_UPDATE).
        services.languages.watch(self)
        self.extension_names: tuple[str, ...] = tuple(extensions)
        self.sync_only = sync_only
        #: ``SHARD_IDS=none``: no gateway connection; the engine runs and delivers over REST.
        self.worker = worker
        self._max_concurrency: int | None = None
        self.accepting = False
        self._closing = False
        self._engine_started = False
        #: Members' reference trays ("Add to references"; used by /imagine and /edit).
        self.tray = ReferenceTray(services.db.trays, services.policy, clock=services.clock)
        self.flow = GenerationFlow(
            services.generation,
            jobs=services.engine,
            download=AttachmentDownloader(services.session),
            show_progress=services.delivery.progress,
            tray=self.tray,
        )
        #: Answers every Atelier modal by its custom_id (so after a restart too).
        self.forms = FormRouter()
        for kind, handler in EDIT_FORMS.items():
            self.forms.add(kind, handler)

    # -- what cogs and tests use (read-only views onto the services) ----------------------------

    @property
    def db(self) -> Database:
        return self.services.db

    @property
    def engine(self) -> Engine:
        return self.services.engine

    @property
    def generation(self) -> GenerationService:
        return self.services.generation

    @property
    def moderation(self) -> Moderation:
        return self.services.moderation

    @property
    def languages(self) -> ServerLanguages:
        return self.services.languages

    @property
    def delivery(self) -> DiscordDelivery:
        return self.services.delivery

    @property
    def clock(self) -> Clock:
        return self.services.clock

    # -- start-up -----------------------------------------------------------------------------

    async def setup_hook(self) -> None:
        self.add_dynamic_items(*DYNAMIC_ITEMS)
        self.add_listener(self.forms.on_interaction, "on_interaction")
        await self.tree.set_translator(CatalogTranslator(self.settings.models))
        for name in self.extension_names:
            await self.load_extension(name)
        if self.sync_only or not self.worker:
            # A worker leaves the commands to the processes that receive them.
            await self.sync_commands(force_global=self.sync_only)
        if self.sync_only:
            return
        removed = self.generation.prune_references()
        pruned = await self.db.uploads.prune(older_than=self.clock.now() - 7 * 24 * 3600)
        log.info("pruned %d old reference files and %d upload cache entries", removed, pruned)
        await self.engine.start()
        self._engine_started = True
        self.accepting = True

    async def serve_without_gateway(self, token: str, stop: asyncio.Event) -> None:
        """Run as a job worker until ``stop`` is set: log in over REST, never connect.

        ``login`` runs ``setup_hook``, which starts the engine; delivery uses only REST
        (interaction webhooks, channel posts). The caller closes the bot afterwards.
        """
        await self.login(token)
        log.info("job worker running: no gateway connection (SHARD_IDS=none)")
        await stop.wait()

    # -- identify: Discord's session start limit, shared by every process ---------------------

    async def max_concurrency(self) -> int:
        """Discord's ``session_start_limit.max_concurrency`` (GET /gateway/bot); 1 if unknown."""
        if self._max_concurrency is None:
            try:
                _, _, limits = await self.http.get_bot_gateway()
                self._max_concurrency = max(1, int(limits.get("max_concurrency") or 1))
            except (discord.HTTPException, discord.GatewayNotFound, TypeError, ValueError):
                log.warning(
                    "could not read the gateway's max_concurrency; identifying one at a time"
                )
                return 1
        return self._max_concurrency

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Wait for this shard's identify bucket, across every process on the database.

        Replaces discord.py's 5-second sleep: the bucket (``shard_id % max_concurrency``) stays
        taken for 5 s (and a little) after this returns, so no process identifies in it again sooner.
        """
        bucket = identify_bucket(shard_id, await self.max_concurrency())
        await self.services.identify.hold(bucket, IDENTIFY_HOLD_SECONDS)
        log.debug("identifying shard %s (bucket %d)", shard_id, bucket)

    def tree_hash(self) -> str:
        """A hash of the global command tree as Discord would receive it."""
        payload = [cmd.to_dict(self.tree) for cmd in self.tree.get_commands()]
        payload.sort(key=lambda c: (str(c.get("name")), int(c.get("type", 1))))
        # The localizations come from the catalogs: a changed translation is a changed tree.
        # So do the model catalog's display names in other languages (zh-CN model choices).
        models = {n: dict(c.labels) for n, c in self.settings.models.models.items()}
        translated = {"tree": payload, "translations": i18n.command_digest(), "models": models}
        return hashlib.sha256(json.dumps(translated, sort_keys=True).encode()).hexdigest()

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
        await self.db.meta.set(SYNC_HASH_KEY, digest, now=self.clock.now())
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
        """Stop taking commands, stop the engine (state stays in the database), disconnect.

        The services themselves are closed by whoever built them (``build_services``).
        """
        if self._closing:
            return await super().close()
        self._closing = True
        self.accepting = False
        if self._engine_started:
            self._engine_started = False
            try:
                await self.engine.stop(grace=5.0)
            except Exception:
                log.exception("stopping the job engine failed")
        await super().close()
        log.info("Atelier stopped")


class AutoShardedAtelierBot(AtelierBot, commands.AutoShardedBot):
    """The same bot over several gateway shards (``SHARD_COUNT``)."""


def create_bot(settings: Settings, services: Services, **kwargs: Any) -> AtelierBot:
    """Build the bot the settings ask for.

    ``SHARD_IDS=none``: a job worker (``bot.worker``; run it with ``serve_without_gateway``).
    ``SHARD_COUNT`` (and ``SHARD_IDS``): sharded, over those shards only. Otherwise one
    connection.
    """
    if settings.gateway_worker:
        return AtelierBot(settings, services, worker=True, **kwargs)
    if settings.shard_count:
        if settings.shard_ids:
            kwargs["shard_ids"] = list(settings.shard_ids)
        return AutoShardedAtelierBot(settings, services, shard_count=settings.shard_count, **kwargs)
    return AtelierBot(settings, services, **kwargs)
