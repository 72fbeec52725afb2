"""The gallery gets each delivered result exactly once, even when the bot dies while posting it.

The gallery is an engine listener: it runs after the ``delivered`` write, and a crash before
it finished re-runs it from ``list_followups`` on the next start. Either way the post must be
found — by its nonce within Discord's nonce window, or in the gallery's history past it.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.app.helpers import mentions_nothing, result_messages, text_of, wait_settled
from tests.app.plugin import Atelier, Studio
from tests.fakes.discord import Channel, Event, Message


@pytest.fixture
def gallery(atelier_studio: Studio) -> Channel:
    """A #gallery channel (made before the bot starts, so the bot sees it)."""
    return atelier_studio.guild.add_text_channel("gallery")


async def _turn_on(atelier: Atelier, gallery: Channel) -> None:
    await atelier.bot.moderation.settings.set_gallery(
        atelier.studio.guild.id, gallery.id, atelier.studio.mod.id
    )


async def _finished(atelier: Atelier, job_id: int) -> None:
    """Wait until the job is delivered and settled and the engine has nothing left to do."""
    await wait_settled(atelier, job_id, "delivered")
    await asyncio.wait_for(atelier.bot.engine.wait_idle(), 15)


def _gallery_creates(atelier: Atelier, gallery: Channel, since: int = -1) -> list[Event]:
    return [
        e
        for e in atelier.discord.events_of("message.create", ok=True)
        if e.seq > since and e.message is not None and e.message.channel_id == gallery.id
    ]


def _posted(atelier: Atelier, gallery: Channel) -> list[Message]:
    return atelier.discord.channel_messages(gallery)


async def test_the_gallery_gets_the_result_exactly_once(gallery: Channel, atelier: Atelier) -> None:
    await _turn_on(atelier, gallery)
    rec = atelier.slash("imagine", {"prompt": "a gallery fox @everyone"})
    await atelier.result(rec)
    await _finished(atelier, 1)
    (posted,) = _posted(atelier, gallery)
    assert len(_gallery_creates(atelier, gallery)) == 1
    assert posted.attachments[0].data.startswith(b"\x89PNG")
    assert posted.attachments[0].filename == "atelier-1-1.png"
    assert posted.content == f"By <@{atelier.studio.alice.id}>"
    assert mentions_nothing(posted.allowed_mentions)
    assert "a gallery fox" in text_of(posted) and "job #1" in text_of(posted)
    # The member's own result is where it belongs, once.
    assert [m.id for m in result_messages(atelier.discord) if m.channel_id != gallery.id] == [
        rec.original.id  # type: ignore[union-attr]
    ]


async def test_no_gallery_post_in_the_channel_the_job_ran_in(
    gallery: Channel, atelier: Atelier
) -> None:
    await _turn_on(atelier, atelier.studio.art)  # the gallery is the art channel itself
    await atelier.result(atelier.slash("imagine", {"prompt": "here already"}))
    await _finished(atelier, 1)
    assert len(result_messages(atelier.discord)) == 1
    assert _posted(atelier, gallery) == []


async def _crash_during_gallery_post(atelier: Atelier, gallery: Channel) -> Event:
    await _turn_on(atelier, gallery)
    atelier.discord.withhold_response(
        "message.create",
        when=lambda e: e.message is not None and e.message.channel_id == gallery.id,
    )
    rec = atelier.slash("imagine", {"prompt": "a fox for the gallery"})
    await atelier.result(rec)
    withheld = await atelier.discord.wait_for(lambda e: "withheld" in e.meta, timeout=20)
    await atelier.runner.stop(atelier.bot)  # before Discord's answer arrives
    return withheld


async def test_a_crash_during_the_gallery_post_posts_it_once(
    gallery: Channel, atelier: Atelier
) -> None:
    withheld = await _crash_during_gallery_post(atelier, gallery)
    await atelier.restart()
    await _finished(atelier, 1)
    assert [m.id for m in _posted(atelier, gallery)] == [withheld.message.id]  # type: ignore[union-attr]
    # Found again through its nonce (or, while the gallery still runs before the delivered
    # write, in the gallery's history): no second message was created.
    again = _gallery_creates(atelier, gallery, since=withheld.seq)
    assert all(e.meta.get("nonce_reused") for e in again), again
    assert withheld.payload["nonce"] == "atelier:g:1"


async def test_past_the_nonce_window_the_gallery_post_is_found_in_its_history(
    gallery: Channel, atelier: Atelier
) -> None:
    await atelier.restart(clock=atelier.discord.clock)  # one clock for bot and Discord
    withheld = await _crash_during_gallery_post(atelier, gallery)
    atelier.discord.clock.advance(atelier.discord.nonce_window + 10)
    await atelier.restart(clock=atelier.discord.clock)
    await _finished(atelier, 1)
    assert [m.id for m in _posted(atelier, gallery)] == [withheld.message.id]  # type: ignore[union-attr]
    assert _gallery_creates(atelier, gallery, since=withheld.seq) == []
    looked = [
        e
        for e in atelier.discord.events_of("message.history")
        if e.seq > withheld.seq and str(gallery.id) in e.path
    ]
    assert looked
