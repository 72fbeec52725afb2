"""Delivery edge cases: old messages (30046), a deleted response, a restart after expiry."""

from __future__ import annotations

from tests.app.helpers import result_messages, wait_settled
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
    # Exactly one progress edit is refused (then progress goes quiet); the pointer edit that
    # would follow the posted result is skipped for a message that old, so none more.
    assert len(old) == 1, [e.kind for e in old]
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


async def test_a_failure_after_the_token_expired_is_explained_in_the_channel(
    atelier: Atelier,
) -> None:
    atelier.discord.token_lifetime = 0.3  # Discord refuses the token before the task ends
    atelier.toapis.script(
        queue_s=0.4, run_s=0.4, outcome="failed", error_message="blocked by safety"
    )
    atelier.slash("imagine", {"prompt": "something refused @everyone"})
    alice = atelier.studio.alice
    event = await atelier.discord.wait_for(
        lambda ev: ev.kind == "message.create" and ev.ok and ev.message is not None, timeout=20
    )
    msg = event.message
    assert msg is not None and msg.interaction_id is None
    assert msg.content.startswith(f"<@{alice.id}>")
    assert msg.allowed_mentions is not None and msg.allowed_mentions.get("parse") == []
    assert [int(u) for u in msg.allowed_mentions.get("users", [])] == [alice.id]
    text = str(msg.embeds)
    assert "blocked by safety" in text and "Nothing was charged" in text
    assert "Traceback" not in text and "{" not in msg.content
    job = await wait_settled(atelier, 1)
    assert job.state.value == "failed"
    assert job.charge_state.value == "released"


async def test_a_channel_that_refuses_the_result_fails_the_job_and_releases_it(
    atelier: Atelier,
) -> None:
    from tests.fakes.discord.model import SEND_MESSAGES

    atelier.discord.token_lifetime = 0.3  # the fallback is a channel message...
    atelier.toapis.script(queue_s=0.4, run_s=0.4)
    rec = atelier.slash("imagine", {"prompt": "nowhere to post"})
    await rec.wait_response()
    # ...and a moderator takes Send Messages away from the bot in the meantime.
    atelier.studio.art.set_permissions(atelier.studio.guild.bot_role, deny=SEND_MESSAGES)
    job = await wait_settled(atelier, 1)
    assert job.state.value == "failed" and job.error_code == "undeliverable"
    assert job.charge_state.value == "released"
    assert result_messages(atelier.discord) == []
