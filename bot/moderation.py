"""Build the quota and server-settings services the bot plugs in (issue 6).

``build_moderation`` gives the ``ServerPolicy`` (a ``GenerationPolicy``: art channels,
blocklist, limits, credits) and the ``QuotaService`` (the engine's ``ChargeHook``), both on the
open database and configured from the settings. No Discord here.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.audit.store import AuditStore
from bot.clock import Clock
from bot.config import Settings
from bot.guild_settings.policy import ServerPolicy
from bot.guild_settings.service import GuildSettingsService
from bot.policy import GuildDefaults
from bot.quota.credits import CreditTable
from bot.quota.rules import OperatorDefaults
from bot.quota.service import QuotaService
from bot.storage.base import Database

__all__ = ["Moderation", "build_moderation", "operator_defaults"]


@dataclass(frozen=True)
class Moderation:
    """The quota service, the settings service, the policy built from both, the audit log."""

    quotas: QuotaService
    settings: GuildSettingsService
    policy: ServerPolicy
    audit: AuditStore


def operator_defaults(settings: Settings) -> OperatorDefaults:
    """The budgets of a server that configured nothing."""
    return OperatorDefaults(
        pool_daily=settings.quota_server_daily,
        pool_monthly=settings.quota_server_monthly,
        member_daily=settings.quota_member_daily,
    )


def build_moderation(
    settings: Settings, db: Database, *, clock: Clock, operator: GuildDefaults
) -> Moderation:
    """Return the services on ``db``; ``operator`` are the configured generation defaults."""
    quotas = QuotaService(
        db.quotas,
        credits=CreditTable.from_json(settings.quota_credits, settings.models.models),
        defaults=operator_defaults(settings),
        clock=clock,
    )
    guild_settings = GuildSettingsService(db.guild_settings, operator=operator, clock=clock)
    return Moderation(quotas, guild_settings, ServerPolicy(guild_settings, quotas), db.audit)
