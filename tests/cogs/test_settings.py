"""/settings over the loopback Discord: channels, gallery, defaults, limits, blocklist, audit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.app.helpers import mentions_nothing, private_answer, text_of
from tests.app.plugin import Atelier, Studio
from tests.fakes.discord import Member, Message

MANAGE_GUILD = 1 << 5


@pytest.fixture
def carol(atelier_studio: Studio) -> Member:
    """A moderator with Manage Server, and a #gallery channel."""
    guild = atelier_studio.guild
    guild.add_text_channel("gallery")
    return guild.add_member("carol", roles=[guild.add_role("managers", permissions=MANAGE_GUILD)])


async def ask(
    atelier: Atelier, command: str, options: dict[str, Any] | None = None, **kw: Any
) -> Message:
    rec = atelier.slash(command, options, **kw)
    msg = await private_answer(atelier.discord, rec)
    assert msg.ephemeral
    assert mentions_nothing(msg.allowed_mentions), msg.allowed_mentions
    return msg


def channel(atelier: Atelier, name: str) -> Any:
    return atelier.studio.guild.channel(name)


async def test_settings_is_hidden_by_default_permissions(carol: Member, atelier: Atelier) -> None:
    cmd = atelier.discord.commands[None][("settings", 1)]
    assert int(cmd["default_member_permissions"]) == MANAGE_GUILD
    names = {o["name"] for o in cmd["options"]}
    assert names == {"channels", "blocklist", "gallery", "defaults", "limits", "language", "audit"}


async def test_no_change_without_manage_server_even_when_shown(
    carol: Member, atelier: Atelier
) -> None:
    art = channel(atelier, "art")
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("settings channels add", {"channel": art}),
        ("settings channels remove", {"channel": art}),
        ("settings channels list", {}),
        ("settings gallery", {"channel": art}),
        ("settings defaults", {"quality": "high"}),
        ("settings limits", {"max_count": 1}),
        ("settings blocklist add", {"term": "fox"}),
        ("settings blocklist remove", {"term": "fox"}),
        ("settings blocklist list", {}),
        ("settings audit", {}),
    ]
    for who in (atelier.studio.alice, atelier.studio.mod):
        for command, options in attempts:
            msg = await ask(atelier, command, options, member=who)
            assert "Manage Server" in msg.content, (command, msg.content)
    row = await atelier.bot.db.guild_settings.get(atelier.studio.guild.id)
    assert row.channels == () and row.blocklist == () and row.max_count is None
    assert await atelier.bot.db.audit.recent(atelier.studio.guild.id) == []


async def test_art_channels_restrict_generation(carol: Member, atelier: Atelier) -> None:
    art, general = channel(atelier, "art"), channel(atelier, "general")
    msg = await ask(atelier, "settings channels add", {"channel": art}, member=carol)
    assert f"<#{art.id}> is now an art channel" in msg.content
    msg = await ask(atelier, "settings channels list", member=carol)
    assert f"<#{art.id}>" in msg.content
    rec = atelier.slash("imagine", {"prompt": "a fox"}, channel=general)
    refused = await private_answer(atelier.discord, rec)
    assert f"works only in <#{art.id}>" in refused.content
    assert atelier.toapis.requests_to("submit") == []
    await atelier.result(atelier.slash("imagine", {"prompt": "a fox"}, channel=art))
    msg = await ask(atelier, "settings channels remove", {"channel": art}, member=carol)
    assert "every channel" in msg.content


async def test_blocklist_refuses_words_not_substrings(carol: Member, atelier: Atelier) -> None:
    msg = await ask(atelier, "settings blocklist add", {"term": "Red Panda"}, member=carol)
    assert "Blocked “red panda”" in msg.content
    await ask(atelier, "settings blocklist add", {"term": "ass"}, member=carol)
    msg = await ask(atelier, "settings blocklist list", member=carol)
    assert "“ass”, “red panda”" in msg.content
    refused = await private_answer(
        atelier.discord, atelier.slash("imagine", {"prompt": "A RED  panda @everyone"})
    )
    assert "“red panda”" in refused.content and "nothing was charged" in refused.content
    assert mentions_nothing(refused.allowed_mentions)
    assert atelier.toapis.requests_to("submit") == []
    await atelier.result(atelier.slash("imagine", {"prompt": "a class of painters"}))
    msg = await ask(atelier, "settings blocklist remove", {"term": "RED PANDA"}, member=carol)
    assert "no longer blocked" in msg.content
    msg = await ask(atelier, "settings blocklist add", {"term": "!!!"}, member=carol)
    assert "letter or digit" in msg.content


async def test_gallery_gets_every_finished_result(carol: Member, atelier: Atelier) -> None:
    gallery = channel(atelier, "gallery")
    msg = await ask(atelier, "settings gallery", {"channel": gallery}, member=carol)
    assert f"<#{gallery.id}>" in msg.content
    await atelier.result(atelier.slash("imagine", {"prompt": "a gallery fox @everyone"}))
    ev = await atelier.discord.wait_for(
        lambda e: (
            e.kind == "message.create"
            and e.message is not None
            and e.message.channel_id == gallery.id
        ),
        timeout=10,
    )
    posted = ev.message
    assert posted is not None and posted.attachments
    # Once the engine has nothing left to do, the gallery holds that one post and no other.
    await asyncio.wait_for(atelier.bot.engine.wait_idle(), 15)
    assert [m.id for m in atelier.discord.channel_messages(gallery)] == [posted.id]
    assert posted.attachments[0].data.startswith(b"\x89PNG")
    assert mentions_nothing(posted.allowed_mentions)
    assert "a gallery fox" in text_of(posted)
    msg = await ask(atelier, "settings gallery", {}, member=carol)
    assert "off" in msg.content


async def test_defaults_and_limits(carol: Member, atelier: Atelier) -> None:
    msg = await ask(
        atelier, "settings defaults", {"quality": "low", "resolution": "2k"}, member=carol
    )
    assert "Quality: low" in msg.content and "Resolution: 2k → 2K" in msg.content
    msg = await ask(
        atelier, "settings limits", {"max_count": 2, "max_resolution": "2k"}, member=carol
    )
    assert "at most 2" in msg.content and "up to 2K" in msg.content
    refused = await private_answer(
        atelier.discord, atelier.slash("imagine", {"prompt": "many", "count": 3})
    )
    assert "you asked for 3" in refused.content
    msg = await ask(atelier, "settings limits", {"max_count": 9}, member=carol)
    assert "from 1 to 4" in msg.content
    rec = atelier.slash("imagine", {"prompt": "defaults please"})
    await atelier.result(rec)
    job = await atelier.wait_job(1, "delivered")
    assert job.quality == "low" and job.resolution == "2k"


async def test_audit_lists_who_changed_what(carol: Member, atelier: Atelier) -> None:
    await ask(atelier, "settings channels add", {"channel": channel(atelier, "art")}, member=carol)
    await ask(atelier, "quota server", {"daily": "unlimited"}, member=carol)
    await ask(atelier, "settings blocklist add", {"term": "gore"}, member=carol)
    await asyncio.sleep(0)
    msg = await ask(atelier, "settings audit", member=carol)
    text = text_of(msg)
    lines = [line for line in text.splitlines() if line.startswith("<t:")]
    assert len(lines) == 3
    assert f"<@{carol.id}> blocklist gore: — → gore" in lines[0]
    assert "pool daily: — → unlimited" in lines[1]
    assert f"channels: — → <#{channel(atelier, 'art').id}>" in lines[2]
