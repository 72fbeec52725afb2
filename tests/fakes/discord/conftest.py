"""Helpers for the loopback Discord's own tests: a studio guild and a bot builder."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import discord
import pytest
from discord import app_commands
from discord.ext import commands
from PIL import Image

from .model import Guild
from .server import FakeDiscord


def png_bytes(
    width: int = 8, height: int = 6, colour: tuple[int, int, int] = (200, 30, 90)
) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, format="PNG")
    return buf.getvalue()


def build_bot(
    *cmds: app_commands.Command[Any, ..., Any] | app_commands.Group,
    setup: Callable[[commands.Bot], Any] | None = None,
    cls: type[commands.Bot] = commands.Bot,
) -> commands.Bot:
    """A bot with the given app commands (added globally)."""
    bot = cls(command_prefix="!", intents=discord.Intents.default())
    for cmd in cmds:
        bot.tree.add_command(cmd)
    if setup is not None:
        setup(bot)
    return bot


@pytest.fixture
def studio(fake_discord: FakeDiscord) -> Guild:
    """A guild with #general and #gallery, a member alice and a role artists."""
    guild = fake_discord.add_guild("Studio", channels=["general", "gallery"], members=["alice"])
    artists = guild.add_role("artists", permissions=0)
    guild.member("alice").roles.append(artists)
    return guild
