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
    return parser


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
    settings = _settings_or_exit()
    if command == "check-config":
        print("Configuration is valid:")
        for line in describe_settings(settings):
            print(f"  {line}")
        return 0
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from bot.runner import run_bot

    return int(run_bot(settings, sync_only=(command == "sync")))


if __name__ == "__main__":
    raise SystemExit(main())
