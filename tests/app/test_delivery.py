"""Delivery edge cases: old messages (30046), a deleted response, a restart after expiry."""

from __future__ import annotations

from tests.app.helpers import result_messages
from tests.app.plugin import Atelier


async def test_progress_stops_on_old_messages_and_the_result_is_posted(atelier: Atelier) -> None:
    atelier.toapis.script(queue_s=0.3, run_s=7.0)
    rec = atelier.slash("imagine", {"prompt": "an hour later"})
    await rec.wait_event(lambda ev: ev.kind == "webhook.edit")
    # An hour passes at Discord: the token is gone and the message is too old to edit.
    atelier.discord.old_message_edit_limit = 0
    atelier.discord.clock.advance(3700)
    event = await atelier.discord.wait_for(
        lambda ev: ev.kind == "message.create" and ev.ok and bool(ev.files), timeout=30
    )
    assert event.message is not None and f"<@{atelier.studio.alice.id}>" in event.message.content
    old = [e for e in atelier.discord.events if e.code == 30046]
    assert len(old) <= 2  # one refused progress edit (then quiet), at most one pointer edit
    assert len(result_messages(atelier.discord)) == 1


async def test_a_deleted_response_gets_the_result_as_a_channel_message(atelier: Atelier) -> None:
    atelier.toapis.script(queue_s=0.3, run_s=0.6)
    rec = atelier.slash("imagine", {"prompt": "deleted meanwhile"})
    await rec.wait_event(lambda ev: ev.kind == "webhook.edit")
    assert rec.original is not None
    rec.original.deleted = True  # the member (or a moderator) removed it
    event = await atelier.discord.wait_for(
        lambda ev: ev.kind == "message.create" and ev.ok and bool(ev.files), timeout=20
    )
    assert event.message is not None
    await atelier.wait_job(1, "delivered")


async def test_after_a_restart_an_expired_token_means_a_channel_message(atelier: Atelier) -> None:
    atelier.toapis.script(queue_s=0.3, run_s=3.0)
    rec = atelier.slash("imagine", {"prompt": "restart after expiry"})
    await atelier.wait_job(1, "submitted", "running")
    await atelier.runner.stop(atelier.bot)
    atelier.discord.token_lifetime = 0.1
    await atelier.restart()
    event = await atelier.discord.wait_for(
        lambda ev: ev.kind == "message.create" and ev.ok and bool(ev.files), timeout=30
    )
    assert event.message is not None
    assert not [m for m in [rec.original] if m is not None and m.attachments]
    await atelier.wait_job(1, "delivered")
    assert len(result_messages(atelier.discord)) == 1
