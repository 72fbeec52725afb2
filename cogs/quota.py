"""``/quota``: members see their credits; moderators set budgets, grant, reset and see usage.

A thin adapter to ``bot.quota.service.QuotaService``. Discord shows one ``/quota`` group to
everyone (visibility is per top-level command), so every moderator subcommand carries
discord.py's ``has_permissions(manage_guild=True)`` check, run on each call. The usage chart is
drawn off the event loop.
"""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.messages import say, say_plural
from bot.quota.chart import render_usage_chart
from bot.quota.records import UNLIMITED, GuildQuotaRow
from bot.quota.service import MemberRef, QuotaService, QuotaStatus, day_label

if TYPE_CHECKING:
    from bot.app.client import AtelierBot

NONE = discord.AllowedMentions.none()
Limit = app_commands.Range[str, 1, 20]

#: Where a member's daily cap comes from (``bot.quota.rules``) → its catalog message.
CAP_SOURCES = {
    "server default": "quota.source.server_default",
    "moderator exemption": "quota.source.moderator_exemption",
    "your own limit": "quota.source.own_limit",
    "your role": "quota.source.role",
}


def _limit(value: int | None) -> str:
    return say("quota.unlimited") if value is None else f"{value:,}"


def _stored(value: int | None, default: int | None) -> str:
    if value is None:
        return say("quota.stored.default", value=_limit(default))
    return say("quota.unlimited") if value == UNLIMITED else f"{value:,}"


def _cap(value: int | None, none_key: str = "quota.cap.none") -> str:
    """A member's or role's own cap: the stored value, or ``none_key`` when it has none."""
    return say(none_key) if value is None else _stored(value, None)


def _when(ts: float) -> str:
    return f"<t:{int(ts)}:R>"


#: Moderator subcommands: Manage Server, checked by discord.py on every call (whatever the
#: server's command permissions make Discord show); the refusal text is ``app.missing_permissions``.
moderators_only = app_commands.checks.has_permissions(manage_guild=True)


def member_ref(interaction: discord.Interaction[Any]) -> MemberRef:
    user = interaction.user
    roles = tuple(r.id for r in getattr(user, "roles", ()) if not r.is_default())
    return MemberRef(interaction.guild_id, user.id, roles, interaction.permissions.manage_guild)


