"""Run the bot until SIGTERM/SIGINT (``python -m bot``), or sync commands once (``sync``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
from typing import TYPE_CHECKING

import discord

from bot.config import Settings
from bot.discord_target import point_discord_at

if TYPE_CHECKING:
    from bot.app.client import AtelierBot
    from bot.app.services import Services

log = logging.getLogger("bot")

__all__ = ["RedactSecrets", "run_bot"]

# Interaction tokens travel in URL paths: /interactions/<id>/<token>/callback, /webhooks/<app>/<token>.
_TOKEN_PATHS = re.compile(r"(/(?:interactions|webhooks)/\d+/)[A-Za-z0-9_\-.]{20,}")


class RedactSecrets(logging.Filter):
    """Remove the bot token, the API key and interaction tokens from every log record."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if len(s) >= 6]

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "<redacted>")
        return _TOKEN_PATHS.sub(r"\1<redacted>", text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        cleaned = self._clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, cleaned, so no handler formats the raw one.
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self._clean(text)
        if record.stack_info:
            record.stack_info = self._clean(record.stack_info)
        return True


def _install_redaction(settings: Settings) -> None:
    redact = RedactSecrets(
        [settings.discord_token.get_secret_value(), settings.toapis_api_key.get_secret_value()]
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)


def run_bot(settings: Settings, *, sync_only: bool = False) -> int:
    """Run Atelier; return the process exit code."""
    _install_redaction(settings)
    point_discord_at(settings.discord_api_base, settings.discord_gateway_url)
    try:
        return asyncio.run(_main(settings, sync_only=sync_only))
    except KeyboardInterrupt:
        return 0


async def _main(settings: Settings, *, sync_only: bool) -> int:
    from bot.app.services import build_services

    try:
        async with build_services(settings) as services:
            return await _serve(settings, services, sync_only=sync_only)
    except discord.LoginFailure:
        log.error("Discord refused DISCORD_TOKEN: check the bot token")
        return 1


async def _serve(settings: Settings, services: Services, *, sync_only: bool) -> int:
    from bot.app.client import create_bot
    from bot.ops.server import ops_endpoint

    bot = create_bot(settings, services, sync_only=sync_only)
    token = settings.discord_token.get_secret_value()
    if sync_only:
        async with bot:
            await bot.login(token)  # setup_hook loads the commands and syncs them globally
        print("Slash commands synced globally.")
        return 0
    # /healthz and /metrics (METRICS_PORT) live exactly as long as the bot.
    async with ops_endpoint(
        settings,
        client=bot,
        db=services.db,
        engine=services.engine,
        metrics=services.metrics,
    ):
        return await _run(bot, token)


async def _run(bot: AtelierBot, token: str) -> int:
    """Run the bot (or the job worker) until SIGTERM/SIGINT; return the exit code."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    if bot.worker:
        async with bot:
            await bot.serve_without_gateway(token, stop)
            log.info("stop signal received: unfinished jobs resume on next start")
            bot.accepting = False
            await bot.close()
        return 0
    async with bot:
        runner = asyncio.create_task(bot.start(token), name="atelier-bot")
        stopper = asyncio.create_task(stop.wait(), name="atelier-stop")
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stopper in done:
            log.info("stop signal received: no new commands; unfinished jobs resume on next start")
            bot.accepting = False
            await bot.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(runner, 10)
            return 0
        stopper.cancel()
        try:
            runner.result()
        except discord.PrivilegedIntentsRequired:
            log.error("Discord refused the gateway intents")
            return 1
    return 0
