"""/quota over the loopback Discord: members see credits, moderators change budgets."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from PIL import Image

from bot.jobs.records import NewJob, decode_request
from tests.app.helpers import mentions_nothing, private_answer, text_of
from tests.app.plugin import Atelier, Studio
from tests.fakes.discord import Member, Message

MANAGE_GUILD = 1 << 5


@pytest.fixture
def managers(atelier_studio: Studio) -> Member:
    """Give the server a 'managers' role (Manage Server) held by a new member, carol."""
    guild = atelier_studio.guild
    role = guild.add_role("managers", permissions=MANAGE_GUILD)
    guild.add_role("artists")
    return guild.add_member("carol", roles=[role])


async def ask(
    atelier: Atelier, command: str, options: dict[str, Any] | None = None, **kw: Any
) -> Message:
    rec = atelier.slash(command, options, **kw)
    msg = await private_answer(atelier.discord, rec)
    assert msg.ephemeral
    assert mentions_nothing(msg.allowed_mentions), msg.allowed_mentions
    return msg


async def test_quota_me_shows_credits_resets_and_costs(atelier: Atelier) -> None:
    text = text_of(await ask(atelier, "quota me"))
    assert "20** of 20 credits left" in text
    assert "<t:" in text  # when it resets
    assert "gpt-image-1.5-official 1K: low 1, medium 2, high 4" in text
    assert "gpt-4o-image: 2 per image" in text


async def test_members_without_manage_server_cannot_change_anything(
    managers: Member, atelier: Atelier
) -> None:
    bob = atelier.studio.bob
    mod = atelier.studio.mod  # Manage Messages is not enough
    artists = next(r for r in atelier.studio.guild.roles.values() if r.name == "artists")
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("quota server", {"daily": "5"}),
        ("quota member", {"member": bob, "daily": "100"}),
        ("quota role", {"role": artists, "daily": "9"}),
        ("quota grant", {"member": bob, "credits": 50}),
        ("quota reset", {}),
        ("quota reset", {"member": bob}),
        ("quota usage", {}),
    ]
    for who in (atelier.studio.alice, mod):
        for command, options in attempts:
            msg = await ask(atelier, command, options, member=who)
            assert "Manage Server" in msg.content, (command, msg.content)
    assert await atelier.bot.db.audit.recent(atelier.studio.guild.id) == []
    row = await atelier.bot.db.quotas.get_guild(atelier.studio.guild.id)
    assert row.pool_daily is None
    assert await atelier.bot.db.quotas.member_caps(atelier.studio.guild.id) == {}


async def test_moderator_sets_the_pool_and_sees_it(managers: Member, atelier: Atelier) -> None:
    msg = await ask(
        atelier,
        "quota server",
        {"daily": "10", "monthly": "unlimited", "member_daily": "4", "timezone": "europe/paris"},
        member=managers,
    )
    assert "updated" in msg.content
    assert "Daily pool: 10" in msg.content and "Monthly pool: unlimited" in msg.content
    assert "Member daily cap: 4" in msg.content and "Europe/Paris" in msg.content
    text = text_of(await ask(atelier, "quota me"))
    assert "4** of 4 credits left" in text and "10 of 10 credits left" in text


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"daily": "lots"}, "whole number"),
        ({"monthly": "-3"}, "whole number"),
        ({"timezone": "Mars/Base"}, "IANA"),
    ],
)
async def test_bad_input_gets_a_clear_message_and_changes_nothing(
    managers: Member, atelier: Atelier, options: dict[str, Any], fragment: str
) -> None:
    msg = await ask(atelier, "quota server", options, member=managers)
    assert fragment in msg.content
    assert await atelier.bot.db.audit.recent(atelier.studio.guild.id) == []


async def test_member_role_grant_and_reset(managers: Member, atelier: Atelier) -> None:
    guild = atelier.studio.guild
    bob = atelier.studio.bob
    artists = next(r for r in guild.roles.values() if r.name == "artists")
    bob.roles.append(artists)
    msg = await ask(atelier, "quota role", {"role": artists, "daily": "50"}, member=managers)
    assert "none → 50" in msg.content
    assert "50** of 50 credits left" in text_of(await ask(atelier, "quota me", member=bob))
    msg = await ask(atelier, "quota member", {"member": bob, "daily": "3"}, member=managers)
    assert "→ 3" in msg.content
    msg = await ask(atelier, "quota grant", {"member": bob, "credits": 5}, member=managers)
    assert "5 granted credits" in msg.content
    text = text_of(await ask(atelier, "quota me", member=bob))
    assert "3** of 3 credits left" in text and "5** granted" in text
    msg = await ask(atelier, "quota server", {}, member=managers)
    assert f"Role caps: <@&{artists.id}> 50" in msg.content
    assert f"Member caps: <@{bob.id}> 3" in msg.content
    msg = await ask(atelier, "quota reset", {"member": bob}, member=managers)
    assert "0 credits forgiven" in msg.content
    msg = await ask(atelier, "quota reset", {}, member=managers)
    assert "server pool" in msg.content
    actions = [e.action for e in await atelier.bot.db.audit.recent(guild.id)]
    assert actions == [
        "quota.reset",
        "quota.reset",
        "quota.grant",
        "quota.member_daily",
        "quota.role_daily",
    ]


async def test_refused_request_is_ephemeral_says_why_and_calls_nothing(
    managers: Member, atelier: Atelier
) -> None:
    await ask(
        atelier, "quota member", {"member": atelier.studio.alice, "daily": "1"}, member=managers
    )
    rec = atelier.slash("imagine", {"prompt": "a lighthouse", "quality": "medium"})
    msg = await private_answer(atelier.discord, rec)
    assert "1 credit left today" in msg.content and "costs 2 credits" in msg.content
    assert "<t:" in msg.content and "Nothing was charged" in msg.content
    assert atelier.toapis.requests_to("submit") == []
    status = text_of(await ask(atelier, "quota me"))
    assert "1** of 1 credits left" in status


async def test_delivered_generation_spends_credits_and_shows_in_usage(
    managers: Member, atelier: Atelier
) -> None:
    rec = atelier.slash("imagine", {"prompt": "a lighthouse", "quality": "medium", "count": 2})
    await atelier.result(rec)
    job = await atelier.wait_job(1, "delivered")
    assert job.cost == 4
    for _ in range(100):
        charge = await atelier.bot.db.quotas.get_charge(1)
        if charge is not None and charge.state == "committed":
            break
        await asyncio.sleep(0.02)
    assert charge is not None and charge.state == "committed"
    assert "16** of 20 credits left" in text_of(await ask(atelier, "quota me"))
    rec = atelier.slash("quota usage", {"days": 7}, member=managers)
    msg = await rec.wait_original(lambda m: bool(m.attachments))
    assert msg.ephemeral and mentions_nothing(msg.allowed_mentions)
    assert len(msg.attachments) == 1
    data = msg.attachments[0].data
    assert data.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(data)) as img:
        img.verify()
    text = text_of(msg)
    assert "4" in text and "gpt-image-1.5-official: 4" in text
    assert f"<@{atelier.studio.alice.id}>" in text  # shown, but pings nobody


async def test_usage_days_option_is_bounded_1_to_90(managers: Member, atelier: Atelier) -> None:
    # The option is a Range[1, 90]: the fake validates against the synced definition.
    cmd = atelier.discord.commands[None][("quota", 1)]
    usage = next(o for o in cmd["options"] if o["name"] == "usage")
    days = usage["options"][0]
    assert (days["min_value"], days["max_value"]) == (1, 90)


async def test_button_generations_are_charged_and_refused_the_same_way(
    managers: Member, atelier: Atelier
) -> None:
    rec = atelier.slash("imagine", {"prompt": "a red fox", "quality": "high"})  # 4 credits
    msg = await atelier.result(rec)
    await atelier.wait_job(1, "delivered")
    await ask(
        atelier, "quota member", {"member": atelier.studio.alice, "daily": "6"}, member=managers
    )
    click = atelier.discord.click(msg, "atelier:reroll:1", member=atelier.studio.alice)
    answer = await private_answer(atelier.discord, click)
    assert "2 credits left today" in answer.content and "costs 4" in answer.content
    assert len(atelier.toapis.requests_to("submit")) == 1


async def test_reservation_refused_after_the_precheck_is_told_privately(
    managers: Member, atelier: Atelier
) -> None:
    # Another request takes the last credits between the policy check and the reservation.
    quotas = atelier.bot.moderation.quotas
    await ask(
        atelier, "quota member", {"member": atelier.studio.alice, "daily": "2"}, member=managers
    )
    real_precheck = quotas.precheck

    async def precheck_then_spend(member: Any, credits: int) -> None:
        await real_precheck(member, credits)
        job = await atelier.bot.db.jobs.create(
            NewJob(
                member_id=atelier.studio.alice.id,
                guild_id=atelier.studio.guild.id,
                request=decode_request('{"model": "gpt-4o-image", "prompt": "x", "n": 1}'),
            ),
            now=0.0,
        )
        await quotas.reserve(job)

    quotas.precheck = precheck_then_spend  # type: ignore[method-assign]
    rec = atelier.slash("imagine", {"prompt": "a lighthouse", "quality": "medium"})
    msg = await private_answer(atelier.discord, rec)
    assert "0 credits left today" in msg.content and "Nothing was charged" in msg.content
    assert atelier.toapis.requests_to("submit") == []


async def test_everyone_role_sets_the_server_default_cap(
    managers: Member, atelier: Atelier
) -> None:
    everyone = atelier.studio.guild.roles[atelier.studio.guild.id]
    msg = await ask(atelier, "quota role", {"role": everyone, "daily": "7"}, member=managers)
    assert "default member cap: 7" in msg.content
    assert "7** of 7 credits left" in text_of(await ask(atelier, "quota me"))
    assert "No server-wide limit" in text_of(await ask(atelier, "quota me"))


async def test_usage_chart_is_drawn_off_the_event_loop(
    managers: Member, atelier: Atelier, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import threading

    from bot.quota.chart import render_usage_chart

    drawn_on: list[threading.Thread] = []

    def recording_chart(*args: Any, **kwargs: Any) -> bytes:
        drawn_on.append(threading.current_thread())
        return render_usage_chart(*args, **kwargs)

    # The module the bot loaded as its extension.
    monkeypatch.setattr(sys.modules["cogs.quota"], "render_usage_chart", recording_chart)
    rec = atelier.slash("quota usage", {"days": 3}, member=managers)
    msg = await rec.wait_original(lambda m: bool(m.attachments))
    assert msg.attachments[0].data.startswith(b"\x89PNG")
    assert drawn_on and drawn_on[0] is not threading.main_thread()
