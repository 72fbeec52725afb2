"""Run a button's or a modal's work on the bot's ``GenerationFlow``, in the member's language."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot import i18n
from bot.app.errors import handle_error, reply
from bot.app.flow import GenerationFlow
from bot.messages import say

__all__ = ["run_on_flow"]


async def run_on_flow(
    interaction: discord.Interaction[Any], call: Callable[[GenerationFlow], Awaitable[None]]
) -> None:
    """Run ``call`` with the bot's flow; refuse while restarting; answer any error."""
    # The task speaks the member's language; the server's is remembered for its posts.
    i18n.use(getattr(interaction, "locale", None))
    client: Any = interaction.client
    languages = getattr(client, "languages", None)
    if languages is not None:
        languages.learn(interaction.guild_id, getattr(interaction, "guild_locale", None))
    if not client.accepting:
        await reply(interaction, say("app.restarting"))
        return
    flow: GenerationFlow = client.flow
    try:
        await call(flow)
    except Exception as exc:
        await handle_error(interaction, exc)
