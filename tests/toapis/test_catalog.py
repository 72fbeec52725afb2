"""The validator refuses, before any network call, what each model cannot do, in words a member can act on."""

import pytest

from bot.toapis.catalog import (
    CATALOG,
    GPT_4O_IMAGE,
    GPT_IMAGE_15,
    ImageFacts,
    RequestValidationError,
    output_pixels,
    validate_mask,
    validate_reference,
    validate_request,
)
from bot.toapis.models import GenerationRequest

MB = 1024 * 1024


def req(**kw: object) -> GenerationRequest:
    base: dict[str, object] = {"model": GPT_IMAGE_15, "prompt": "a lighthouse at dusk"}
    base.update(kw)
    return GenerationRequest(**base)  # type: ignore[arg-type]


def refused(r: GenerationRequest, **kw: object) -> RequestValidationError:
    with pytest.raises(RequestValidationError) as info:
        validate_request(r, **kw)  # type: ignore[arg-type]
    return info.value


def test_plain_request_is_valid() -> None:
    assert validate_request(req()) == req()


def test_unknown_model() -> None:
    err = refused(req(model="dall-e-9"))
    assert "gpt-image-1.5-official" in str(err) and err.field == "model"


@pytest.mark.parametrize(
    "size",
    [
        "1:1",
        "3:2",
        "2:3",
        "4:3",
        "3:4",
        "5:4",
        "4:5",
        "16:9",
        "9:16",
        "2:1",
        "1:2",
        "21:9",
        "9:21",
        "auto",
    ],
)
def test_gpt_image_sizes(size: str) -> None:
    validate_request(req(size=size))


def test_unknown_size_lists_the_choices() -> None:
    err = refused(req(size="7:3"))
    assert "7:3" in str(err) and "16:9" in str(err)


@pytest.mark.parametrize("size", ["16:9", "9:16", "2:1", "1:2", "21:9", "9:21"])
def test_4k_allowed_ratios(size: str) -> None:
    validate_request(req(size=size, resolution="4k"))


@pytest.mark.parametrize("size", ["1:1", "3:2", "4:5", None])
def test_4k_refused_for_other_ratios_with_the_exact_advice(size: str | None) -> None:
    err = refused(req(size=size, resolution="4k"))
    assert (
        str(err)
        == "4K works only with 16:9, 9:16, 2:1, 1:2, 21:9 or 9:21 — pick one of those or 2K."
    )


def test_4k_with_auto_is_refused() -> None:
    refused(req(size="auto", resolution="4k"))


def test_quality_and_format() -> None:
    validate_request(req(quality="low", output_format="jpeg", output_compression=80))
    assert "webp" in str(refused(req(output_format="webp")))
    assert "ultra" in str(refused(req(quality="ultra")))


def test_compression_in_range_and_ignored_with_png() -> None:
    validate_request(req(output_compression=50))
    refused(GenerationRequest(model=GPT_4O_IMAGE, prompt="cat", output_compression=50))
    refused(req(output_format="jpeg", output_compression=101))
    validate_request(req(output_format="jpeg", output_compression=0))


def test_count_ceiling_is_configurable() -> None:
    validate_request(req(n=4))
    err = refused(req(n=5))
    assert "5" in str(err)
    validate_request(req(n=10), max_images=10)
    refused(req(n=11), max_images=10)
    refused(req(n=0))


@pytest.mark.parametrize(("n", "ok"), [(1, True), (2, True), (3, False), (4, True)])
def test_gpt_4o_counts(n: int, ok: bool) -> None:
    r = GenerationRequest(model=GPT_4O_IMAGE, prompt="cat", n=n)
    if ok:
        validate_request(r)
    else:
        assert "1, 2 or 4" in str(refused(r))


def test_gpt_4o_has_no_resolution_quality_or_format() -> None:
    for field in ({"resolution": "2k"}, {"quality": "high"}, {"output_format": "png"}):
        refused(GenerationRequest(model=GPT_4O_IMAGE, prompt="cat", **field))  # type: ignore[arg-type]


def test_gpt_4o_sizes_and_auto() -> None:
    validate_request(GenerationRequest(model=GPT_4O_IMAGE, prompt="cat", size="2:3"))
    refused(GenerationRequest(model=GPT_4O_IMAGE, prompt="cat", size="16:9"))
    refused(GenerationRequest(model=GPT_4O_IMAGE, prompt="cat", size="auto"))


def test_prompt_length_and_emptiness() -> None:
    validate_request(GenerationRequest(model=GPT_4O_IMAGE, prompt="x" * 1000))
    err = refused(GenerationRequest(model=GPT_4O_IMAGE, prompt="x" * 1001))
    assert "1,000" in str(err) and "1,001" in str(err)
    refused(req(prompt="   "))


def test_reference_count_per_model() -> None:
    urls = [f"https://f/{i}.png" for i in range(17)]
    validate_request(req(image_urls=urls[:16]))
    assert "16" in str(refused(req(image_urls=urls)))
    refused(GenerationRequest(model=GPT_4O_IMAGE, prompt="c", image_urls=urls[:6]))


def test_mask_needs_images_and_urls_must_be_http() -> None:
    refused(req(mask_url="https://f/m.png"))
    refused(req(image_urls=["data:image/png;base64,AAAA"]))


def facts(
    ct: str = "image/png", size: int = 1000, w: int = 64, h: int = 64, alpha: bool = True
) -> ImageFacts:
    return ImageFacts(content_type=ct, size_bytes=size, width=w, height=h, has_alpha=alpha)


def refusal(check: object, *args: object) -> str:
    with pytest.raises(RequestValidationError) as info:
        check(*args)  # type: ignore[operator]
    return str(info.value)


def test_reference_types_and_sizes() -> None:
    validate_reference(GPT_IMAGE_15, facts("image/jpeg", 50 * MB))
    assert "PNG" in refusal(validate_reference, GPT_IMAGE_15, facts("image/webp"))
    validate_reference(GPT_4O_IMAGE, facts("image/webp"))
    assert "10 MB" in refusal(validate_reference, GPT_4O_IMAGE, facts(size=11 * MB))


def test_mask_rules() -> None:
    image = facts(w=100, h=80, alpha=False)
    validate_mask(GPT_IMAGE_15, facts(w=100, h=80), image)
    assert "transparency" in refusal(
        validate_mask, GPT_IMAGE_15, facts(w=100, h=80, alpha=False), image
    )
    text = refusal(validate_mask, GPT_IMAGE_15, facts(w=99, h=80), image)
    assert "99x80" in text and "100x80" in text
    assert "PNG" in refusal(validate_mask, GPT_IMAGE_15, facts("image/jpeg", w=100, h=80), image)
    assert "4 MB" in refusal(validate_mask, GPT_4O_IMAGE, facts(size=5 * MB, w=100, h=80), image)


def test_output_pixels_table() -> None:
    assert output_pixels("16:9", "4k") == (3840, 2160)
    assert output_pixels("3:2", "2k") == (2048, 1360)
    assert output_pixels("1:1", "4k") is None
    assert output_pixels("auto", "1k") is None


def test_every_catalog_size_has_pixels() -> None:
    for caps in CATALOG.values():
        for size in caps.sizes:
            assert output_pixels(size, "1k") is not None
