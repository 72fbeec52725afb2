"""The channel fallback happens exactly once, even when the bot dies in the middle of posting it.

Discord creates the message and its answer never arrives (the loopback Discord withholds it),
the bot is stopped and started again on the same database: the result (or the failure notice)
is in the channel once — through the post's nonce within Discord's nonce window, through the
channel's history past it.
"""

from __future__ import annotations

from tests.app.helpers import result_messages, wait_settled
from tests.app.plugin import Atelier
from tests.fakes.discord import Event, Message


def _creates_after(atelier: Atelier, seq: int) -> list[Event]:
    return [e for e in atelier.discord.events_of("message.create", ok=True) if e.seq > seq]


def _failure_notices(atelier: Atelier) -> list[Message]:
    return [
        m
        for m in atelier.discord.channel_messages(atelier.studio.art)
        if m.interaction_id is None and "could not be completed" in m.content
    ]


async def _crash_during_result_post(atelier: Atelier) -> Event:
    """Run a job whose result must be posted in the channel; stop the bot during that post."""
    atelier.discord.token_lifetime = 0.3  # Discord refuses the token: the result is a post
    atelier.toapis.script(queue_s=0.4, run_s=0.4)
    atelier.discord.withhold_response("message.create", when=lambda e: bool(e.files))
    atelier.slash("imagine", {"prompt": "posted while the bot dies"})
    withheld = await atelier.discord.wait_for(lambda e: "withheld" in e.meta, timeout=20)
    assert withheld.message is not None and withheld.message.attachments
    await atelier.runner.stop(atelier.bot)  # before Discord's answer arrives
    return withheld


async def test_a_crash_during_the_fallback_post_posts_the_result_once(atelier: Atelier) -> None:
    withheld = await _crash_during_result_post(atelier)
    await atelier.restart()
    await wait_settled(atelier, 1, "delivered")
    assert [m.id for m in result_messages(atelier.discord)] == [withheld.message.id]  # type: ignore[union-attr]
    # The repeat carried the same nonce, and Discord answered with the first message.
    again = [e for e in _creates_after(atelier, withheld.seq) if e.files]
    assert [e.meta.get("nonce_reused") for e in again] == [True]
    assert again[0].payload["nonce"] == withheld.payload["nonce"] == "atelier:r:1"


async def test_past_the_nonce_window_the_fallback_post_is_found_in_the_channel(
    atelier: Atelier,
) -> None:
    await atelier.restart(clock=atelier.discord.clock)  # one clock for bot and Discord
    withheld = await _crash_during_result_post(atelier)
    atelier.discord.clock.advance(atelier.discord.nonce_window + 10)  # Discord forgot the nonce
    await atelier.restart(clock=atelier.discord.clock)
    await wait_settled(atelier, 1, "delivered")
    assert [m.id for m in result_messages(atelier.discord)] == [withheld.message.id]  # type: ignore[union-attr]
    later = [e for e in atelier.discord.events if e.seq > withheld.seq]
    assert [e for e in later if e.kind == "message.create"] == []  # nothing posted again
    assert [e.kind for e in later if e.kind == "message.history"] == ["message.history"]


async def test_a_lost_answer_to_the_fallback_post_is_not_posted_again(atelier: Atelier) -> None:
    atelier.discord.token_lifetime = 0.3
    atelier.toapis.script(queue_s=0.4, run_s=0.4)
    rule = atelier.discord.withhold_response(
        "message.create", when=lambda e: bool(e.files), mode="drop"
    )
    atelier.slash("imagine", {"prompt": "the answer is lost"})
    await wait_settled(atelier, 1, "delivered", timeout=30)  # the engine retried the delivery
    (dropped,) = rule.hits
    assert [m.id for m in result_messages(atelier.discord)] == [dropped.message.id]  # type: ignore[union-attr]
    again = [e for e in _creates_after(atelier, dropped.seq) if e.files]
    assert [e.meta.get("nonce_reused") for e in again] == [True]


async def _crash_during_failure_notice(atelier: Atelier) -> Event:
    atelier.discord.token_lifetime = 0.3  # the failure is told in a channel message
    atelier.toapis.script(queue_s=0.4, run_s=0.4, outcome="failed", error_message="no")
    atelier.discord.withhold_response(
        "message.create", when=lambda e: "could not be completed" in e.payload.get("content", "")
    )
    atelier.slash("imagine", {"prompt": "fails while the bot dies"})
    withheld = await atelier.discord.wait_for(lambda e: "withheld" in e.meta, timeout=20)
    await atelier.runner.stop(atelier.bot)
    return withheld


async def test_a_crash_during_the_failure_notice_tells_the_member_once(atelier: Atelier) -> None:
    withheld = await _crash_during_failure_notice(atelier)
    await atelier.restart()
    job = await wait_settled(atelier, 1, "failed")
    assert job.notified  # the notice was confirmed after the restart
    assert [m.id for m in _failure_notices(atelier)] == [withheld.message.id]  # type: ignore[union-attr]
    again = _creates_after(atelier, withheld.seq)
    assert [e.meta.get("nonce_reused") for e in again] == [True]


async def test_past_the_nonce_window_the_failure_notice_is_found_in_the_channel(
    atelier: Atelier,
) -> None:
    await atelier.restart(clock=atelier.discord.clock)
    withheld = await _crash_during_failure_notice(atelier)
    atelier.discord.clock.advance(atelier.discord.nonce_window + 10)
    await atelier.restart(clock=atelier.discord.clock)
    job = await wait_settled(atelier, 1, "failed")
    assert job.notified
    assert [m.id for m in _failure_notices(atelier)] == [withheld.message.id]  # type: ignore[union-attr]
    assert _creates_after(atelier, withheld.seq) == []
