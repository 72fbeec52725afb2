"""The server policy every generation passes: art channels, blocklist, limits, then credits.

Checked in this order, cheapest first, before anything is downloaded, uploaded, submitted or
charged; each refusal is a ``bot.refusal.Refusal`` whose message the member sees ephemerally.
"""

from __future__ import annotations

from bot.guild_settings.blocklist import find_blocked
from bot.guild_settings.service import RESOLUTION_RANK, GuildSettingsService
from bot.messages import say, say_plural
from bot.policy import GuildDefaults, RequestContext
from bot.quota.service import MemberRef, QuotaService
from bot.refusal import Refusal
from bot.toapis.models import GenerationRequest

__all__ = ["ServerPolicy", "channel_list"]


def channel_list(channel_ids: tuple[int, ...] | list[int]) -> str:
    """Return channel mentions (they never ping) joined for a sentence."""
    shown = [f"<#{c}>" for c in channel_ids]
    if len(shown) <= 1:
        return "".join(shown)
    rest = say("policy.list_separator").join(shown[:-1])
    return say("policy.either", rest=rest, last=shown[-1])


class ServerPolicy:
    """``GenerationPolicy`` built from the server's settings and the quota service."""

    def __init__(self, settings: GuildSettingsService, quotas: QuotaService | None = None) -> None:
        self.settings = settings
        self.quotas = quotas

    async def check(self, ctx: RequestContext, request: GenerationRequest) -> None:
        """Refuse with a ``Refusal`` (or ``QuotaExceeded``) saying why; else return."""
        if ctx.guild_id is not None:
            row = await self.settings.get(ctx.guild_id)
            if row.channels and ctx.channel_id not in row.channels:
                raise Refusal(say("policy.channel_only", channels=channel_list(row.channels)))
            term = find_blocked(request.prompt, row.blocklist)
            if term is not None:
                raise Refusal(say("policy.blocked_term", term=term))
            if row.max_count is not None and request.n > row.max_count:
                raise Refusal(
                    say(
                        "policy.max_count",
                        limit=row.max_count,
                        images=say_plural("policy.images", row.max_count),
                        asked=request.n,
                    )
                )
            if row.max_resolution is not None and request.resolution is not None:
                asked = RESOLUTION_RANK.get(request.resolution, 0)
                if asked > RESOLUTION_RANK[row.max_resolution]:
                    raise Refusal(
                        say(
                            "policy.max_resolution",
                            limit=row.max_resolution.upper(),
                            asked=request.resolution.upper(),
                        )
                    )
        if self.quotas is not None:
            credits = self.quotas.cost(
                request.model, request.resolution, request.quality, request.n
            )
            member = MemberRef(
                ctx.guild_id, ctx.member_id, tuple(ctx.role_ids), bool(ctx.can_manage_guild)
            )
            await self.quotas.precheck(member, credits)

    def price(self, request: GenerationRequest) -> int | None:
        """Return the credits ``request`` costs (None without a quota service)."""
        if self.quotas is None:
            return None
        return self.quotas.cost(request.model, request.resolution, request.quality, request.n)

    async def defaults(self, guild_id: int | None) -> GuildDefaults:
        """Return the server's defaults (the operator's where the server set none)."""
        return await self.settings.defaults(guild_id)
