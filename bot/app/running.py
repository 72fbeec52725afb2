"""Run a button's or a modal's work on the bot (or its ``GenerationFlow``), in the member's language."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot import i18n
from bot.app.errors import handle_error, reply
from bot.app.flow import GenerationFlow
from bot.messages import say

__all__ = ["run_on_bot", "run_on_flow"]


async def run_on_bot(
    interaction: discord.Interaction[Any], call: Callable[[Any], Awaitable[None]]
) -> None:
    """Run ``call`` with the bot; refuse while restarting; answer any error."""
    # The task speaks the member's language; the server's is remembered for its posts.
    i18n.use(getattr(interaction, "locale", None))
    client: Any = interaction.client
    languages = getattr(client, "languages", None)
    if languages is not None:
        languages.learn(interaction.guild_id, getattr(interaction, "guild_locale", None))
    if not client.accepting:
        await reply(interaction, say("app.restarting"))
        return
    try:
        await call(client)
    except Exception as exc:
        await handle_error(interaction, exc)


async def run_on_flow(
    interaction: discord.Interaction[Any], call: Callable[[GenerationFlow], Awaitable[None]]
) -> None:
    """Run ``call`` with the bot's flow, as ``run_on_bot`` does."""
    await run_on_bot(interaction, lambda client: call(client.flow))
