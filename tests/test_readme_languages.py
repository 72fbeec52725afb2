"""README.md and README.zh-CN.md document the same commands: every command the bot has."""

from __future__ import annotations

import re
from pathlib import Path

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.client import EXTENSIONS
from bot.app.forms import FormRouter

ROOT = Path(__file__).resolve().parent.parent
READMES = {"en": ROOT / "README.md", "zh-CN": ROOT / "README.zh-CN.md"}
MENTION = re.compile(r"(?<![\w/])/([a-z]+(?: [a-z_]+){0,2})")


class _CommandHost(commands.Bot):
    """A bare bot with what the cogs register with when loaded (the modal router)."""

    def __init__(self) -> None:
        super().__init__(command_prefix="!", intents=discord.Intents.none())
        self.forms = FormRouter()


async def _command_paths() -> set[str]:
    bot = _CommandHost()
    for name in EXTENSIONS:
        await bot.load_extension(name)
    paths = set()
    for command in bot.tree.walk_commands():
        if isinstance(command, app_commands.Command):
            paths.add(command.qualified_name)
    await bot.close()
    return paths


def documented(text: str, paths: set[str]) -> set[str]:
    """The command paths ``text`` mentions (``/quota reset member:@ana`` → ``quota reset``)."""
    found = set()
    for match in MENTION.finditer(text):
        words = match[1].split(" ")
        for n in range(len(words), 0, -1):
            if " ".join(words[:n]) in paths:
                found.add(" ".join(words[:n]))
                break
    return found


async def test_both_readmes_list_every_command_and_the_same_ones() -> None:
    paths = await _command_paths()
    assert {"imagine", "settings language", "quota usage"} <= paths
    lists = {lang: documented(p.read_text(encoding="utf-8"), paths) for lang, p in READMES.items()}
    assert lists["en"] == lists["zh-CN"], lists["en"] ^ lists["zh-CN"]
    assert lists["en"] == paths, f"undocumented: {sorted(paths - lists['en'])}"


def test_the_readme_scan_sees_a_missing_command() -> None:
    paths = {"jobs list", "jobs cancel", "imagine"}
    assert documented("`/jobs list` then /jobs cancel job: 12", paths) == {
        "jobs list",
        "jobs cancel",
    }
    assert documented("see https://x/imagine and /imagine prompt: a", paths) == {"imagine"}


def test_each_readme_links_the_other() -> None:
    assert "README.zh-CN.md" in READMES["en"].read_text(encoding="utf-8")
    assert "(README.md)" in READMES["zh-CN"].read_text(encoding="utf-8")
