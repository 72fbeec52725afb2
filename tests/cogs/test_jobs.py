"""/jobs list and /jobs cancel."""

from __future__ import annotations

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
