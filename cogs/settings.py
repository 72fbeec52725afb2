"""``/settings``: where and how Atelier works on a server (moderators with Manage Server).

A thin adapter to ``bot.guild_settings.service.GuildSettingsService``. The group carries
``default_permissions(manage_guild)`` so Discord hides it from members, and every subcommand
carries discord.py's ``has_permissions(manage_guild=True)`` check, since server admins can
change what Discord shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import i18n
from bot.app.choices import CommandChoices, catalog_of, set_choices
from bot.audit.records import SYSTEM_ACTOR
from bot.guild_settings.policy import channel_list
from bot.guild_settings.service import GuildSettingsService
from bot.messages import has, say

if TYPE_CHECKING:
    from bot.app.client import AtelierBot

Choice = app_commands.Choice
NONE = discord.AllowedMentions.none()
DEFAULT = Choice(name="Bot default", value="default")
#: Replaced from the model catalog when the cog loads (``Settings.__init__``).
FROM_CATALOG = [Choice(name="catalog", value="")]
RESOLUTION_CHOICES = [Choice(name=r.upper(), value=r) for r in ("1k", "2k", "4k")] + [DEFAULT]
Term = app_commands.Range[str, 1, 100]
#: Each language shown in its own name (never translated), and "follow Discord".
LANGUAGE_CHOICES = [
    Choice(name="English", value="en"),
    Choice(name="简体中文", value="zh-CN"),
    Choice(name="Server's Discord language", value="discord"),
]


#: Every subcommand: Manage Server, checked by discord.py on every call (server admins can
#: change what ``default_permissions`` makes Discord show).
moderators_only = app_commands.checks.has_permissions(manage_guild=True)


def server_id(interaction: discord.Interaction[Any]) -> int:
    """The server the command runs in (the group is ``guild_only``)."""
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    return interaction.guild_id


def _value(choice: Choice[str] | None) -> str | None:
    return None if choice is None else choice.value


def _show(value: object) -> str:
    return say("settings.bot_default") if value is None else str(value)


def _subject(action: str, subject: str | None) -> str:
    if not subject or not subject.isdigit():
        return f" {subject}" if subject else ""
    if action == "quota.role_daily":
        return f" <@&{subject}>"
    if action.startswith("quota."):
        return f" <@{subject}>"
    return ""  # channels: the value shows the channel


def _audit_action(action: str) -> str:
    """The name of a change in the audit log, from the catalog (``audit.<action>``)."""
    key = f"audit.{action}"
    return say(key) if has(key) else action.split(".", 1)[-1].replace("_", " ")


def _audit_value(action: str, value: str | None) -> str:
    if value is None:
        return "—"
    if action in ("settings.channels", "settings.gallery_channel_id") and value.isdigit():
        return f"<#{value}>"
    if action.startswith("quota.") and value == "-1":
        return say("quota.unlimited")
    if value in ("true", "false"):
        return say("settings.audit.yes" if value == "true" else "settings.audit.no")
    return value


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Settings(
    commands.GroupCog,
    group_name="settings",
    group_description="Moderators: channels, gallery, language, defaults, limits, blocklist, audit",
):
    """Server settings for moderators."""

    channels = app_commands.Group(
        name="channels", description="Art channels: where images are made"
    )
    blocklist = app_commands.Group(
        name="blocklist", description="Words and phrases refused in prompts"
    )

    def __init__(self, bot: AtelierBot) -> None:
        self.bot = bot
        super().__init__()
        choices = CommandChoices(catalog_of(bot))
        set_choices(
            self.defaults,
            model=[*choices.model_names(), DEFAULT],
            quality=[*choices.qualities(), DEFAULT],
        )

    @property
    def service(self) -> GuildSettingsService:
        return self.bot.moderation.settings

    async def _say(self, interaction: discord.Interaction[Any], text: str) -> None:
        await interaction.response.send_message(text[:2000], ephemeral=True, allowed_mentions=NONE)

    # -- art channels -------------------------------------------------------------------------

    @channels.command(name="add", description="Allow image generation in a channel")
    @app_commands.describe(channel="The channel")
    @moderators_only
    async def channels_add(
        self, interaction: discord.Interaction[Any], channel: discord.TextChannel
    ) -> None:
        guild_id = server_id(interaction)
        added = await self.service.add_channel(guild_id, channel.id, interaction.user.id)
        row = await self.service.get(guild_id)
        key = "settings.channels.added" if added else "settings.channels.already"
        await self._say(
            interaction,
            say(key, channel=channel.mention, channels=channel_list(row.channels)),
        )

    @channels.command(name="remove", description="Stop image generation in a channel")
    @app_commands.describe(channel="The channel")
    @moderators_only
    async def channels_remove(
        self, interaction: discord.Interaction[Any], channel: discord.TextChannel
    ) -> None:
        guild_id = server_id(interaction)
        removed = await self.service.remove_channel(guild_id, channel.id, interaction.user.id)
        row = await self.service.get(guild_id)
        if removed:
            key = "settings.channels.removed" if row.channels else "settings.channels.removed_last"
        else:
            key = "settings.channels.not_art" if row.channels else "settings.channels.not_art_none"
        await self._say(
            interaction,
            say(key, channel=channel.mention, channels=channel_list(row.channels)),
        )

    @channels.command(name="list", description="The art channels")
    @moderators_only
    async def channels_list(self, interaction: discord.Interaction[Any]) -> None:
        guild_id = server_id(interaction)
        row = await self.service.get(guild_id)
        if not row.channels:
            await self._say(interaction, say("settings.channels.none"))
            return
        await self._say(
            interaction, say("settings.channels.only", channels=channel_list(row.channels))
        )

    # -- language ---------------------------------------------------------------------------

    @app_commands.command(
        name="language",
        description="The language of public posts: results, progress, the gallery",
    )
    @app_commands.describe(language="A language, or the server's Discord language")
    @app_commands.choices(language=LANGUAGE_CHOICES)
    @moderators_only
    async def language(self, interaction: discord.Interaction[Any], language: Choice[str]) -> None:
        guild_id = server_id(interaction)
        chosen = None if language.value == "discord" else language.value
        await self.service.set_language(guild_id, interaction.user.id, chosen)
        if chosen is None:
            shown = i18n.language_for(interaction.guild_locale)
            text = say("settings.language.auto", language=say(f"language.{shown}"))
        else:
            text = say("settings.language.set", language=say(f"language.{chosen}"))
        await self._say(interaction, text)

    # -- gallery, defaults, limits ------------------------------------------------------------

    @app_commands.command(
        name="gallery", description="Also post every finished image to a channel (leave out: off)"
    )
    @app_commands.describe(channel="The gallery channel; leave out to turn the gallery off")
    @moderators_only
    async def gallery(
        self, interaction: discord.Interaction[Any], channel: discord.TextChannel | None = None
    ) -> None:
        guild_id = server_id(interaction)
        before, after = await self.service.set_gallery(
            guild_id, channel.id if channel else None, interaction.user.id
        )
        if after is None:
            text = (
                say("settings.gallery.off_was", channel=f"<#{before}>")
                if before
                else say("settings.gallery.off")
            )
        else:
            text = say("settings.gallery.on", channel=f"<#{after}>")
        await self._say(interaction, text)

    @app_commands.command(
        name="defaults", description="This server's default model, quality and resolution"
    )
    @app_commands.describe(
        model="Default model", quality="Default quality", resolution="Default resolution"
    )
    @app_commands.choices(model=FROM_CATALOG, quality=FROM_CATALOG, resolution=RESOLUTION_CHOICES)
    @moderators_only
    async def defaults(
        self,
        interaction: discord.Interaction[Any],
        model: Choice[str] | None = None,
        quality: Choice[str] | None = None,
        resolution: Choice[str] | None = None,
    ) -> None:
        guild_id = server_id(interaction)
        _, row = await self.service.set_defaults(
            guild_id,
            interaction.user.id,
            model=_value(model),
            quality=_value(quality),
            resolution=_value(resolution),
        )
        d = await self.service.defaults(guild_id)
        await self._say(
            interaction,
            say(
                "settings.defaults.done",
                model_stored=_show(row.default_model),
                model=d.model,
                quality_stored=_show(row.default_quality),
                quality=d.quality or say("settings.defaults.na"),
                resolution_stored=_show(row.default_resolution),
                resolution=(
                    d.resolution.upper() if d.resolution else say("settings.defaults.na_resolution")
                ),
            ),
        )

    @app_commands.command(
        name="limits", description="Most images per request and highest resolution"
    )
    @app_commands.describe(
        max_count="Most images per request (0 = the bot's limit)",
        max_resolution="Highest resolution allowed",
    )
    @app_commands.choices(max_resolution=RESOLUTION_CHOICES)
    @moderators_only
    async def limits(
        self,
        interaction: discord.Interaction[Any],
        max_count: app_commands.Range[int, 0, 10] | None = None,
        max_resolution: Choice[str] | None = None,
    ) -> None:
        guild_id = server_id(interaction)
        _, row = await self.service.set_limits(
            guild_id,
            interaction.user.id,
            max_count=max_count,
            max_resolution=_value(max_resolution),
        )
        ceiling = self.service.operator.max_count
        await self._say(
            interaction,
            say(
                "settings.limits.server" if row.max_count else "settings.limits.bot",
                count=row.max_count or ceiling,
                resolution=(row.max_resolution or "4k").upper(),
            ),
        )

    # -- blocklist ----------------------------------------------------------------------------

    @blocklist.command(name="add", description="Refuse prompts containing a word or phrase")
    @app_commands.describe(term="A word or phrase (matched as whole words, any case)")
    @moderators_only
    async def blocklist_add(self, interaction: discord.Interaction[Any], term: Term) -> None:
        guild_id = server_id(interaction)
        stored, added = await self.service.add_term(guild_id, term, interaction.user.id)
        await self._say(
            interaction,
            say("settings.blocklist.added" if added else "settings.blocklist.already", term=stored),
        )

    @blocklist.command(name="remove", description="Allow a blocked word or phrase again")
    @app_commands.describe(term="The blocked word or phrase")
    @moderators_only
    async def blocklist_remove(self, interaction: discord.Interaction[Any], term: Term) -> None:
        guild_id = server_id(interaction)
        stored, removed = await self.service.remove_term(guild_id, term, interaction.user.id)
        await self._say(
            interaction,
            say(
                "settings.blocklist.removed" if removed else "settings.blocklist.not_blocked",
                term=stored,
            ),
        )

    @blocklist.command(name="list", description="The blocked words and phrases")
    @moderators_only
    async def blocklist_list(self, interaction: discord.Interaction[Any]) -> None:
        guild_id = server_id(interaction)
        row = await self.service.get(guild_id)
        if not row.blocklist:
            await self._say(interaction, say("settings.blocklist.empty"))
            return
        shown = ", ".join(say("settings.blocklist.term", term=t) for t in row.blocklist)
        await self._say(
            interaction, say("settings.blocklist.list", count=len(row.blocklist), terms=shown)
        )

    # -- audit --------------------------------------------------------------------------------

    @app_commands.command(name="audit", description="Recent moderator changes: who, what, when")
    @moderators_only
    async def audit(self, interaction: discord.Interaction[Any]) -> None:
        guild_id = server_id(interaction)
        entries = await self.bot.moderation.audit.recent(guild_id, limit=15)
        if not entries:
            await self._say(interaction, say("settings.audit.none"))
            return
        lines = [
            say(
                "settings.audit.line",
                when=f"<t:{int(e.at)}:f>",
                actor=(
                    say("settings.audit.atelier")
                    if e.actor_id == SYSTEM_ACTOR
                    else f"<@{e.actor_id}>"
                ),
                action=_audit_action(e.action),
                subject=_subject(e.action, e.subject),
                before=_audit_value(e.action, e.before),
                after=_audit_value(e.action, e.after),
            )
            for e in entries
        ]
        embed = discord.Embed(
            title=say("settings.audit.title"), description="\n".join(lines)[:4000]
        )
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NONE)


async def setup(bot: AtelierBot) -> None:
    await bot.add_cog(Settings(bot))
