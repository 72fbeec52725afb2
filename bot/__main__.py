"""Command line: ``python -m bot`` (or ``atelier``) runs the bot; subcommands manage it."""

from __future__ import annotations

import argparse
import logging
import sys

from bot import __version__
from bot.config import ConfigError, Settings, describe_settings, load_settings

log = logging.getLogger("bot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="atelier",
        description="Atelier: a Discord bot that makes images with ToAPIs. "
        "Configuration comes from the environment and an optional .env file (see .env.example).",
    )
    parser.add_argument("--version", action="version", version=f"atelier {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", help="connect to Discord and serve commands (the default)")
    sub.add_parser(
        "check-config", help="validate the configuration and print it with secrets masked"
    )
    sub.add_parser("sync", help="sync slash commands with Discord globally, then exit")
    sub.add_parser(
        "healthcheck",
        help="ask the running bot's /healthz (METRICS_PORT); exit 0 if healthy (Docker HEALTHCHECK)",
    )
    migrate = sub.add_parser(
        "migrate-db",
        help="copy a SQLite deployment into PostgreSQL (the source is only read)",
        description="Copy every table of a SQLite database into a PostgreSQL database (its "
        "schema migrated first), in one transaction, then compare the row counts.",
    )
    migrate.add_argument("--from", dest="source", required=True, metavar="SQLITE_URL")
    migrate.add_argument(
        "--to",
        dest="target",
        metavar="POSTGRES_URL",
        help="the PostgreSQL database (default: $DATABASE_URL, which keeps the password off the"
        " command line)",
    )
    migrate.add_argument(
        "--force",
        action="store_true",
        help="empty the target's tables first (same transaction) instead of refusing rows",
    )
    return parser


def _migrate_db(source: str, target: str | None, *, force: bool) -> int:
    """Run ``migrate-db``: copy, print progress and the row counts; 0 only if they match."""
    import asyncio
    import os

    from bot.storage.copy import CopyError, copy_database
    from bot.storage.url import parse_database_url, redact

    target = target or os.environ.get("DATABASE_URL", "").strip()
    if not target:
        print(
            "atelier: migrate-db: give --to postgresql://... or set DATABASE_URL", file=sys.stderr
        )
        return 2
    try:
        src, dst = parse_database_url(source), parse_database_url(target)
    except ValueError as exc:
        print(f"atelier: migrate-db: {exc}", file=sys.stderr)
        return 2
    print(f"Copying {src.redacted} -> {dst.redacted}")
    try:
        report = asyncio.run(
            copy_database(src, dst, force=force, progress=lambda line: print(line, flush=True))
        )
    except CopyError as exc:
        print(f"atelier: migrate-db: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # never a traceback that could carry the URL
        print(
            f"atelier: migrate-db failed: {type(exc).__name__}: {redact(str(exc))}", file=sys.stderr
        )
        return 1
    for line in report.lines():
        print(line)
    if not report.ok:
        print("atelier: migrate-db: row counts differ (see above)", file=sys.stderr)
        return 1
    print(f"Done: {sum(c.target for c in report.counts)} rows in {len(report.counts)} tables.")
    return 0


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        for line in exc.lines:
            print(f"atelier: configuration error: {line}", file=sys.stderr)
        raise SystemExit(2) from None


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return the exit code."""
    args = _parser().parse_args(argv)
    command = args.command or "run"
    if command == "migrate-db":  # needs no tokens: only the two database URLs
        return _migrate_db(args.source, args.target, force=args.force)
    if command == "healthcheck":  # needs no tokens: only where the endpoint listens
        from bot.ops.probe import probe_health

        return probe_health()
    settings = _settings_or_exit()
    if command == "check-config":
        print("Configuration is valid:")
        for line in describe_settings(settings):
            print(f"  {line}")
        return 0
    from bot.ops.logs import configure_logging
    from bot.runner import run_bot

    configure_logging(settings.log_level, settings.log_format)

    return int(run_bot(settings, sync_only=(command == "sync")))


if __name__ == "__main__":
    raise SystemExit(main())
