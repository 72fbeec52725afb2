"""/imagine over the loopback Discord with the fake ToAPIs."""

from __future__ import annotations

import itertools

from tests.app.helpers import field, mentions_nothing, private_answer, text_of
from tests.app.plugin import Atelier, DatabaseWrites, image_bytes, png, written_before_ack
from tests.fakes.discord import Upload
from tests.fakes.toapis_model import TaskScript


async def test_text_to_image_edits_the_deferred_response_into_the_result(atelier: Atelier) -> None:
    rec = atelier.slash("imagine", {"prompt": "a lighthouse at dusk", "count": 2})
    first = await rec.wait_response()
    assert first.ok and rec.response_type == 5 and not rec.ephemeral  # public defer, in time
    msg = await atelier.result(rec)
    assert len(msg.attachments) == 2
    submits = atelier.toapis.requests_to("submit")
    assert len(submits) == 1
    body = submits[0].json
    assert body["prompt"] == "a lighthouse at dusk" and body["n"] == 2
    assert body["model"] == "gpt-image-1.5-official" and body["size"] == "1:1"
    assert "image_urls" not in body
    # The files posted are the images the service made.
    task_id = submits[0].task_id
    assert task_id is not None
    made = [
        atelier.toapis.results[u.rsplit("/", 1)[1]].data
        for u in atelier.toapis.result_urls(task_id)
    ]
    assert [a.data for a in msg.attachments] == made
    text = text_of(msg)
    assert "a lighthouse at dusk" in text
    assert field(msg, "Model") == "gpt-image-1.5-official"
    assert field(msg, "Size") == "1:1" and field(msg, "Resolution") == "1k"
    assert field(msg, "Quality") == "medium" and field(msg, "Count") == "2"
    assert field(msg, "Requested by") == f"<@{atelier.studio.alice.id}>"
    assert field(msg, "Job") == "#1"
    assert field(msg, "Cost") is not None
    ids = msg.custom_ids()
    assert "atelier:reroll:1" in ids and "atelier:delete:1" in ids
    assert {
        "atelier:vary:1:1",
        "atelier:vary:1:2",
        "atelier:upscale:1:1",
        "atelier:upscale:1:2",
    } <= set(ids)
    assert all(len(i) <= 100 for i in ids)
    await atelier.wait_job(1, "delivered")


async def test_options_are_sent_as_chosen(atelier: Atelier) -> None:
    rec = atelier.slash(
        "imagine",
        {
            "prompt": "a wide valley",
            "size": "16:9",
            "resolution": "4k",
            "quality": "high",
            "format": "jpeg",
        },
    )
    msg = await atelier.result(rec)
    body = atelier.toapis.requests_to("submit")[0].json
    assert body["size"] == "16:9" and body["resolution"] == "4k"
    assert body["quality"] == "high" and body["output_format"] == "jpeg"
    assert msg.attachments[0].content_type == "image/jpeg"


async def test_progress_is_shown_on_the_response_while_the_job_runs(atelier: Atelier) -> None:
    atelier.toapis.script(queue_s=0.5, run_s=4.0)
    rec = atelier.slash("imagine", {"prompt": "slow clouds"})
    working = await rec.wait_original(
        lambda m: any("Working" in e.get("title", "") for e in m.embeds), timeout=10
    )
    text = text_of(working)
    assert "slow clouds" in text and "%" in text and "Elapsed" in text and "Job #1" in text
    assert mentions_nothing(working.allowed_mentions)
    msg = await atelier.result(rec)
    # Progress edits are throttled: at most one per ~3 s, plus the final edit.
    edits = [
        e
        for e in atelier.discord.events
        if e.kind == "webhook.edit" and e.interaction is rec and e.ok
    ]
    assert msg.edit_count == len(edits)
    progress = [e for e in edits if not e.files]
    for a, b in itertools.pairwise(progress):
        assert b.monotonic - a.monotonic >= 2.0