class Quota(
    commands.GroupCog,
    group_name="quota",
    group_description="Image credits: what you have left; moderators set budgets",
):
    """Credits for members and moderators."""

    def __init__(self, bot: AtelierBot) -> None:
        self.bot = bot
        super().__init__()

    @property
    def quotas(self) -> QuotaService:
        return self.bot.moderation.quotas

    async def _say(self, interaction: discord.Interaction[Any], text: str, **kw: Any) -> None:
        await interaction.response.send_message(
            text[:2000], ephemeral=True, allowed_mentions=NONE, **kw
        )

    # -- members ------------------------------------------------------------------------------

    @app_commands.command(name="me", description="Your credits left today, the server's, and costs")
    @app_commands.guild_only()
    async def me(self, interaction: discord.Interaction[Any]) -> None:
        status = await self.quotas.status(member_ref(interaction))
        embed = discord.Embed(title=say("quota.me.title"))
        embed.add_field(name=say("quota.me.you_today"), value=self._mine(status), inline=False)
        embed.add_field(
            name=say("quota.me.this_server"),
            value=self._pool(status) or say("quota.me.no_server_limit"),
            inline=False,
        )
        embed.add_field(
            name=say("quota.me.costs"),
            value="\n".join(self.quotas.credits.lines())[:1024],
            inline=False,
        )
        embed.set_footer(text=say("quota.me.footer"))
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NONE)

    @staticmethod
    def _mine(status: QuotaStatus) -> str:
        limits, usage = status.limits, status.usage
        if limits.member_daily is None:
            key = "quota.me.unlimited_exempt" if limits.exempt else "quota.me.unlimited"
            lines = [say(key, used=usage.member_day)]
        else:
            lines = [
                say(
                    "quota.me.left",
                    left=status.member_left,
                    cap=limits.member_daily,
                    source=say(CAP_SOURCES.get(limits.source, "quota.source.server_default")),
                    when=_when(status.windows.day_resets_at),
                )
            ]
        if usage.grant_balance:
            lines.append(say("quota.me.granted", granted=usage.grant_balance))
        spendable = status.spendable
        if spendable is not None and (
            status.limits.member_daily is None
            or spendable < (status.member_left or 0) + usage.grant_balance
        ):
            lines.append(say("quota.me.spendable", spendable=spendable))
        return "\n".join(lines)

    @staticmethod
    def _pool(status: QuotaStatus) -> str:
        lines = []
        if status.limits.pool_daily is not None:
            lines.append(
                say(
                    "quota.me.pool_today",
                    left=status.pool_day_left,
                    limit=status.limits.pool_daily,
                    when=_when(status.windows.day_resets_at),
                )
            )
        if status.limits.pool_monthly is not None:
            lines.append(
                say(
                    "quota.me.pool_month",
                    left=status.pool_month_left,
                    limit=status.limits.pool_monthly,
                    when=_when(status.windows.month_resets_at),
                )
            )
        return "\n".join(lines)

    # -- moderators ---------------------------------------------------------------------------

    def _describe(self, row: GuildQuotaRow) -> str:
        d = self.quotas.defaults
        return "\n".join(
            [
                say("quota.server.daily_pool", value=_stored(row.pool_daily, d.pool_daily)),
                say("quota.server.monthly_pool", value=_stored(row.pool_monthly, d.pool_monthly)),
                say("quota.server.member_daily", value=_stored(row.member_daily, d.member_daily)),
                say(
                    "quota.server.exempt_yes" if row.exempt_moderators else "quota.server.exempt_no"
                ),
                say("quota.server.timezone", zone=row.timezone or "UTC"),
            ]
        )

    @app_commands.command(
        name="server", description="Moderators: the server's credit pool, default cap, time zone"
    )
    @app_commands.guild_only()
    @app_commands.describe(
        daily="Credits per day for the whole server, or 'unlimited'",
        monthly="Credits per month for the whole server, or 'unlimited'",
        member_daily="Default credits per member per day, or 'unlimited'",
        timezone="Time zone for the daily and monthly resets, e.g. Europe/Paris (default UTC)",
        exempt_moderators="Members with Manage Server have no daily cap",
    )
    @moderators_only
    async def server(
        self,
        interaction: discord.Interaction[Any],
        daily: Limit | None = None,
        monthly: Limit | None = None,
        member_daily: Limit | None = None,
        timezone: app_commands.Range[str, 1, 64] | None = None,
        exempt_moderators: bool | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        before, after = await self.quotas.configure_server(
            interaction.guild_id,
            interaction.user.id,
            daily=daily,
            monthly=monthly,
            member_daily=member_daily,
            timezone=timezone,
            exempt_moderators=exempt_moderators,
        )
        head = say("quota.server.updated" if before != after else "quota.server.unchanged")
        _, roles, members = await self.quotas.overview(interaction.guild_id)
        lines = [head, self._describe(after)]
        if roles:
            shown = ", ".join(f"<@&{r}> {_stored(d, None)}" for r, d in sorted(roles.items()))
            lines.append(say("quota.server.role_caps", caps=shown))
        if members:
            shown = ", ".join(f"<@{m}> {_stored(d, None)}" for m, d in sorted(members.items()))
            lines.append(say("quota.server.member_caps", caps=shown))
        await self._say(interaction, "\n".join(lines))

    @app_commands.command(name="member", description="Moderators: one member's own daily cap")
    @app_commands.guild_only()
    @app_commands.describe(
        member="The member", daily="Credits per day, 'unlimited', or 'default' to remove"
    )
    @moderators_only
    async def member(
        self, interaction: discord.Interaction[Any], member: discord.Member, daily: Limit
    ) -> None:
        assert interaction.guild_id is not None
        before, after = await self.quotas.set_member_cap(
            interaction.guild_id, member.id, daily, interaction.user.id
        )
        await self._say(
            interaction,
            say(
                "quota.member.changed",
                member=member.mention,
                before=_cap(before),
                after=_cap(after, "quota.cap.none_member"),
            ),
        )

    @app_commands.command(name="role", description="Moderators: the daily cap of a role's members")
    @app_commands.guild_only()
    @app_commands.describe(
        role="The role",
        daily="Credits per day, 'unlimited', or 'default' to remove (most generous role wins)",
    )
    @moderators_only
    async def role(
        self, interaction: discord.Interaction[Any], role: discord.Role, daily: Limit
    ) -> None:
        assert interaction.guild_id is not None
        if role.is_default():
            # Everyone has @everyone: its cap is the server's default member cap.
            value = "default" if daily.strip().lower() in ("default", "clear") else daily
            _, row = await self.quotas.configure_server(
                interaction.guild_id,
                interaction.user.id,
                member_daily=None if value == "default" else value,
            )
            await self._say(
                interaction,
                say(
                    "quota.role.everyone",
                    value=_stored(row.member_daily, self.quotas.defaults.member_daily),
                ),
            )
            return
        before, after = await self.quotas.set_role_cap(
            interaction.guild_id, role.id, daily, interaction.user.id
        )
        await self._say(
            interaction,
            say("quota.role.changed", role=role.mention, before=_cap(before), after=_cap(after)),
        )

    @app_commands.command(name="grant", description="Moderators: give a member extra credits once")
    @app_commands.guild_only()
    @app_commands.describe(
        member="The member", credits="Extra credits (a negative number takes unspent ones back)"
    )
    @moderators_only
    async def grant(
        self,
        interaction: discord.Interaction[Any],
        member: discord.Member,
        credits: app_commands.Range[int, -1_000_000, 1_000_000],
    ) -> None:
        assert interaction.guild_id is not None
        balance = await self.quotas.grant(
            interaction.guild_id, member.id, credits, interaction.user.id
        )
        await self._say(
            interaction,
            say("quota.grant.done", member=member.mention, balance=balance),
        )

    @app_commands.command(
        name="reset", description="Moderators: forgive today's usage of a member, or of everyone"
    )
    @app_commands.guild_only()
    @app_commands.describe(
        member="Only this member (leave out: the server pool, today and this month, and everyone)"
    )
    @moderators_only
    async def reset(
        self, interaction: discord.Interaction[Any], member: discord.Member | None = None
    ) -> None:
        assert interaction.guild_id is not None
        forgiven = await self.quotas.reset(
            interaction.guild_id, member.id if member else None, interaction.user.id
        )
        text = (
            say("quota.reset.member", member=member.mention, forgiven=forgiven)
            if member
            else say("quota.reset.everyone", forgiven=forgiven)
        )
        await self._say(interaction, text)

    @app_commands.command(name="usage", description="Moderators: credits spent, with a chart")
    @app_commands.guild_only()
    @app_commands.describe(days="How many days back (1-90, default 7)")
    @moderators_only
    async def usage(
        self, interaction: discord.Interaction[Any], days: app_commands.Range[int, 1, 90] = 7
    ) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        report, _ = await self.quotas.usage_report(interaction.guild_id, days)
        names: dict[int, str] = {}
        guild = interaction.guild
        for member_id, _credits in report.top_members:
            m = guild.get_member(member_id) if guild else None
            if m is not None:
                names[member_id] = m.display_name
        # Pillow takes tens of milliseconds: draw in a worker thread, not on the event loop.
        png = await asyncio.to_thread(
            render_usage_chart,
            report,
            title=say_plural("quota.usage.chart_title", days, days=days),
            names=names,
        )
        embed = discord.Embed(
            title=say_plural("quota.usage.title", days, days=days),
            description=say("quota.usage.summary", total=report.total, in_flight=report.in_flight),
        )
        busiest = max(report.days, key=lambda d: d[1], default=None)
        if busiest is not None and busiest[1]:
            embed.add_field(
                name=say("quota.usage.busiest"),
                value=say(
                    "quota.usage.busiest_value", day=day_label(busiest[0]), credits=busiest[1]
                ),
            )
        if report.top_members:
            embed.add_field(
                name=say("quota.usage.top_members"),
                value="\n".join(f"<@{m}> {c:,}" for m, c in report.top_members),
                inline=False,
            )
        if report.by_model:
            embed.add_field(
                name=say("quota.usage.by_model"),
                value="\n".join(f"{m}: {c:,}" for m, c in report.by_model),
                inline=False,
            )
        embed.set_image(url="attachment://usage.png")
        await interaction.followup.send(
            embed=embed,
            file=discord.File(io.BytesIO(png), filename="usage.png"),
            ephemeral=True,
            allowed_mentions=NONE,
        )


async def setup(bot: AtelierBot) -> None:
    await bot.add_cog(Quota(bot))
