"""Pillow checks: real formats by content, region masks, results fitted to Discord's upload limit."""

import io
import os

import pytest
from PIL import Image

from bot.images import (
    ImageProblem,
    MaskRegion,
    draw_region_mask,
    fit_for_upload,
    fit_reference,
    inspect_image,
    to_accepted_format,
)


def encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    out = io.BytesIO()
    img.save(out, format=fmt, **kw)
    return out.getvalue()


def test_real_format_is_read_from_content_not_name() -> None:
    data = encode(Image.new("RGB", (40, 30), "red"), "JPEG")
    facts = inspect_image(data)
    assert (facts.content_type, facts.width, facts.height, facts.has_alpha) == (
        "image/jpeg",
        40,
        30,
        False,
    )
    assert facts.size_bytes == len(data)


def test_alpha_detected() -> None:
    assert inspect_image(encode(Image.new("RGBA", (4, 4)), "PNG")).has_alpha
    assert not inspect_image(encode(Image.new("RGB", (4, 4)), "PNG")).has_alpha


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"%PDF-1.7 ..."])
def test_non_images_are_refused_clearly(data: bytes) -> None:
    with pytest.raises(ImageProblem, match="PNG, JPEG or WebP"):
        inspect_image(data)


def test_truncated_image_is_refused() -> None:
    data = encode(Image.effect_noise((64, 64), 50).convert("RGB"), "PNG")
    with pytest.raises(ImageProblem):
        inspect_image(data[: len(data) // 2])


def test_unsupported_real_format_is_named() -> None:
    with pytest.raises(ImageProblem, match="BMP"):
        inspect_image(encode(Image.new("RGB", (4, 4)), "BMP"))


def test_webp_converted_to_png_for_a_model_that_wants_png() -> None:
    webp = encode(Image.new("RGBA", (20, 10), (1, 2, 3, 128)), "WEBP")
    facts = inspect_image(webp)
    data, new = to_accepted_format(webp, facts, frozenset({"image/png", "image/jpeg"}))
    assert inspect_image(data) == new
    assert new.content_type == "image/png" and (new.width, new.height) == (20, 10) and new.has_alpha
    assert to_accepted_format(webp, facts, frozenset({"image/webp"}))[0] is webp


@pytest.mark.parametrize("region", list(MaskRegion))
def test_region_mask_is_transparent_exactly_in_the_region(region: MaskRegion) -> None:
    w, h = 64, 48
    png = draw_region_mask(region, w, h)
    facts = inspect_image(png)
    assert (facts.content_type, facts.width, facts.height, facts.has_alpha) == (
        "image/png",
        w,
        h,
        True,
    )
    alpha = Image.open(io.BytesIO(png)).getchannel("A")
    left, top, right, bottom = region.box(w, h)
    assert right > left and bottom > top
    for x in range(w):
        for y in range(h):
            inside = left <= x < right and top <= y < bottom
            assert alpha.getpixel((x, y)) == (0 if inside else 255), (region, x, y)


def test_small_result_kept_as_is() -> None:
    data = encode(Image.new("RGB", (32, 32), "blue"), "PNG")
    fitted = fit_for_upload(data, "atelier-1", 10_000)
    assert (
        fitted.treatment == "original"
        and fitted.data == data
        and fitted.filename == "atelier-1.png"
    )


def test_oversized_result_is_reencoded_at_full_size() -> None:
    noisy = Image.frombytes("RGB", (512, 512), os.urandom(512 * 512 * 3))
    png = encode(noisy, "PNG")
    limit = len(png) // 2
    fitted = fit_for_upload(png, "r", limit)
    assert fitted.treatment in ("reencoded", "preview") and len(fitted.data) <= limit
    assert inspect_image(fitted.data).content_type == "image/jpeg"


def test_result_that_cannot_fit_becomes_a_downscaled_preview() -> None:
    noisy = Image.frombytes("RGB", (512, 512), os.urandom(512 * 512 * 3))
    png = encode(noisy, "PNG")
    fitted = fit_for_upload(png, "r", 40_000)
    assert fitted.treatment == "preview" and len(fitted.data) <= 40_000
    assert fitted.width < 512 and fitted.filename.endswith("-preview.jpg")


PNG_JPEG = frozenset({"image/png", "image/jpeg"})


def test_fit_reference_reencodes_an_opaque_image_as_jpeg_under_the_limit() -> None:
    noise = Image.frombytes("RGB", (600, 600), os.urandom(600 * 600 * 3))
    data = encode(noise, "PNG")
    limit = len(data) // 2
    fitted, facts = fit_reference(data, inspect_image(data), PNG_JPEG, limit, label="Image 1")
    assert facts.content_type == "image/jpeg" and (facts.width, facts.height) == (600, 600)
    assert len(fitted) <= limit


def test_fit_reference_keeps_a_transparent_image_png_and_refuses_when_too_large() -> None:
    data = encode(Image.new("RGBA", (300, 300), (0, 0, 0, 0)), "PNG")
    with pytest.raises(ImageProblem, match=r"Image 2 is .* attach a JPEG"):
        fit_reference(data, inspect_image(data), PNG_JPEG, 10, label="Image 2")


def test_fit_reference_refuses_when_the_model_takes_no_jpeg() -> None:
    data = encode(Image.new("RGB", (300, 300), "red"), "PNG")
    with pytest.raises(ImageProblem, match="attach a JPEG, or a smaller image"):
        fit_reference(data, inspect_image(data), frozenset({"image/png"}), 10, label="Image 1")


def test_fit_reference_returns_a_fitting_image_unchanged() -> None:
    data = encode(Image.new("RGB", (30, 30), "red"), "PNG")
    facts = inspect_image(data)
    assert fit_reference(data, facts, PNG_JPEG, len(data), label="x") == (data, facts)


def test_fit_reference_reencodes_an_image_whose_alpha_is_fully_opaque() -> None:
    noise = Image.frombytes("RGB", (400, 400), os.urandom(400 * 400 * 3)).convert("RGBA")
    data = encode(noise, "PNG")
    facts = inspect_image(data)
    assert facts.has_alpha
    fitted, out = fit_reference(data, facts, PNG_JPEG, len(data) // 2, label="Image 1")
    assert out.content_type == "image/jpeg" and len(fitted) <= len(data) // 2