async def test_references_are_uploaded_once_with_their_exact_bytes(atelier: Atelier) -> None:
    one = png(64, 48, (10, 20, 30))
    two = image_bytes(40, 40, "JPEG")
    rec = atelier.slash(
        "imagine",
        {
            "prompt": "combine these",
            "image1": Upload("one.png", one),
            "image2": Upload("two.jpg", two),
            "image3": Upload("again.png", one),
        },
    )
    await atelier.result(rec)
    uploads = atelier.toapis.requests_to("upload")
    sent = [r.files["file"].data for r in uploads]
    assert sent == [one, two]  # the third is the same bytes as the first: uploaded once
    issued = [u.url for u in atelier.toapis.uploads.values()]
    body = atelier.toapis.requests_to("submit")[0].json
    assert body["image_urls"] == [issued[0], issued[1], issued[0]]

    # A re-roll of the same request reuses the fresh uploads: no new upload.
    msg = rec.original
    assert msg is not None
    click = atelier.discord.click(msg, "atelier:reroll:1", member=atelier.studio.bob)
    await atelier.result(click)
    assert len(atelier.toapis.requests_to("upload")) == 2
    assert atelier.toapis.requests_to("submit")[1].json["image_urls"] == body["image_urls"]


async def test_webp_reference_is_converted_for_a_model_that_wants_png(atelier: Atelier) -> None:
    webp = image_bytes(30, 20, "WEBP")
    rec = atelier.slash("imagine", {"prompt": "from webp", "image1": Upload("pic.webp", webp)})
    await atelier.result(rec)
    upload = atelier.toapis.requests_to("upload")[0].files["file"]
    assert upload.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert atelier.toapis.requests_to("submit")[0].json["image_urls"] == [
        next(iter(atelier.toapis.uploads.values())).url
    ]


async def test_everyone_in_a_prompt_pings_no_one(atelier: Atelier) -> None:
    rec = atelier.slash("imagine", {"prompt": "@everyone look at <@&123> and @here"})
    msg = await atelier.result(rec)
    assert "@everyone" in text_of(msg)
    for event in atelier.discord.events:
        if (
            event.interaction is rec
            and event.kind in ("webhook.edit", "webhook.followup")
            and event.ok
        ):
            assert mentions_nothing((event.payload or {}).get("allowed_mentions")), event.payload
    assert mentions_nothing(msg.allowed_mentions)


async def test_an_api_failure_is_explained_on_the_same_message(atelier: Atelier) -> None:
    atelier.toapis.script(outcome="failed", queue_s=0.1, run_s=0.2)
    rec = atelier.slash("imagine", {"prompt": "something refused"})
    msg = await rec.wait_original(
        lambda m: any("could not be made" in e.get("title", "") for e in m.embeds), timeout=15
    )
    text = text_of(msg)
    assert "safety system" in text
    assert "Nothing was charged." in text
    assert "rewording" in text  # what to try
    assert "Traceback" not in text and "{" not in text
    assert "atelier:reroll:1" in msg.custom_ids()
    assert mentions_nothing(msg.allowed_mentions)


async def test_service_unavailable_is_a_clear_message(atelier: Atelier) -> None:
    atelier.toapis.deny_status = 402
    rec = atelier.slash("imagine", {"prompt": "no balance"})
    msg = await rec.wait_original(
        lambda m: any("could not be made" in e.get("title", "") for e in m.embeds), timeout=15
    )
    assert "unavailable" in text_of(msg) and "Nothing was charged." in text_of(msg)


async def test_gpt_4o_image_leaves_out_what_it_does_not_take(atelier: Atelier) -> None:
    rec = atelier.slash("imagine", {"prompt": "a cat", "model": "gpt-4o-image", "count": 2})
    await atelier.result(rec)
    body = atelier.toapis.requests_to("submit")[0].json
    assert body["model"] == "gpt-4o-image" and body["n"] == 2
    assert "resolution" not in body and "quality" not in body


