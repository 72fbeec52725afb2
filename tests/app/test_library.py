"""/show and /history over the loopback Discord."""

from __future__ import annotations

import json
import re
import time

from bot.jobs.records import NewJob, decode_request
from tests.app.helpers import private_answer, text_of
from tests.app.plugin import Atelier
from tests.fakes.discord import InteractionRecord, Message

REQUEST = json.dumps({"model": "gpt-image-1.5-official", "prompt": "old idea"})


async def _delivered(
    atelier: Atelier, prompt: str, rec: InteractionRecord | None = None
) -> tuple[int, Message]:
    rec = rec or atelier.slash("imagine", {"prompt": prompt})
    result = await atelier.result(rec)
    job_id = max(j for j in [int(c.split(":")[2]) for c in result.custom_ids()])
    await atelier.wait_job(job_id, "delivered")
    return job_id, result


async def test_show_posts_a_finished_job_again_with_working_buttons(atelier: Atelier) -> None:
    job_id, original = await _delivered(atelier, "a red barn")
    # The result files are gone after delivery: the images come back from Discord.
    job = await atelier.job(job_id)
    assert job.files == ()
    rec = atelier.slash("show", {"job": job_id}, member=atelier.studio.bob)
    shown = await rec.wait_original(lambda m: bool(m.attachments) and not m.loading, timeout=10)
    assert not shown.ephemeral
    assert [a.data for a in shown.attachments] == [a.data for a in original.attachments]
    assert f"atelier:reroll:{job_id}" in shown.custom_ids()
    assert f"atelier:vary:{job_id}:1" in shown.custom_ids()
    assert "a red barn" in text_of(shown)
    # Its Vary button works: the re-posted image is the reference of a new job.
    vary = atelier.discord.click(shown, f"atelier:vary:{job_id}:1", member=atelier.studio.bob)
    await atelier.result(vary)
    uploads = atelier.toapis.requests_to("upload")
    assert uploads[-1].files["file"].data == shown.attachments[0].data


async def test_show_refuses_a_job_of_another_server_like_a_missing_one(atelier: Atelier) -> None:
    other = atelier.discord.add_guild("Elsewhere", channels=["lobby"], members=["zed"])
    elsewhere = atelier.discord.slash(
        "imagine", {"prompt": "secret"}, guild=other, member=other.member("zed")
    )
    job_id, _ = await _delivered(atelier, "secret", elsewhere)
    before = len(atelier.toapis.requests)
    texts = []
    for wanted in (job_id, 999):
        rec = atelier.slash("show", {"job": wanted})
        answer = await private_answer(atelier.discord, rec)
        assert rec.response_type == 4
        texts.append(answer.content.replace(str(wanted), "N"))
    assert texts[0] == texts[1] and "no job" in texts[0]
    assert len(atelier.toapis.requests) == before


async def test_show_says_so_when_the_images_are_gone(atelier: Atelier) -> None:
    job_id, original = await _delivered(atelier, "ephemeral art")
    original.deleted = True  # the result message was deleted...
    await atelier.bot.db.jobs.update(
        job_id, (await atelier.job(job_id)).state, now=time.time(), result_expires_at=1.0
    )  # ...and the image service's links expired
    rec = atelier.slash("show", {"job": job_id})
    answer = await private_answer(atelier.discord, rec)
    assert "no longer available" in answer.content
    assert not [m for m in rec.followups if not m.ephemeral]


def _listed(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\*\*#([0-9]+)\*\*", text)]


async def _seed(atelier: Atelier, member_id: int, count: int, guild_id: int) -> list[int]:
    ids = []
    request = decode_request(REQUEST)
    for n in range(count):
        job = await atelier.bot.db.jobs.create(
            NewJob(
                member_id=member_id,
                guild_id=guild_id,
                request=request.model_copy(update={"prompt": f"idea {n + 1}"}),
            ),
            now=time.time(),
            owner="another-process",
            lease_until=time.time() + 3600,
        )
        ids.append(job.id)
    return ids


async def test_history_pages_the_members_own_jobs_newest_first(atelier: Atelier) -> None:
    guild, alice, bob = atelier.studio.guild, atelier.studio.alice, atelier.studio.bob
    mine = await _seed(atelier, alice.id, 12, guild.id)
    await _seed(atelier, bob.id, 1, guild.id)
    await _seed(atelier, alice.id, 1, guild.id + 1)  # another server
    rec = atelier.slash("history", member=alice)
    page = await private_answer(atelier.discord, rec)
    text = text_of(page)
    assert page.ephemeral
    listed = _listed(text)
    assert listed == mine[::-1][:10]
    assert "Page 1 of 2" in text and "12 jobs" in text
    next_id = f"atelier:history:{alice.id}:2:next"
    assert next_id in page.custom_ids()
    # Another member cannot turn alice's pages.
    intruder = atelier.discord.click(page, next_id, member=bob)
    assert "another member" in (await private_answer(atelier.discord, intruder)).content
    # The buttons work after a restart (dynamic custom ids).
    await atelier.restart()
    turned = atelier.discord.click(page, next_id, member=alice)
    await turned.wait_response()
    assert turned.response_type == 7
    text = text_of(page)
    listed = _listed(text)
    assert listed == mine[::-1][10:] and "Page 2 of 2" in text
    back = f"atelier:history:{alice.id}:1:prev"
    assert back in page.custom_ids()
    turned = atelier.discord.click(page, back, member=alice)
    await turned.wait_response()
    assert "Page 1 of 2" in text_of(page)


async def test_history_and_show_speak_chinese(atelier: Atelier) -> None:
    rec = atelier.slash("history", locale="zh-CN")
    assert "还没有任务" in (await private_answer(atelier.discord, rec)).content
    rec = atelier.slash("show", {"job": 5}, locale="zh-CN")
    assert "没有任务 #5" in (await private_answer(atelier.discord, rec)).content
