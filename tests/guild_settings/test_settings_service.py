"""Server settings: channels, gallery, defaults, limits, blocklist, audit; and the policy."""

from __future__ import annotations

import pytest

from bot.guild_settings.blocklist import BlocklistError
from bot.guild_settings.policy import ServerPolicy
from bot.guild_settings.service import GuildSettingsService, SettingsError
from bot.policy import RequestContext
from bot.quota.service import QuotaExceeded
from bot.refusal import Refusal
from bot.storage import Database
from bot.toapis.models import GenerationRequest

MOD = 900
G = 1


def req(prompt: str = "a fox", **kw: object) -> GenerationRequest:
    data: dict[str, object] = {
        "model": "gpt-image-1.5-official",
        "prompt": prompt,
        "resolution": "1k",
        "quality": "low",
    }
    data.update(kw)
    return GenerationRequest(**data)  # type: ignore[arg-type]


def ctx(channel: int = 10, member: int = 7, **kw: object) -> RequestContext:
    return RequestContext(guild_id=G, channel_id=channel, member_id=member, **kw)  # type: ignore[arg-type]


async def test_art_channels_restrict_generation_and_name_the_allowed_ones(
    settings: GuildSettingsService, policy: ServerPolicy
) -> None:
    await policy.check(ctx(channel=10), req())  # no list: anywhere
    assert await settings.add_channel(G, 20, MOD)
    assert not await settings.add_channel(G, 20, MOD)
    assert await settings.add_channel(G, 30, MOD)
    with pytest.raises(Refusal) as err:
        await policy.check(ctx(channel=10), req())
    assert "<#20> or <#30>" in err.value.message
    await policy.check(ctx(channel=30), req())
    assert await settings.remove_channel(G, 20, MOD)
    assert not await settings.remove_channel(G, 20, MOD)
    assert (await settings.get(G)).channels == (30,)
    # Another server is not affected.
    await policy.check(RequestContext(guild_id=2, channel_id=10, member_id=7), req())


async def test_blocklist_refuses_before_anything_else(
    settings: GuildSettingsService, policy: ServerPolicy
) -> None:
    assert await settings.add_term(G, "  Red PANDA ", MOD) == ("red panda", True)
    assert await settings.add_term(G, "red panda", MOD) == ("red panda", False)
    await settings.add_term(G, "ass", MOD)
    await policy.check(ctx(), req("a class portrait"))
    with pytest.raises(Refusal, match="“red panda”"):
        await policy.check(ctx(), req("A red   panda eating"))
    assert await settings.remove_term(G, "RED panda", MOD) == ("red panda", True)
    await policy.check(ctx(), req("A red panda eating"))
    with pytest.raises(BlocklistError, match="empty"):
        await settings.add_term(G, "   ", MOD)


async def test_limits_refuse_too_many_images_and_too_high_a_resolution(
    settings: GuildSettingsService, policy: ServerPolicy
) -> None:
    await settings.set_limits(G, MOD, max_count=2, max_resolution="2k")
    with pytest.raises(Refusal, match="at most 2 images"):
        await policy.check(ctx(), req(n=3))
    with pytest.raises(Refusal, match="up to 2K"):
        await policy.check(ctx(), req(resolution="4k", size="16:9"))
    await policy.check(ctx(), req(n=2, resolution="2k"))
    with pytest.raises(SettingsError):
        await settings.set_limits(G, MOD, max_count=5)  # over the operator's 4
    with pytest.raises(SettingsError):
        await settings.set_limits(G, MOD, max_resolution="8k")
    await settings.set_limits(G, MOD, max_count=0, max_resolution="default")
    row = await settings.get(G)
    assert row.max_count is None and row.max_resolution is None


async def test_quota_precheck_refuses_with_the_reason(
    sdb: object, settings: GuildSettingsService, policy: ServerPolicy
) -> None:
    assert policy.quotas is not None
    await policy.quotas.configure_server(G, MOD, member_daily=3)
    with pytest.raises(QuotaExceeded, match="3 credits left today"):
        await policy.check(ctx(), req(quality="high"))  # 4 credits
    await policy.check(ctx(), req(quality="medium"))  # 2 credits


async def test_defaults_fall_back_to_the_operator_and_respect_limits(
    settings: GuildSettingsService, policy: ServerPolicy
) -> None:
    d = await policy.defaults(G)
    assert (d.model, d.resolution, d.quality, d.max_count) == (
        "gpt-image-1.5-official",
        "1k",
        "medium",
        4,
    )
    await settings.set_defaults(G, MOD, quality="high", resolution="2k")
    await settings.set_limits(G, MOD, max_count=3)
    d = await policy.defaults(G)
    assert (d.resolution, d.quality, d.max_count) == ("2k", "high", 3)
    await settings.set_defaults(G, MOD, model="gpt-4o-image")
    d = await policy.defaults(G)
    assert (d.model, d.resolution, d.quality) == ("gpt-4o-image", None, None)
    with pytest.raises(SettingsError, match="Unknown model"):
        await settings.set_defaults(G, MOD, model="dall-e-3")
    await settings.set_defaults(G, MOD, model="default", quality="default")
    d = await policy.defaults(G)
    assert (d.model, d.quality, d.resolution) == ("gpt-image-1.5-official", "medium", "2k")
    assert await policy.defaults(None) == settings.operator


async def test_every_change_is_in_the_audit_log(
    settings: GuildSettingsService, sdb: Database
) -> None:
    await settings.add_channel(G, 20, MOD)
    assert await settings.set_gallery(G, 55, MOD) == (None, 55)
    await settings.set_gallery(G, None, 901)
    await settings.set_defaults(G, MOD, quality="high")
    await settings.add_term(G, "gore", MOD)
    await settings.remove_term(G, "gore", MOD)
    await settings.set_defaults(G, MOD, quality="high")  # no change: not audited
    entries = await sdb.audit.recent(G)
    assert [(e.action, e.subject, e.before, e.after, e.actor_id) for e in entries] == [
        ("settings.blocklist", "gore", "gore", None, MOD),
        ("settings.blocklist", "gore", None, "gore", MOD),
        ("settings.default_quality", None, None, "high", MOD),
        ("settings.gallery_channel_id", None, "55", None, 901),
        ("settings.gallery_channel_id", None, None, "55", MOD),
        ("settings.channels", "20", None, "20", MOD),
    ]
    assert all(e.at == settings.clock.now() for e in entries)
    # Pages: the newest two, then the two before them.
    first = await sdb.audit.recent(G, limit=2)
    assert first == entries[:2]
    assert await sdb.audit.recent(G, limit=2, before_id=first[-1].id) == entries[2:4]
    assert await sdb.audit.recent(G + 1) == []


async def test_the_server_language_is_stored_audited_and_cleared(
    settings: GuildSettingsService, sdb: Database
) -> None:
    assert await settings.language(G) is None  # follows the server's Discord language
    before, after = await settings.set_language(G, MOD, "zh-CN")
    assert (before.language, after.language) == (None, "zh-CN")
    assert (await sdb.guild_settings.get(G)).language == "zh-CN"
    assert await settings.language(G + 1) is None  # per server
    assert await settings.language(None) is None
    with pytest.raises(SettingsError, match="en, zh-CN"):
        await settings.set_language(G, MOD, "fr")
    await settings.set_language(G, MOD, None)
    assert await settings.language(G) is None
    entries = await sdb.audit.recent(G)
    assert [(e.action, e.before, e.after) for e in entries] == [
        ("settings.language", "zh-CN", None),
        ("settings.language", None, "zh-CN"),
    ]
