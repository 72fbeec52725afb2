"""Property: the bot's validator and the fake service (written independently) accept the same requests."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.toapis import GenerationRequest, RequestValidationError, ToAPIsClient, validate_request
from bot.toapis.errors import InvalidRequestError
from tests.fakes.toapis import FakeToAPIs
from tests.fakes.toapis_validation import ValidationError, validate_generation

RATIOS = [
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
]


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


prompts = st.one_of(
    st.just(""),
    st.just("   "),
    st.text(min_size=1, max_size=40),
    st.integers(990, 1010).map(lambda n: "p" * n),
)
urls = st.lists(st.integers(0, 99).map(lambda i: f"https://example.com/ref-{i}.png"), max_size=18)
bad_urls = st.lists(
    st.sampled_from(["data:image/png;base64,AAAA", "ftp://x/y.png", "https://ok/z.png"]),
    min_size=1,
    max_size=3,
)

wild = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["gpt-image-1.5-official", "gpt-4o-image", "dall-e-3"]),
        "prompt": prompts,
        "size": maybe(st.sampled_from([*RATIOS, "auto", "7:3", "1:1 "])),
        "resolution": maybe(st.sampled_from(["1k", "2k", "4k", "8k", "1K"])),
        "quality": maybe(st.sampled_from(["low", "medium", "high", "ultra"])),
        "output_format": maybe(st.sampled_from(["png", "jpeg", "webp"])),
        "output_compression": maybe(st.integers(-5, 105)),
        "n": st.integers(-1, 12),
        "image_urls": maybe(st.one_of(urls, bad_urls)),
        "mask_url": maybe(
            st.sampled_from(["https://example.com/mask.png", "data:image/png;base64,AA"])
        ),
    }
)


@st.composite
def near_valid(draw: st.DrawFn) -> dict[str, Any]:
    """A request built from one model's own choices, so that many are valid and the rest are near misses."""
    model = draw(st.sampled_from(["gpt-image-1.5-official", "gpt-4o-image"]))
    body: dict[str, Any] = {
        "model": model,
        "prompt": draw(st.text(min_size=1, max_size=30).filter(str.strip)),
    }
    if model == "gpt-4o-image":
        body["size"] = draw(maybe(st.sampled_from(["1:1", "2:3", "3:2", "16:9"])))
        body["n"] = draw(st.sampled_from([1, 2, 4, 3]))
        body["image_urls"] = draw(
            maybe(
                st.lists(
                    urls.map(lambda u: u[0] if u else "https://e/x.png"), min_size=1, max_size=6
                )
            )
        )
    else:
        body["size"] = draw(maybe(st.sampled_from([*RATIOS, "auto"])))
        body["resolution"] = draw(maybe(st.sampled_from(["1k", "2k", "4k"])))
        body["quality"] = draw(maybe(st.sampled_from(["low", "medium", "high"])))
        body["output_format"] = draw(maybe(st.sampled_from(["png", "jpeg"])))
        body["output_compression"] = draw(maybe(st.integers(0, 100)))
        body["n"] = draw(st.integers(1, 11))
        body["image_urls"] = draw(
            maybe(st.lists(st.just("https://example.com/r.png"), min_size=1, max_size=17))
        )
    if body.get("image_urls") and draw(st.booleans()):
        body["mask_url"] = "https://example.com/mask.png"
    return body


requests = st.one_of(wild, near_valid())


def ours(body: dict[str, Any], max_images: int) -> bool:
    try:
        validate_request(GenerationRequest(**body), max_images=max_images)
    except RequestValidationError:
        return False
    return True


def theirs(payload: dict[str, Any], max_images: int) -> bool:
    try:
        validate_generation(payload, gpt_image_max_n=max_images)
    except ValidationError:
        return False
    return True


@settings(max_examples=1500, deadline=None)
@given(body=requests, max_images=st.integers(4, 10))
def test_validator_and_service_agree(body: dict[str, Any], max_images: int) -> None:
    payload = GenerationRequest(**body).to_payload()
    assert ours(body, max_images) == theirs(payload, max_images), payload


@settings(max_examples=60, deadline=None)
@given(body=requests)
def test_over_http_valid_means_accepted_and_invalid_means_never_sent(body: dict[str, Any]) -> None:
    """A request the bot accepts is accepted (and charged once) by the service over HTTP."""
    if asyncio.run(_submit_if_valid(body)):
        SUBMITTED.append(body)


SUBMITTED: list[dict[str, Any]] = []


async def _submit_if_valid(body: dict[str, Any]) -> bool:
    request = GenerationRequest(**body)
    try:
        validate_request(request, max_images=4)
    except RequestValidationError:
        return False  # refused locally: the bot never calls the API with it
    async with FakeToAPIs(gpt_image_max_n=4) as fake, aiohttp.ClientSession() as session:
        client = ToAPIsClient(session, base_url=fake.base_url, api_key=fake.api_key)
        try:
            await client.submit(request)
        except InvalidRequestError as exc:
            raise AssertionError(
                f"the bot accepted what the service refused: {exc.message}"
            ) from None
        assert fake.charged_tasks == 1
    return True


def test_the_http_property_really_submitted_some() -> None:
    # Guards the property above against a strategy that only ever yields invalid requests.
    test_over_http_valid_means_accepted_and_invalid_means_never_sent()
    assert SUBMITTED