async def test_expired_token_delivers_a_channel_message_mentioning_only_the_requester(
    atelier: Atelier,
) -> None:
    atelier.discord.token_lifetime = 0.3  # Discord refuses the token (401/50027) long before 15 min
    atelier.toapis.script(queue_s=0.4, run_s=0.4)
    rec = atelier.slash("imagine", {"prompt": "late delivery @everyone"})
    alice = atelier.studio.alice
    event = await atelier.discord.wait_for(
        lambda ev: ev.kind == "message.create" and ev.ok and bool(ev.files), timeout=20
    )
    msg = event.message
    assert msg is not None and msg.interaction_id is None
    assert msg.content.startswith(f"<@{alice.id}>")
    assert msg.allowed_mentions is not None
    assert msg.allowed_mentions.get("parse") == []
    assert [int(u) for u in msg.allowed_mentions.get("users", [])] == [alice.id]
    assert not msg.allowed_mentions.get("roles")
    refused = [e for e in atelier.discord.events if e.interaction is rec and e.code == 50027]
    assert refused  # the bot tried the token and Discord refused it
    await atelier.wait_job(1, "delivered")
    assert (
        len([m for m in atelier.discord.messages.values() if m.attachments and not m.deleted]) == 1
    )


async def test_oversized_result_is_reencoded_and_accepted(atelier: Atelier) -> None:
    atelier.toapis.script(queue_s=0.1, run_s=0.2, noisy=True)
    limit = 2_500_000
    rec = atelier.slash("imagine", {"prompt": "static"}, attachment_size_limit=limit)
    msg = await atelier.result(rec)
    original = next(iter(atelier.toapis.results.values())).data
    assert original is not None and len(original) > limit
    assert all(a.size <= limit for a in msg.attachments)
    assert msg.attachments[0].content_type == "image/jpeg"
    note = field(msg, "Note") or ""
    assert "re-encoded" in note or "preview" in note
    rejected = [e for e in atelier.discord.events if e.status == 413]
    assert not rejected


async def test_result_too_large_even_reencoded_becomes_a_preview(atelier: Atelier) -> None:
    atelier.toapis.script(queue_s=0.1, run_s=0.2, noisy=True)
    limit = 300_000
    rec = atelier.slash("imagine", {"prompt": "static"}, attachment_size_limit=limit)
    msg = await atelier.result(rec)
    assert msg.attachments[0].size <= limit
    assert "preview" in (field(msg, "Note") or "")


async def test_a_slow_task_still_answers_within_three_seconds(atelier: Atelier) -> None:
    atelier.toapis.script(queue_s=0.1, run_s=0.1)
    rec = atelier.slash("imagine", {"prompt": "quick", "image1": Upload("a.png", png())})
    event = await rec.wait_response()
    assert event.ok and event.meta["age"] < 3.0
    await atelier.result(rec)


async def test_unexpected_errors_show_a_reference_and_log_it(
    atelier: Atelier, caplog: object
) -> None:
    async def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    atelier.bot.generation.plan = boom  # type: ignore[method-assign]
    rec = atelier.slash("imagine", {"prompt": "x"})
    answer = await private_answer(atelier.discord, rec)
    assert "reference" in answer.content and "secret internals" not in answer.content
    assert atelier.toapis.requests == []


async def test_imagine_with_everything_default_follows_the_config(atelier: Atelier) -> None:
    atelier.toapis.script_next(TaskScript(queue_s=0.1, run_s=0.1))
    rec = atelier.slash("imagine", {"prompt": "defaults"})
    await atelier.result(rec)
    body = atelier.toapis.requests_to("submit")[0].json
    assert (body["size"], body["resolution"], body["quality"], body["n"]) == (
        "1:1",
        "1k",
        "medium",
        1,
    )


async def test_nothing_is_written_before_imagine_is_acknowledged(atelier: Atelier) -> None:
    watch = DatabaseWrites(atelier.settings)
    try:
        rec, early = await written_before_ack(
            atelier.discord, watch, lambda: atelier.slash("imagine", {"prompt": "a quiet pond"})
        )
        assert rec.response_type == 5  # the public deferral
        assert not early, "the database was written before the 3-second acknowledgement"
        await atelier.wait_job(1, "delivered")
        assert watch.written()  # the watch does see the job's writes, after the deferral
    finally:
        watch.close()
