"""Quota and settings refusals are ``Refusal``s: sentences from bot.messages, answered as is."""

from __future__ import annotations

import pytest

from bot.app.errors import friendly_message
from bot.guild_settings.service import GuildSettingsService, SettingsError
from bot.quota.records import Usage
from bot.quota.rules import Limits
from bot.quota.service import QuotaError, QuotaExceeded, QuotaService, parse_limit
from bot.quota.windows import windows_at
from bot.refusal import Refusal

NOON_JAN_15 = 1_768_478_400.0


def test_the_quota_and_settings_errors_are_refusals() -> None:
    for cls in (QuotaError, QuotaExceeded, SettingsError):
        assert issubclass(cls, Refusal)


def test_a_moderator_error_is_answered_with_its_sentence() -> None:
    with pytest.raises(QuotaError) as err:
        parse_limit("lots", what="daily_pool")
    expected = (
        "The daily pool must be a whole number of credits (0 or more) or `unlimited`, not `lots`."
    )
    assert err.value.message == expected
    assert friendly_message(err.value) == expected


async def test_a_settings_error_is_answered_with_its_sentence(
    settings: GuildSettingsService,
) -> None:
    with pytest.raises(SettingsError) as err:
        await settings.set_defaults(1, 2, quality="ultra")
    assert err.value.message == "Quality must be low, medium or high."
    assert friendly_message(err.value) == "Quality must be low, medium or high."


def test_an_over_budget_refusal_keeps_its_words() -> None:
    win = windows_at(NOON_JAN_15, "UTC")
    refusal = QuotaService.refusal(
        None,  # type: ignore[arg-type]  # refusal reads nothing from the service
        "member_daily",
        4,
        Limits(None, None, 5),
        Usage(member_day=3, grant_balance=1),
        win,
    )
    t = int(win.day_resets_at)
    assert refusal.message == (
        "You have 3 credits left today (2 of your 5 a day plus 1 granted), and this request "
        f"costs 4 credits. Your credits reset <t:{t}:R> (<t:{t}:f>). Try fewer images, a lower "
        "quality or resolution. Nothing was charged."
    )
    assert friendly_message(refusal) == refusal.message
    assert (refusal.budget, refusal.left) == ("member_daily", 3)
