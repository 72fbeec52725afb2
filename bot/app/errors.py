"""The one error handler of every command and button, and a reply helper that knows the state.

A ``bot.refusal.Refusal`` (bad input, a policy, a quota) is answered with its message, once,
ephemerally; so are discord.py's own check failures (missing permissions...). Anything else is logged with a short reference id, and the member sees that id.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import discord
from discord import app_commands

from bot import i18n, logcontext
from bot.messages import say
from bot.refusal import Refusal

log = logging.getLogger(__name__)

__all__ = ["SHOWN", "AtelierTree", "friendly_message", "handle_error", "reply"]

#: ``interaction.extras`` key set once the deferred public response shows something real.
SHOWN = "atelier_response_shown"

#: Discord's permission flags → the message key of their name as members see it in the
#: server settings (``app.permission.*``).
_PERMISSION_NAMES = {
    "manage_guild": "app.permission.manage_guild",
    "manage_messages": "app.permission.manage_messages",
    "manage_channels": "app.permission.manage_channels",
    "view_channel": "app.permission.view_channel",
    "read_messages": "app.permission.view_channel",
    "send_messages": "app.permission.send_messages",
    "embed_links": "app.permission.embed_links",
    "attach_files": "app.permission.attach_files",
}


def _permission_name(flag: str) -> str:
    key = _PERMISSION_NAMES.get(flag)
    # A flag without a catalog name: Discord's own flag, readable enough (never seen so far).
    return say(key) if key else flag.replace("_", " ").title()


def permission_names(flags: list[str]) -> str:
    """``["manage_guild"]`` → ``"Manage Server"`` (several joined with ``app.permissions_and``)."""
    names = [_permission_name(f) for f in flags]
    joined = names[0] if names else ""
    for name in names[1:]:
        joined = say("app.permissions_and", first=joined, second=name)
    return joined


def friendly_message(error: BaseException) -> str | None:
    """Return the member-facing text of a known error, or None for an unexpected one."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, Refusal):
        return error.message
    if isinstance(error, app_commands.CommandOnCooldown):
        return say("app.cooldown", seconds=f"{error.retry_after:.0f}")
    if isinstance(error, app_commands.MissingPermissions):
        return say(
            "app.missing_permissions", permissions=permission_names(error.missing_permissions)
        )
    if isinstance(error, app_commands.BotMissingPermissions):
        return say(
            "app.bot_missing_permissions", permissions=permission_names(error.missing_permissions)
        )
    if isinstance(error, app_commands.NoPrivateMessage):
        return say("app.servers_only")
    if isinstance(error, app_commands.CheckFailure):
        return say("app.check_failed")
    if isinstance(error, app_commands.TransformerError):
        return say("app.bad_option")
    if isinstance(error, discord.Forbidden):
        return say("app.channel_forbidden")
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
        text = say("app.unexpected", reference=ref)
    await reply(interaction, text)


class AtelierTree(app_commands.CommandTree[Any]):
    """The command tree: refuses commands while shutting down; one error handler for all."""

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        # Every command, autocomplete and error reply of this interaction's task speaks the
        # member's language (English for locales not shipped).
        i18n.use(interaction.locale)
        logcontext.bind(interaction_id=interaction.id, guild_id=interaction.guild_id)
        languages = getattr(self.client, "languages", None)
        if languages is not None:
            languages.learn(interaction.guild_id, interaction.guild_locale)
        if getattr(self.client, "accepting", True):
            return True
        await reply(interaction, say("app.restarting"))
        return False

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        await handle_error(interaction, error)
