"""The one error handler of every command and button, and a reply helper that knows the state.

Known errors (bad input, policy refusals, missing permissions) become friendly ephemeral
replies. Anything else is logged with a short reference id, and the member sees that id.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import discord
from discord import app_commands

from bot.refusal import Refusal

log = logging.getLogger(__name__)

__all__ = ["UserFacingError", "handle_error", "reply"]

#: ``interaction.extras`` key set once the deferred public response shows something real.
SHOWN = "atelier_response_shown"


class UserFacingError(Exception):
    """A refusal whose message is shown to the member as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def friendly_message(error: BaseException) -> str | None:
    """Return the member-facing text of a known error, or None for an unexpected one."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, UserFacingError | Refusal):
        return error.message
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little — try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.MissingPermissions):
        return "You need the " + ", ".join(error.missing_permissions) + " permission for that."
    if isinstance(error, app_commands.BotMissingPermissions):
        return (
            "Atelier is missing the "
            + ", ".join(error.missing_permissions)
            + " permission in this channel — ask a moderator."
        )
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works in servers only."
    if isinstance(error, app_commands.CheckFailure):
        return "You cannot use this here."
    if isinstance(error, app_commands.TransformerError):
        return "One of the options has a value Atelier cannot use — check it and try again."
    if isinstance(error, discord.Forbidden):
        return (
            "Atelier is not allowed to do that in this channel — it needs View Channel, "
            "Send Messages, Embed Links and Attach Files."
        )
    return None


async def reply(interaction: discord.Interaction[Any], message: str) -> None:
    """Tell the member ``message`` privately, whatever state the interaction is in.

    Not answered yet: an ephemeral response. Answered with a public deferral that shows
    nothing yet: the deferral is removed and the answer sent as an ephemeral followup.
    Otherwise an ephemeral followup; nothing if the interaction token has expired.
    """
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(message, ephemeral=True)
            return
        if interaction.is_expired():
            log.info("could not tell a member about an error: the interaction expired")
            return
        kind = interaction.response.type
        if (
            kind == discord.InteractionResponseType.deferred_channel_message
            and not interaction.extras.get(SHOWN)
        ):
            try:
                await interaction.delete_original_response()
            except discord.HTTPException:
                log.debug("could not remove the deferred response", exc_info=True)
        await interaction.followup.send(message, ephemeral=True)
    except discord.HTTPException as exc:
        log.warning("could not reply to a member (HTTP %s, code %s)", exc.status, exc.code)


async def handle_error(interaction: discord.Interaction[Any], error: BaseException) -> None:
    """Answer a failed command or button: a friendly message, or a reference id for the logs."""
    text = friendly_message(error)
    if text is None:
        ref = secrets.token_hex(4)
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        command = interaction.command.qualified_name if interaction.command else "component"
        log.error(
            "unexpected error in %s (reference %s)",
            command,
            ref,
            exc_info=(type(original), original, original.__traceback__),
        )
        text = (
            "Something went wrong on Atelier's side and nothing was charged. Please try again; "
            f"if it keeps happening, give a moderator this reference: `{ref}`."
        )
    await reply(interaction, text)


class AtelierTree(app_commands.CommandTree[Any]):
    """The command tree: refuses commands while shutting down; one error handler for all."""

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        if getattr(self.client, "accepting", True):
            return True
        await reply(interaction, "Atelier is restarting — please try again in a minute.")
        return False

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        await handle_error(interaction, error)
