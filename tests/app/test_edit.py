"""/edit: masks, regions and the refusals that must never reach the API."""

from __future__ import annotations

import pytest

from bot.images import MaskRegion
from tests.app.helpers import alpha_of, private_answer
from tests.app.plugin import Atelier, image_bytes, png
from tests.fakes.discord import Upload


def _mask(width: int, height: int, hole: tuple[int, int, int, int]) -> bytes:
    import io

    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    ImageDraw.Draw(img).rectangle(hole, fill=(0, 0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


async def test_edit_with_a_mask_uploads_image_and_mask_and_inpaints(atelier: Atelier) -> None:
    image = png(80, 60)
    mask = _mask(80, 60, (0, 0, 39, 59))
    rec = atelier.slash(
        "edit",
        {
            "image": Upload("photo.png", image),
            "prompt": "add a moon",
            "mask": Upload("mask.png", mask),
        },
    )
    await atelier.result(rec)
    uploads = atelier.toapis.requests_to("upload")
    assert [u.files["file"].data for u in uploads] == [image, mask]
    issued = [u.url for u in atelier.toapis.uploads.values()]
    body = atelier.toapis.requests_to("submit")[0].json
    assert body["image_urls"] == [issued[0]] and body["mask_url"] == issued[1]
    assert body["size"] == "4:3"  # the image's own ratio when no size is given


@pytest.mark.parametrize("region", list(MaskRegion))
async def test_each_region_draws_the_right_alpha_mask(atelier: Atelier, region: MaskRegion) -> None:
    width, height = 90, 70
    rec = atelier.slash(
        "edit",
        {
            "image": Upload("photo.png", png(width, height)),
            "prompt": "repaint",
            "region": region.value,
        },
    )
    await atelier.result(rec)
    uploads = atelier.toapis.requests_to("upload")
    assert len(uploads) == 2
    alpha = alpha_of(uploads[1].files["file"].data)
    assert alpha.size == (width, height)
    left, top, right, bottom = region.box(width, height)
    for x in range(width):
        for y in range(height):
            inside = left <= x < right and top <= y < bottom
            assert alpha.getpixel((x, y)) == (0 if inside else 255), (region, x, y)
    body = atelier.toapis.requests_to("submit")[0].json
    assert body["mask_url"] == list(atelier.toapis.uploads.values())[1].url


async def _refused(
    atelier: Atelier, command: str, options: dict[str, object], *needles: str
) -> str:
    rec = atelier.slash(command, options)
    answer = await private_answer(atelier.discord, rec)
    assert answer.ephemeral
    for needle in needles:
        assert needle.lower() in answer.content.lower(), answer.content
    assert atelier.toapis.requests == []  # nothing uploaded, nothing submitted
    assert await atelier.bot.engine.get(1) is None  # no job, nothing charged
    # No public message is left behind.
    assert not [m for m in atelier.discord.channel_messages(atelier.studio.art) if not m.loading]
    return answer.content


async def test_a_non_image_is_refused_at_once(atelier: Atelier) -> None:
    rec = atelier.slash("edit", {"image": Upload("notes.txt", b"hello there"), "prompt": "x"})
    answer = await private_answer(atelier.discord, rec)
    assert rec.response_type == 4  # refused before deferring
    assert "not an image" in answer.content
    assert atelier.toapis.requests == []


async def test_a_file_that_claims_to_be_an_image_but_is_not_is_refused_after_download(
    atelier: Atelier,
) -> None:
    content = await _refused(
        atelier,
        "imagine",
        {"prompt": "x", "image1": Upload("fake.png", b"not really a png", "image/png")},
        "not a readable image",
    )
    assert "Image 1" in content


async def test_an_oversized_file_is_refused_at_once(atelier: Atelier) -> None:
    big = png(16, 16) + b"\0" * (11 * 1024 * 1024)
    rec = atelier.slash("imagine", {"prompt": "x", "image1": Upload("big.png", big)})
    answer = await private_answer(atelier.discord, rec)
    assert rec.response_type == 4
    assert "10.0 MB" in answer.content
    assert atelier.toapis.requests == []
    assert not [e for e in atelier.discord.events if e.kind == "cdn.get"]  # never downloaded


async def test_a_mask_without_alpha_is_refused(atelier: Atelier) -> None:
    await _refused(
        atelier,
        "edit",
        {
            "image": Upload("photo.png", png(40, 30)),
            "prompt": "x",
            "mask": Upload("mask.png", png(40, 30)),
        },
        "no transparency",
    )


async def test_a_mask_of_the_wrong_size_is_refused(atelier: Atelier) -> None:
    await _refused(
        atelier,
        "edit",
        {
            "image": Upload("photo.png", png(40, 30)),
            "prompt": "x",
            "mask": Upload("mask.png", _mask(20, 20, (0, 0, 9, 9))),
        },
        "20x20",
        "40x30",
    )


async def test_a_jpeg_mask_is_refused(atelier: Atelier) -> None:
    await _refused(
        atelier,
        "edit",
        {
            "image": Upload("photo.png", png(40, 30)),
            "prompt": "x",
            "mask": Upload("mask.jpg", image_bytes(40, 30, "JPEG")),
        },
        "PNG",
    )


async def test_mask_and_region_together_are_refused(atelier: Atelier) -> None:
    await _refused(
        atelier,
        "edit",
        {
            "image": Upload("p.png", png(40, 30)),
            "prompt": "x",
            "mask": Upload("m.png", _mask(40, 30, (0, 0, 5, 5))),
            "region": "centre",
        },
        "not both",
    )


async def test_4k_with_an_unsupported_ratio_is_refused(atelier: Atelier) -> None:
    await _refused(
        atelier, "imagine", {"prompt": "x", "size": "1:1", "resolution": "4k"}, "4K works only with"
    )


async def test_too_many_images_are_refused(atelier: Atelier) -> None:
    await _refused(atelier, "imagine", {"prompt": "x", "count": 5}, "you asked for 5")


async def test_gpt_4o_image_count_rules_are_enforced(atelier: Atelier) -> None:
    await _refused(
        atelier, "imagine", {"prompt": "x", "model": "gpt-4o-image", "count": 3}, "1, 2 or 4"
    )


async def test_too_long_a_prompt_for_the_model_is_refused(atelier: Atelier) -> None:
    await _refused(
        atelier, "imagine", {"prompt": "x" * 1200, "model": "gpt-4o-image"}, "at most 1,000"
    )


async def test_resolution_on_a_model_without_it_is_refused(atelier: Atelier) -> None:
    await _refused(
        atelier,
        "imagine",
        {"prompt": "x", "model": "gpt-4o-image", "resolution": "2k"},
        "no resolution",
    )
