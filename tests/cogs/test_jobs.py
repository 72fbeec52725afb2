"""/jobs list and /jobs cancel."""

from __future__ import annotations

import json

from bot.jobs.records import NewJob, decode_request
from tests.app.helpers import private_answer, text_of
from tests.app.plugin import Atelier


async def _start(atelier: Atelier, prompt: str, member: object = None) -> object:
    rec = atelier.slash("imagine", {"prompt": prompt}, member=member)  # type: ignore[arg-type]
    await rec.wait_response()
    return rec


async def test_list_shows_only_my_unfinished_jobs(atelier: Atelier) -> None:
    atelier.toapis.script(times=3, queue_s=60, run_s=60)
    await _start(atelier, "first of mine")
    await _start(atelier, "bob's", member=atelier.studio.bob)
    await _start(atelier, "second of mine")
    await atelier.wait_job(3, "submitted")
    rec = atelier.slash("jobs list")
    answer = await private_answer(atelier.discord, rec)
    text = text_of(answer)
    assert "first of mine" in text and "second of mine" in text and "bob's" not in text
    assert "#1" in text and "#3" in text
    assert "position" in text and "%" in text


async def test_list_with_nothing_running(atelier: Atelier) -> None:
    answer = await private_answer(atelier.discord, atelier.slash("jobs list"))
    assert "no unfinished jobs" in answer.content


async def test_cancel_my_own_job(atelier: Atelier) -> None:
    atelier.toapis.script(queue_s=60, run_s=60)
    job_rec = await _start(atelier, "never mind")
    await atelier.wait_job(1, "submitted")
    answer = await private_answer(atelier.discord, atelier.slash("jobs cancel", {"job": 1}))
    assert "Cancelled job #1" in answer.content and "Nothing was charged" in answer.content
    job = await atelier.wait_job(1, "cancelled")
    assert job.state.value == "cancelled"
    msg = await job_rec.wait_original(
        lambda m: any(e.get("title") == "Cancelled" for e in m.embeds)
    )  # type: ignore[attr-defined]
    assert "Nothing was charged" in text_of(msg)


async def test_cannot_cancel_someone_elses_job(atelier: Atelier) -> None:
    atelier.toapis.script(queue_s=60, run_s=60)
    await _start(atelier, "bob's job", member=atelier.studio.bob)
    await atelier.wait_job(1, "submitted")
    answer = await private_answer(atelier.discord, atelier.slash("jobs cancel", {"job": 1}))
    assert "only your own" in answer.content
    assert (await atelier.job(1)).state.value == "submitted"


async def test_manage_messages_can_cancel_any_job(atelier: Atelier) -> None:
    atelier.toapis.script(queue_s=60, run_s=60)
    await _start(atelier, "bob's job", member=atelier.studio.bob)
    await atelier.wait_job(1, "submitted")
    answer = await private_answer(
        atelier.discord, atelier.slash("jobs cancel", {"job": 1}, member=atelier.studio.mod)
    )
    assert "Cancelled job #1" in answer.content
    await atelier.wait_job(1, "cancelled")


async def test_cancel_unknown_or_finished_jobs(atelier: Atelier) -> None:
    answer = await private_answer(atelier.discord, atelier.slash("jobs cancel", {"job": 42}))
    assert "no job #42" in answer.content
    rec = atelier.slash("imagine", {"prompt": "quick one"})
    await atelier.result(rec)
    await atelier.wait_job(1, "delivered")
    answer = await private_answer(atelier.discord, atelier.slash("jobs cancel", {"job": 1}))
    assert "already ended" in answer.content


async def test_cancel_autocomplete_offers_my_jobs(atelier: Atelier) -> None:
    atelier.toapis.script(times=2, queue_s=60, run_s=60)
    await _start(atelier, "mine to cancel")
    await _start(atelier, "bob's", member=atelier.studio.bob)
    await atelier.wait_job(2, "submitted")
    rec = atelier.slash("jobs cancel", {"job": ""}, focused="job")
    await rec.wait_response()
    assert rec.choices is not None
    assert [c["value"] for c in rec.choices] == [1]
    assert "mine to cancel" in rec.choices[0]["name"]


async def _record(atelier: Atelier, prompt: str, *, guild_id: int, member_id: int) -> int:
    """Record an unfinished job straight in the database (the engine never picks it up)."""
    job = await atelier.bot.db.jobs.create(
        NewJob(
            member_id=member_id,
            guild_id=guild_id,
            request=decode_request(json.dumps({"model": "gpt-4o-image", "prompt": prompt, "n": 1})),
        ),
        now=0.0,
    )
    return job.id


async def test_another_servers_jobs_never_show(atelier: Atelier) -> None:
    other = atelier.discord.add_guild("Elsewhere", channels=["art"], members=["eve"])
    alice, mod = atelier.studio.alice, atelier.studio.mod
    # Alice's and the moderator's own ids, but in another server: never shown here.
    await _record(atelier, "alice elsewhere", guild_id=other.id, member_id=alice.id)
    await _record(atelier, "mod elsewhere", guild_id=other.id, member_id=mod.id)
    here = await _record(
        atelier, "alice here", guild_id=atelier.studio.guild.id, member_id=alice.id
    )
    text = text_of(await private_answer(atelier.discord, atelier.slash("jobs list")))
    assert "alice here" in text and "elsewhere" not in text
    for member in (alice, mod):  # mod has Manage Messages: the whole server, still only this one
        rec = atelier.slash("jobs cancel", {"job": ""}, focused="job", member=member)
        await rec.wait_response()
        assert rec.choices is not None
        assert [c["value"] for c in rec.choices] == [here]
    # Typing the number of another server's job does not offer it either.
    rec = atelier.slash("jobs cancel", {"job": "1"}, focused="job")
    await rec.wait_response()
    assert rec.choices == []


async def test_autocomplete_is_capped_and_moderators_see_the_server(atelier: Atelier) -> None:
    guild_id = atelier.studio.guild.id
    bob = atelier.studio.bob
    ids = [
        await _record(atelier, f"bob {n}", guild_id=guild_id, member_id=bob.id) for n in range(30)
    ]
    rec = atelier.slash("jobs cancel", {"job": ""}, focused="job", member=atelier.studio.mod)
    await rec.wait_response()
    assert rec.choices is not None
    assert [c["value"] for c in rec.choices] == ids[:25]  # Discord's cap, oldest first
    # A job past the first 25 is still found by typing its number.
    rec = atelier.slash(
        "jobs cancel", {"job": str(ids[-1])}, focused="job", member=atelier.studio.mod
    )
    await rec.wait_response()
    assert [c["value"] for c in rec.choices or []] == [ids[-1]]
    # Alice (no Manage Messages) is offered none of bob's jobs.
    rec = atelier.slash("jobs cancel", {"job": ""}, focused="job")
    await rec.wait_response()
    assert rec.choices == []
    # /jobs list of a member with many jobs shows the first 15 and says there are more.
    text = text_of(await private_answer(atelier.discord, atelier.slash("jobs list", member=bob)))
    assert "bob 14" in text and "bob 15" not in text and "and more" in text
