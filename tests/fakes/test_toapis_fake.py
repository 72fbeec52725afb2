"""Tests of the fake ToAPIs server, driven with plain aiohttp requests."""

from __future__ import annotations

import asyncio
import io
import itertools
import os
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from PIL import Image

from bot.clock import ManualClock
from tests.fakes.toapis import FakeToAPIs, TaskScript
from tests.fakes.toapis_validation import GPT_IMAGE_4K_SIZES, GPT_IMAGE_SIZES

GPT = "gpt-image-1.5-official"
G4O = "gpt-4o-image"
SUBMIT = "/v1/images/generations"
UPLOAD = "/v1/uploads/images"


# ------------------------------------------------------------------ helpers


class _AnyStr:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and bool(other)

    __hash__ = None  # type: ignore[assignment]


ANY_STR = _AnyStr()


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def auth(fake: FakeToAPIs) -> dict[str, str]:
    return {"Authorization": f"Bearer {fake.api_key}"}


async def submit(
    http: aiohttp.ClientSession, fake: FakeToAPIs, body: Any = None, **fields: Any
) -> tuple[int, Any]:
    payload = body if body is not None else {"model": GPT, "prompt": "a castle", **fields}
    async with http.post(fake.base_url + SUBMIT, json=payload, headers=auth(fake)) as resp:
        return resp.status, await resp.json(content_type=None)


async def poll(http: aiohttp.ClientSession, fake: FakeToAPIs, task_id: str) -> tuple[int, Any]:
    async with http.get(f"{fake.base_url}{SUBMIT}/{task_id}", headers=auth(fake)) as resp:
        return resp.status, await resp.json(content_type=None)


async def download(http: aiohttp.ClientSession, url: str) -> tuple[int, bytes, str]:
    async with http.get(url) as resp:
        return resp.status, await resp.read(), resp.content_type


async def upload(
    http: aiohttp.ClientSession,
    fake: FakeToAPIs,
    data: bytes,
    filename: str = "img.bin",
    purpose: str | None = None,
) -> tuple[int, Any]:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=filename, content_type="application/octet-stream")
    if purpose is not None:
        form.add_field("purpose", purpose)
    async with http.post(fake.base_url + UPLOAD, data=form, headers=auth(fake)) as resp:
        return resp.status, await resp.json(content_type=None)


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48), mode: str = "RGB") -> bytes:
    image = Image.new(mode, size)
    buf = io.BytesIO()
    image.save(buf, fmt)
    return buf.getvalue()


def error_message(body: Any) -> str:
    if "error" in body:
        return body["error"]["message"]
    return body["message"]


def collect_urls(task: dict[str, Any]) -> list[str]:
    """What a client must do: gather every URL from every place, de-duplicated, in order."""
    found: list[str] = []
    result = task.get("result") or {}
    candidates: list[Any] = [task.get("url"), result.get("url")]
    candidates += [d.get("url") for d in result.get("data", [])]
    for image in result.get("images", []):
        url = image.get("url")
        candidates += url if isinstance(url, list) else [url]
    for url in candidates:
        if url and url not in found:
            found.append(url)
    return found


async def run_to_completion(
    http: aiohttp.ClientSession, fake: FakeToAPIs, **fields: Any
) -> dict[str, Any]:
    status, task = await submit(http, fake, **fields)
    assert status == 200, task
    fake.advance(1000)
    status, task = await poll(http, fake, task["id"])
    assert status == 200
    assert task["status"] == "completed"
    return task


# ------------------------------------------------------------------ fixture and lifecycle


async def test_fixture_gives_started_fake_on_frozen_clock(fake_toapis: FakeToAPIs) -> None:
    assert isinstance(fake_toapis.clock, ManualClock)
    assert fake_toapis.clock.speed == 0
    assert fake_toapis.base_url.startswith("http://127.0.0.1:")
    before = fake_toapis.clock.now()
    await asyncio.sleep(0.01)
    assert fake_toapis.clock.now() == before


async def test_context_manager_and_injected_clock() -> None:
    clock = ManualClock(start=1_000_000.0)
    async with FakeToAPIs(clock=clock, api_key="sk-other") as fake:
        assert fake.clock is clock
        assert fake.api_key == "sk-other"
        async with aiohttp.ClientSession() as http:
            status, task = await submit(http, fake)
        assert status == 200
        assert task["created_at"] == 1_000_000


async def test_key_never_in_reprs(fake_toapis: FakeToAPIs, http: aiohttp.ClientSession) -> None:
    await submit(http, fake_toapis)
    record = fake_toapis.requests[0]
    assert record.authorization == f"Bearer {fake_toapis.api_key}"  # kept for assertions
    assert record.headers["authorization"] == f"Bearer {fake_toapis.api_key}"
    assert fake_toapis.api_key not in repr(record)
    assert fake_toapis.api_key not in str(record.headers)
    assert fake_toapis.api_key not in repr(fake_toapis)


# ------------------------------------------------------------------ auth


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer sk-wrong"},
        {"Authorization": "Basic sk-test-fake-key"},
        {"Authorization": "sk-test-fake-key"},
        {"Authorization": "Bearer "},
    ],
)
async def test_auth_rejected(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    url = fake_toapis.base_url
    body = {"model": GPT, "prompt": "x"}
    async with http.post(url + SUBMIT, json=body, headers=headers) as resp:
        assert resp.status == 401
        payload = await resp.json()
        assert payload["error"]["type"] == "authentication_error"
        assert payload["error"]["message"]
    async with http.get(url + SUBMIT + "/tsk_img_x", headers=headers) as resp:
        assert resp.status == 401
    form = aiohttp.FormData()
    form.add_field("file", image_bytes("PNG"), filename="a.png")
    async with http.post(url + UPLOAD, data=form, headers=headers) as resp:
        assert resp.status == 401
    assert fake_toapis.tasks == {}
    assert fake_toapis.uploads == {}
    assert fake_toapis.charged_images == 0


async def test_auth_scheme_case_insensitive(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession
) -> None:
    headers = {"Authorization": f"bearer {fake_toapis.api_key}"}
    body = {"model": GPT, "prompt": "x"}
    async with http.post(fake_toapis.base_url + SUBMIT, json=body, headers=headers) as resp:
        assert resp.status == 200


async def test_error_shape_b_setting(fake_toapis: FakeToAPIs, http: aiohttp.ClientSession) -> None:
    fake_toapis.error_shape = "b"
    async with http.post(fake_toapis.base_url + SUBMIT, json={}) as resp:
        assert resp.status == 401
        assert await resp.json() == {"success": False, "message": ANY_STR}


@pytest.mark.parametrize("status", [402, 403])
async def test_deny_status(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession, status: int
) -> None:
    fake_toapis.deny_status = status
    code, body = await submit(http, fake_toapis)
    assert code == status
    assert error_message(body)
    code, body = await upload(http, fake_toapis, image_bytes("PNG"))
    assert code == status
    assert fake_toapis.charged_images == 0
    fake_toapis.deny_status = None
    code, _ = await submit(http, fake_toapis)
    assert code == 200


async def test_balance_runs_out(fake_toapis: FakeToAPIs, http: aiohttp.ClientSession) -> None:
    fake_toapis.balance = 3
    assert (await submit(http, fake_toapis, n=2))[0] == 200
    code, body = await submit(http, fake_toapis, n=2)
    assert code == 402
    assert body["error"]["code"] == "insufficient_balance"
    assert (await submit(http, fake_toapis, n=1))[0] == 200
    assert fake_toapis.balance == 0
    assert fake_toapis.charged_images == 3


# ------------------------------------------------------------------ validation

_GPT_VALID: list[dict[str, Any]] = [
    {},
    *({"size": s, "resolution": r} for s, tiers in GPT_IMAGE_SIZES.items() for r in tiers),
    {"size": "auto"},
    {"size": "auto", "resolution": "2k"},
    {"quality": "low"},
    {"quality": "medium"},
    {"quality": "high"},
    {"output_format": "png"},
    {"output_format": "jpeg", "output_compression": 0},
    {"output_format": "jpeg", "output_compression": 100},
    {"output_format": "png", "output_compression": 50},
    *({"n": n} for n in range(1, 11)),
    {"image_urls": ["https://example.com/a.png"]},
    {"image_urls": [f"http://example.com/{i}.jpg" for i in range(16)]},
    {"image_urls": ["https://example.com/a.png"], "mask_url": "https://example.com/m.png"},
    {"background": "transparent"},
    {"prompt": "将两张参考图融合成赛博朋克风格插画海报"},
    {"prompt": "x" * 5000},
]

_GPT_INVALID: list[dict[str, Any]] = [
    *({"size": s, "resolution": "4k"} for s in GPT_IMAGE_SIZES if s not in GPT_IMAGE_4K_SIZES),
    {"size": "auto", "resolution": "4k"},
    {"size": "1:3"},
    {"size": "1024x1024"},
    {"size": None},
    {"size": 1},
    {"resolution": "1K"},
    {"resolution": "8k"},
    {"quality": "ultra"},
    {"quality": "HIGH"},
    {"output_format": "webp"},
    {"output_format": "jpg"},
    {"output_format": "PNG"},
    {"output_format": "jpeg", "output_compression": 101},
    {"output_format": "jpeg", "output_compression": -1},
    {"output_format": "jpeg", "output_compression": "50"},
    {"output_format": "jpeg", "output_compression": 50.5},
    {"output_format": "jpeg", "output_compression": True},
    {"n": 0},
    {"n": 11},
    {"n": -1},
    {"n": "1"},
    {"n": True},
    {"n": 1.0},
    {"n": None},
    {"prompt": ""},
    {"prompt": "   \n"},
    {"prompt": None},
    {"prompt": 42},
    {"model": "gpt-image-2"},
    {"model": ""},
    {"model": None},
    {"image_urls": [f"http://example.com/{i}.jpg" for i in range(17)]},
    {"image_urls": []},
    {"image_urls": "https://example.com/a.png"},
    {"image_urls": ["data:image/png;base64,iVBORw0KGgo="]},
    {"image_urls": ["iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"]},
    {"image_urls": ["ftp://example.com/a.png"]},
    {"image_urls": ["https://"]},
    {"image_urls": [None]},
    {"mask_url": "https://example.com/m.png"},
    {"image_urls": ["https://example.com/a.png"], "mask_url": "data:image/png;base64,AAAA"},
    {"image_urls": ["https://example.com/a.png"], "mask_url": None},
]


@pytest.mark.parametrize("fields", _GPT_VALID, ids=repr)
async def test_gpt_image_valid(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession, fields: dict[str, Any]
) -> None:
    status, body = await submit(http, fake_toapis, **fields)
    assert status == 200, body
    assert body["status"] == "queued"
    assert body["model"] == GPT


@pytest.mark.parametrize("fields", _GPT_INVALID, ids=repr)
async def test_gpt_image_invalid(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession, fields: dict[str, Any]
) -> None:
    status, body = await submit(http, fake_toapis, **fields)
    assert status == 400, body
    assert error_message(body)
    assert fake_toapis.tasks == {}
    assert fake_toapis.charged_images == 0


_4O_VALID: list[dict[str, Any]] = [
    {},
    {"size": "1:1"},
    {"size": "2:3"},
    {"size": "3:2"},
    {"n": 1},
    {"n": 2},
    {"n": 4},
    {"prompt": "x" * 1000},
    {"image_urls": [f"https://example.com/{i}.webp" for i in range(5)]},
    {"image_urls": ["https://example.com/a.png"], "mask_url": "https://example.com/m.png"},
]

_4O_INVALID: list[dict[str, Any]] = [
    {"prompt": "x" * 1001},
    {"prompt": ""},
    {"size": "16:9"},
    {"size": "auto"},
    {"size": "4:3"},
    {"resolution": "1k"},
    {"quality": "high"},
    {"output_format": "png"},
    {"output_compression": 50},
    {"n": 3},
    {"n": 5},
    {"n": 0},
    {"n": "2"},
    {"n": True},
    {"image_urls": [f"https://example.com/{i}.png" for i in range(6)]},
    {"image_urls": ["data:image/png;base64,AAAA"]},
    {"mask_url": "https://example.com/m.png"},
]


@pytest.mark.parametrize("fields", _4O_VALID, ids=repr)
async def test_gpt_4o_valid(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession, fields: dict[str, Any]
) -> None:
    status, body = await submit(http, fake_toapis, body={"model": G4O, "prompt": "p", **fields})
    assert status == 200, body
    assert body["model"] == G4O


@pytest.mark.parametrize("fields", _4O_INVALID, ids=repr)
async def test_gpt_4o_invalid(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession, fields: dict[str, Any]
) -> None:
    status, body = await submit(http, fake_toapis, body={"model": G4O, "prompt": "p", **fields})
    assert status == 400, body
    assert fake_toapis.charged_images == 0


@pytest.mark.parametrize(
    "body",
    [{"prompt": "x"}, {"model": GPT}, [1, 2], "text", 3],
    ids=["nomodel", "noprompt", "list", "str", "int"],
)
async def test_body_shapes_rejected(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession, body: Any
) -> None:
    status, _ = await submit(http, fake_toapis, body=body)
    assert status == 400


async def test_non_json_body_rejected(fake_toapis: FakeToAPIs, http: aiohttp.ClientSession) -> None:
    headers = {**auth(fake_toapis), "Content-Type": "application/json"}
    for data in (b"{not json", b""):
        async with http.post(fake_toapis.base_url + SUBMIT, data=data, headers=headers) as resp:
            assert resp.status == 400
    assert fake_toapis.requests[0].json_error


async def test_n_ceiling_configurable(fake_toapis: FakeToAPIs, http: aiohttp.ClientSession) -> None:
    fake_toapis.gpt_image_max_n = 4
    assert (await submit(http, fake_toapis, n=4))[0] == 200
    assert (await submit(http, fake_toapis, n=5))[0] == 400


# ------------------------------------------------------------------ validation against own uploads


async def test_own_upload_references_checked(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession
) -> None:
    fake = fake_toapis
    ref = fake.add_upload(image_bytes("PNG", (64, 48)))
    jpeg = fake.add_upload(image_bytes("JPEG", (64, 48)), filename="a.jpg")
    webp = fake.add_upload(image_bytes("WEBP", (64, 48)), filename="a.webp")
    gif = fake.add_upload(image_bytes("GIF", (64, 48)), filename="a.gif")
    mask_ok = fake.add_upload(image_bytes("PNG", (64, 48), "RGBA"))
    mask_la = fake.add_upload(image_bytes("PNG", (64, 48), "LA"))
    mask_no_alpha = fake.add_upload(image_bytes("PNG", (64, 48), "RGB"))
    mask_wrong_size = fake.add_upload(image_bytes("PNG", (48, 64), "RGBA"))
    mask_webp = fake.add_upload(image_bytes("WEBP", (64, 48), "RGBA"))
    missing = f"{fake.base_url}/files/uploads/1_deadbeef.png"

    async def gpt(**fields: Any) -> int:
        return (await submit(http, fake, **fields))[0]

    assert await gpt(image_urls=[ref.url, jpeg.url]) == 200
    assert await gpt(image_urls=[webp.url]) == 400  # PNG/JPG only
    assert await gpt(image_urls=[gif.url]) == 400
    assert await gpt(image_urls=[missing]) == 400
    assert await gpt(image_urls=[ref.url], mask_url=mask_ok.url) == 200
    assert await gpt(image_urls=[ref.url], mask_url=mask_la.url) == 200
    assert await gpt(image_urls=[ref.url], mask_url=mask_no_alpha.url) == 400
    assert await gpt(image_urls=[ref.url], mask_url=mask_wrong_size.url) == 400
    assert await gpt(image_urls=[ref.url], mask_url=mask_webp.url) == 400
    assert await gpt(image_urls=[ref.url], mask_url=missing) == 400
    # the first reference decides the size; an external first reference cannot be checked
    assert await gpt(image_urls=[mask_wrong_size.url, ref.url], mask_url=mask_ok.url) == 400
    assert await gpt(image_urls=["https://example.com/x.png"], mask_url=mask_wrong_size.url) == 200

    async def g4o(**fields: Any) -> int:
        return (await submit(http, fake, body={"model": G4O, "prompt": "p", **fields}))[0]

    assert await g4o(image_urls=[webp.url, jpeg.url, ref.url]) == 200
    assert await g4o(image_urls=[gif.url]) == 400
    assert await g4o(image_urls=[missing]) == 400
    assert await g4o(image_urls=[ref.url], mask_url=mask_no_alpha.url) == 200  # no alpha rule
    assert await g4o(image_urls=[ref.url], mask_url=mask_wrong_size.url) == 400
    assert await g4o(image_urls=[ref.url], mask_url=jpeg.url) == 400


async def test_gpt_4o_mask_size_limit(fake_toapis: FakeToAPIs, http: aiohttp.ClientSession) -> None:
    size = (1200, 1000)  # 4.8 MB of noisy RGBA pixels, stored uncompressed
    noisy = Image.frombytes("RGBA", size, os.urandom(size[0] * size[1] * 4))
    buf = io.BytesIO()
    noisy.save(buf, "PNG", compress_level=0)
    assert 4 * 1024 * 1024 < len(buf.getvalue()) <= 10 * 1024 * 1024
    big_mask = fake_toapis.add_upload(buf.getvalue())
    ref = fake_toapis.add_upload(image_bytes("PNG", size))
    body = {"model": G4O, "prompt": "p", "image_urls": [ref.url], "mask_url": big_mask.url}
    assert (await submit(http, fake_toapis, body=body))[0] == 400
    body["model"] = GPT
    assert (await submit(http, fake_toapis, body=body))[0] == 200


# ------------------------------------------------------------------ uploads


@pytest.mark.parametrize(
    ("fmt", "mime", "ext"),
    [
        ("PNG", "image/png", "png"),
        ("JPEG", "image/jpeg", "jpg"),
        ("WEBP", "image/webp", "webp"),
        ("GIF", "image/gif", "gif"),
    ],
)
async def test_upload_each_format(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession, fmt: str, mime: str, ext: str
) -> None:
    data = image_bytes(fmt)
    status, body = await upload(http, fake_toapis, data, filename="wrong-name.txt")
    assert status == 200, body
    assert body["success"] is True
    assert body["message"] == ""
    assert set(body["data"]) == {"id", "url", "mime_type", "size"}
    assert body["data"]["mime_type"] == mime
    assert body["data"]["size"] == len(data)
    assert body["data"]["id"].startswith("upload_")
    url = body["data"]["url"]
    assert url.startswith(fake_toapis.base_url + "/files/uploads/")
    assert url.endswith("." + ext)
    stored = fake_toapis.uploads[body["data"]["id"]]
    assert stored.data == data
    assert stored.filename == "wrong-name.txt"
    assert stored.content_type == "application/octet-stream"
    assert stored.purpose == "generation"
    assert stored.url == url
    assert fake_toapis.upload_by_url(url) is stored
    status, served, ctype = await download(http, url)
    assert (status, served, ctype) == (200, data, mime)


async def test_upload_purpose_and_reuse(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession
) -> None:
    status, body = await upload(http, fake_toapis, image_bytes("PNG"), purpose="mask")
    assert status == 200
    assert fake_toapis.uploads[body["data"]["id"]].purpose == "mask"
    url = body["data"]["url"]
    for _ in range(2):  # an upload URL can serve several generations
        assert (await submit(http, fake_toapis, image_urls=[url]))[0] == 200


async def test_upload_too_large(fake_toapis: FakeToAPIs, http: aiohttp.ClientSession) -> None:
    status, body = await upload(http, fake_toapis, b"\x89PNG" + b"\0" * (10 * 1024 * 1024))
    assert status == 400
    assert "large" in error_message(body)
    fake_toapis.max_upload_bytes = 1000
    big = Image.frombytes("RGB", (40, 40), os.urandom(40 * 40 * 3))
    buf = io.BytesIO()
    big.save(buf, "PNG")
    assert (await upload(http, fake_toapis, buf.getvalue()))[0] == 400
    assert (await upload(http, fake_toapis, image_bytes("PNG", (4, 4))))[0] == 200


@pytest.mark.parametrize(
    "data",
    [b"hello, not an image", b"", image_bytes("BMP"), image_bytes("PNG")[:30]],
    ids=["text", "empty", "bmp", "truncated-png"],
)
async def test_upload_not_accepted_image(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession, data: bytes
) -> None:
    status, body = await upload(http, fake_toapis, data, filename="x.png")
    assert status == 400
    assert error_message(body)
    assert fake_toapis.uploads == {}


async def test_upload_needs_file_field(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession
) -> None:
    form = aiohttp.FormData()
    form.add_field("image", image_bytes("PNG"), filename="a.png")
    async with http.post(fake_toapis.base_url + UPLOAD, data=form, headers=auth(fake_toapis)) as r:
        assert r.status == 400
    async with http.post(
        fake_toapis.base_url + UPLOAD, json={"file": "x"}, headers=auth(fake_toapis)
    ) as r:
        assert r.status == 400
    async with http.get(fake_toapis.base_url + "/files/uploads/nope.png") as r:
        assert r.status == 404


# ------------------------------------------------------------------ lifecycle


async def test_lifecycle_queued_running_completed(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession
) -> None:
    fake = fake_toapis
    fake.script(queue_s=2, run_s=30)
    status, task = await submit(http, fake)
    assert status == 200
    assert task == {
        "id": task["id"],
        "object": "generation.task",
        "model": GPT,
        "status": "queued",
        "progress": 0,
        "created_at": int(fake.clock.now()),
        "metadata": {},
    }
    tid = task["id"]
    fake.advance(1)
    assert (await poll(http, fake, tid))[1]["status"] == "queued"
    seen = []
    for _ in range(5):
        fake.advance(5)
        _, body = await poll(http, fake, tid)
        assert body["status"] == "in_progress"
        assert "url" not in body
        assert "result" not in body
        seen.append(body["progress"])
    assert seen == sorted(seen)
    assert 0 < seen[0] < seen[-1] < 100
    fake.advance(10)
    _, body = await poll(http, fake, tid)
    assert body["status"] == "completed"
    assert body["progress"] == 100
    assert body["completed_at"] == int(task["created_at"] + 32)
    assert body["expires_at"] == body["completed_at"] + 24 * 3600
    assert body["result"]["type"] == "image"
    assert "error" not in body
    urls = collect_urls(body)
    assert len(urls) == 1
    status, data, ctype = await download(http, urls[0])
    assert status == 200
    assert ctype == "image/png"
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG"
        assert im.size == (1024, 1024)
    assert fake.tasks[tid].polls == 7


@pytest.mark.parametrize(
    ("fields", "size", "fmt"),
    [
        ({"size": "16:9", "resolution": "4k", "output_format": "jpeg"}, (3840, 2160), "JPEG"),
        ({"size": "9:21", "resolution": "2k"}, (1152, 2688), "PNG"),
        ({"size": "auto"}, (1024, 1024), "PNG"),
        ({"model": G4O, "size": "3:2"}, (1536, 1024), "PNG"),
    ],
)
async def test_result_dimensions_and_format(
    fake_toapis: FakeToAPIs,
    http: aiohttp.ClientSession,
    fields: dict[str, Any],
    size: tuple[int, int],
    fmt: str,
) -> None:
    task = await run_to_completion(http, fake_toapis, **fields)
    status, data, ctype = await download(http, collect_urls(task)[0])
    assert status == 200
    assert ctype == f"image/{fmt.lower()}"
    with Image.open(io.BytesIO(data)) as im:
        assert (im.format, im.size) == (fmt, size)


async def test_n_results_distinct_and_scaled(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession
) -> None:
    fake_toapis.result_scale = 1 / 8
    task = await run_to_completion(http, fake_toapis, n=3, size="2:1", resolution="4k")
    urls = collect_urls(task)
    assert len(urls) == 3
    assert urls == fake_toapis.result_urls(task["id"])
    for url in urls:
        status, data, _ = await download(http, url)
        assert status == 200
        with Image.open(io.BytesIO(data)) as im:
            assert im.size == (480, 240)
    # cached: a second download gives the same bytes
    first = await download(http, urls[0])
    again = await download(http, urls[0])
    assert first == again
    assert fake_toapis.tasks[task["id"]].results[0].downloads == 3


async def test_noisy_results_are_large(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession
) -> None:
    fake_toapis.script(noisy=True)
    task = await run_to_completion(http, fake_toapis, size="16:9", resolution="4k")
    status, data, _ = await download(http, collect_urls(task)[0])
    assert status == 200
    assert len(data) > 10 * 1024 * 1024
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (3840, 2160)


async def test_submitted_spelling_and_running_clock(http: aiohttp.ClientSession) -> None:
    clock = ManualClock(speed=1000.0)  # 1 ms real = 1 s simulated
    async with FakeToAPIs(clock=clock) as fake:
        fake.script(queue_s=100, run_s=100, status_spelling="submitted")
        _, task = await submit(http, fake)
        assert task["status"] == "submitted"
        await asyncio.sleep(0.25)
        _, body = await poll(http, fake, task["id"])
        assert body["status"] == "completed"


async def test_zero_durations_complete_on_first_poll(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession
) -> None:
    fake_toapis.script(queue_s=0, run_s=0)
    _, task = await submit(http, fake_toapis)
    assert task["status"] == "queued"
    assert "result" not in task
    _, body = await poll(http, fake_toapis, task["id"])
    assert body["status"] == "completed"


async def test_failed_task(fake_toapis: FakeToAPIs, http: aiohttp.ClientSession) -> None:
    fake_toapis.script(queue_s=1, run_s=5, outcome="failed", error_message="nope", error_code="E1")
    _, task = await submit(http, fake_toapis)
    fake_toapis.advance(3)
    assert (await poll(http, fake_toapis, task["id"]))[1]["status"] == "in_progress"
    fake_toapis.advance(3)
    _, body = await poll(http, fake_toapis, task["id"])
    assert body["status"] == "failed"
    assert body["error"] == {"message": "nope", "code": "E1"}
    assert "url" not in body
    assert "result" not in body
    name = fake_toapis.tasks[task["id"]].results[0].url
    assert (await download(http, name))[0] == 404
    assert fake_toapis.charged_images == 1  # charged up front


async def test_failed_without_code(fake_toapis: FakeToAPIs, http: aiohttp.ClientSession) -> None:
    fake_toapis.script(outcome="failed", error_code=None)
    _, task = await submit(http, fake_toapis)
    fake_toapis.advance(100)
    _, body = await poll(http, fake_toapis, task["id"])
    assert set(body["error"]) == {"message"}


async def test_never_finishing_task(fake_toapis: FakeToAPIs, http: aiohttp.ClientSession) -> None:
    fake_toapis.script(outcome="never")
    _, task = await submit(http, fake_toapis)
    fake_toapis.advance(7 * 24 * 3600)
    _, body = await poll(http, fake_toapis, task["id"])
    assert body["status"] == "in_progress"
    assert body["progress"] < 100


async def test_unknown_status(fake_toapis: FakeToAPIs, http: aiohttp.ClientSession) -> None:
    fake_toapis.script(unknown_status="processing_weird")
    _, task = await submit(http, fake_toapis)
    fake_toapis.advance(5)
    assert (await poll(http, fake_toapis, task["id"]))[1]["status"] == "processing_weird"
    fake_toapis.advance(100)
    assert (await poll(http, fake_toapis, task["id"]))[1]["status"] == "completed"


async def test_progress_missing(fake_toapis: FakeToAPIs, http: aiohttp.ClientSession) -> None:
    fake_toapis.script(progress="missing")
    _, task = await submit(http, fake_toapis)
    assert "progress" not in task
    for step in (1, 5, 100):
        fake_toapis.advance(step)
        assert "progress" not in (await poll(http, fake_toapis, task["id"]))[1]


async def test_progress_jumpy(fake_toapis: FakeToAPIs, http: aiohttp.ClientSession) -> None:
    fake_toapis.script(queue_s=0, run_s=80, progress="jumpy")
    _, task = await submit(http, fake_toapis)
    seen = []
    for _ in range(9):
        _, body = await poll(http, fake_toapis, task["id"])
        seen.append(body["progress"])
        fake_toapis.advance(10)
    assert seen[-1] == 100
    assert any(b < a for a, b in itertools.pairwise(seen))  # goes back once
    assert len(set(seen)) < len(seen)  # and stalls


@pytest.mark.parametrize(
    ("style", "prefix"),
    [("tsk_img", "tsk_img_01"), ("task_img", "task_img_"), ("task_01", "task_01"), ("img", "img_")],
)
async def test_id_styles(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession, style: str, prefix: str
) -> None:
    fake_toapis.script(id_style=style)
    _, task = await submit(http, fake_toapis)
    assert task["id"].startswith(prefix)
    assert (await poll(http, fake_toapis, task["id"]))[0] == 200


async def test_object_name_and_revised_prompt(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession
) -> None:
    fake_toapis.script(object_name="image.generation", revised_prompt="a castle, at night")
    _, task = await submit(http, fake_toapis)
    assert task["object"] == "image.generation"
    fake_toapis.advance(100)
    _, body = await poll(http, fake_toapis, task["id"])
    assert body["object"] == "image.generation"
    assert body["revised_prompt"] == "a castle, at night"


# ------------------------------------------------------------------ result shapes


@pytest.mark.parametrize(
    ("shape", "n", "visible"),
    [
        ("url", 1, 1),
        ("result.url", 1, 1),
        ("result.data", 2, 2),
        ("result.images", 2, 2),
        ("result.images_list", 2, 2),
        ("mixed", 2, 2),
    ],
)
async def test_result_shapes(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession, shape: str, n: int, visible: int
) -> None:
    fake_toapis.script(result_shape=shape)
    task = await run_to_completion(http, fake_toapis, n=n)
    result = task["result"]
    assert result["type"] == "image"
    assert ("url" in task) == (shape in ("url", "mixed"))
    assert ("url" in result) == (shape in ("result.url", "mixed"))
    assert ("data" in result) == (shape in ("result.data", "mixed"))
    assert ("images" in result) == (shape in ("result.images", "result.images_list", "mixed"))
    if shape == "result.images":
        assert all(isinstance(i["url"], str) for i in result["images"])
        assert all(i["expires_at"] == task["expires_at"] for i in result["images"])
    if shape == "result.images_list":
        assert isinstance(result["images"][0]["url"], list)
    urls = collect_urls(task)
    assert urls == fake_toapis.result_urls(task["id"])[:visible]
    if shape == "mixed":
        flat = [task["url"], result["url"], *(d["url"] for d in result["data"])]
        assert len(flat) > len(set(flat))  # the client must de-duplicate
    for url in urls:
        assert (await download(http, url))[0] == 200


# ------------------------------------------------------------------ expiry and 404s


async def test_results_expire(fake_toapis: FakeToAPIs, http: aiohttp.ClientSession) -> None:
    fake_toapis.script(queue_s=0, run_s=10, expires_after_s=3600)
    _, task = await submit(http, fake_toapis)
    url = fake_toapis.result_urls(task["id"])[0]
    assert (await download(http, url))[0] == 404  # not ready yet
    fake_toapis.advance(10)
    assert (await download(http, url))[0] == 200
    fake_toapis.advance(3599)
    assert (await download(http, url))[0] == 200
    fake_toapis.advance(1)
    assert (await download(http, url))[0] == 404
    _, body = await poll(http, fake_toapis, task["id"])
    assert body["status"] == "completed"  # the task itself is still known
    assert body["expires_at"] == int(fake_toapis.clock.now())


async def test_expire_now_and_forget(fake_toapis: FakeToAPIs, http: aiohttp.ClientSession) -> None:
    task = await run_to_completion(http, fake_toapis)
    url = collect_urls(task)[0]
    assert (await download(http, url))[0] == 200
    fake_toapis.expire(task["id"])
    assert (await download(http, url))[0] == 404
    fake_toapis.forget(task["id"])
    status, body = await poll(http, fake_toapis, task["id"])
    assert status == 404
    assert error_message(body)


async def test_unknown_task_and_file(fake_toapis: FakeToAPIs, http: aiohttp.ClientSession) -> None:
    status, body = await poll(http, fake_toapis, "tsk_img_01NOPE")
    assert status == 404
    assert body["error"]["code"] == "task_not_found"
    assert (await download(http, fake_toapis.base_url + "/files/results/nope.png"))[0] == 404


# ------------------------------------------------------------------ faults


async def test_rate_limit_with_retry_after(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession
) -> None:
    fault = fake_toapis.faults.add("rate_limit", endpoint="submit", retry_after=7)
    body = {"model": GPT, "prompt": "x"}
    async with http.post(fake_toapis.base_url + SUBMIT, json=body, headers=auth(fake_toapis)) as r:
        assert r.status == 429
        assert r.headers["Retry-After"] == "7"
        assert (await r.json())["error"]["type"] == "rate_limit_error"
    assert fake_toapis.tasks == {}
    assert fault.fired == 1
    assert fault.exhausted
    assert (await submit(http, fake_toapis))[0] == 200
    assert fake_toapis.requests[0].fault == "rate_limit"
    assert fake_toapis.requests[0].status == 429


@pytest.mark.parametrize("how", ["kind", "none"])
async def test_rate_limit_without_header(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession, how: str
) -> None:
    if how == "kind":
        fake_toapis.faults.add("rate_limit_no_header")
    else:
        fake_toapis.faults.add("rate_limit", retry_after=None)
    body = {"model": GPT, "prompt": "x"}
    async with http.post(fake_toapis.base_url + SUBMIT, json=body, headers=auth(fake_toapis)) as r:
        assert r.status == 429
        assert "Retry-After" not in r.headers


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_error(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession, status: int
) -> None:
    fake_toapis.faults.add("server_error", endpoint="submit", status=status)
    code, body = await submit(http, fake_toapis)
    assert code == status
    assert error_message(body)
    assert fake_toapis.charged_images == 0  # refused before processing


async def test_server_error_after_processing(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession
) -> None:
    fake_toapis.faults.add("server_error", endpoint="submit", status=502, processed=True)
    assert (await submit(http, fake_toapis))[0] == 502
    assert fake_toapis.charged_images == 1
    assert len(fake_toapis.tasks) == 1


async def test_malformed_json(fake_toapis: FakeToAPIs, http: aiohttp.ClientSession) -> None:
    fake_toapis.faults.add("malformed_json", endpoint="submit")
    body = {"model": GPT, "prompt": "x"}
    async with http.post(fake_toapis.base_url + SUBMIT, json=body, headers=auth(fake_toapis)) as r:
        assert r.status == 200
        with pytest.raises(ValueError):
            await r.json()
    assert fake_toapis.charged_images == 1  # the work was done, the answer is garbage
    tid = next(iter(fake_toapis.tasks))
    fake_toapis.faults.add("malformed_json", endpoint="status")
    url = f"{fake_toapis.base_url}{SUBMIT}/{tid}"
    async with http.get(url, headers=auth(fake_toapis)) as r:
        assert r.status == 200
        with pytest.raises(ValueError):
            await r.json()
    assert (await poll(http, fake_toapis, tid))[0] == 200


async def test_slow_triggers_client_timeout_but_work_is_done(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession
) -> None:
    fake_toapis.faults.add("slow", endpoint="submit", delay=0.3)
    timeout = aiohttp.ClientTimeout(total=0.05)
    body = {"model": GPT, "prompt": "x"}
    with pytest.raises(asyncio.TimeoutError):
        async with http.post(
            fake_toapis.base_url + SUBMIT, json=body, headers=auth(fake_toapis), timeout=timeout
        ) as r:
            await r.read()
    assert fake_toapis.tasks == {}
    await asyncio.sleep(0.4)
    assert len(fake_toapis.tasks) == 1
    assert fake_toapis.charged_images == 1


async def test_slow_answers_normally(fake_toapis: FakeToAPIs, http: aiohttp.ClientSession) -> None:
    fake_toapis.faults.add("slow", endpoint="any", delay=0.1)
    loop = asyncio.get_running_loop()
    start = loop.time()
    status, _ = await submit(http, fake_toapis)
    assert status == 200
    assert loop.time() - start >= 0.09


async def test_close_does_not_wait_for_slow_requests(http: aiohttp.ClientSession) -> None:
    fake = await FakeToAPIs().start()
    fake.faults.add("slow", delay=30)
    request = asyncio.create_task(submit(http, fake))
    await asyncio.sleep(0.05)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await fake.close()
    assert loop.time() - start < 5
    try:
        status, _ = await request
    except aiohttp.ClientError:
        pass
    else:
        assert status == 503
    assert fake.tasks == {}


async def test_drop_submit_still_creates_and_charges(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession
) -> None:
    fake_toapis.faults.add("drop", endpoint="submit")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await submit(http, fake_toapis, n=2)
    assert len(fake_toapis.tasks) == 1
    assert fake_toapis.charged_images == 2
    record = fake_toapis.requests_to("submit")[0]
    assert record.status is None
    assert record.fault == "drop"
    assert record.json["n"] == 2
    assert record.task_id in fake_toapis.tasks
    assert (await submit(http, fake_toapis))[0] == 200  # the next request works


async def test_drop_before_processing(fake_toapis: FakeToAPIs, http: aiohttp.ClientSession) -> None:
    fake_toapis.faults.add("drop", endpoint="submit", processed=False)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await submit(http, fake_toapis)
    assert fake_toapis.tasks == {}
    assert fake_toapis.charged_images == 0


async def test_drop_status_upload_and_file(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession
) -> None:
    task = await run_to_completion(http, fake_toapis)
    url = collect_urls(task)[0]
    # aiohttp itself retries an idempotent GET once after a dropped connection: drop twice.
    fake_toapis.faults.add("drop", endpoint="status", times=2)
    fake_toapis.faults.add("drop", endpoint="upload")
    fake_toapis.faults.add("drop", endpoint="file", times=2)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await poll(http, fake_toapis, task["id"])
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await upload(http, fake_toapis, image_bytes("PNG"))
    assert len(fake_toapis.uploads) == 1  # stored, answer lost
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await download(http, url)
    assert (await download(http, url))[0] == 200
    dropped = [(r.endpoint, r.status) for r in fake_toapis.requests if r.fault == "drop"]
    assert dropped == [("status", None)] * 2 + [("upload", None)] + [("file", None)] * 2


@pytest.mark.parametrize("kind", ["error_shape_a", "error_shape_b"])
async def test_error_shape_faults(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession, kind: str
) -> None:
    fake_toapis.faults.add(kind, endpoint="submit", status=422, message="bad thing")
    code, body = await submit(http, fake_toapis)
    assert code == 422
    if kind == "error_shape_a":
        assert body == {
            "error": {"message": "bad thing", "type": "invalid_request_error", "code": ANY_STR}
        }
    else:
        assert body == {"success": False, "message": "bad thing"}


async def test_error_shape_default_status(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession
) -> None:
    fake_toapis.faults.add("error_shape_b")
    code, body = await submit(http, fake_toapis)
    assert code == 400
    assert body["success"] is False


@pytest.mark.parametrize("status", [402, 403, 404, 422, 418])
async def test_status_fault(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession, status: int
) -> None:
    fake_toapis.faults.add("status", endpoint="submit", status=status)
    code, body = await submit(http, fake_toapis)
    assert code == status
    assert error_message(body)
    assert fake_toapis.charged_images == 0


async def test_fault_times_endpoint_and_match(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession
) -> None:
    fake = fake_toapis
    fake.faults.add("server_error", endpoint="status", times=2)
    _, task = await submit(http, fake)  # submit not affected
    tid = task["id"]
    assert [(await poll(http, fake, tid))[0] for _ in range(3)] == [500, 500, 200]
    forever = fake.faults.add("status", status=404, endpoint="status", times=None)
    for _ in range(3):
        assert (await poll(http, fake, tid))[0] == 404
    assert forever.fired == 3
    assert len(fake.faults) == 1
    fake.faults.clear()
    assert (await poll(http, fake, tid))[0] == 200
    _, other = await submit(http, fake)
    fake.faults.add("status", status=404, endpoint="status", match=lambda r: r.task_id == tid)
    assert (await poll(http, fake, other["id"]))[0] == 200
    assert (await poll(http, fake, tid))[0] == 404
    with pytest.raises(ValueError):
        fake.faults.add("explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        fake.faults.add("status")  # needs status=


async def test_faults_on_upload_and_file(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession
) -> None:
    fake_toapis.faults.add("rate_limit", endpoint="upload", retry_after=2)
    assert (await upload(http, fake_toapis, image_bytes("PNG")))[0] == 429
    assert fake_toapis.uploads == {}
    task = await run_to_completion(http, fake_toapis)
    fake_toapis.faults.add("server_error", endpoint="file", status=503)
    assert (await download(http, collect_urls(task)[0]))[0] == 503
    assert (await download(http, collect_urls(task)[0]))[0] == 200


# ------------------------------------------------------------------ scripting


async def test_script_times_and_default(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession
) -> None:
    fake_toapis.script(times=2, outcome="failed")
    fake_toapis.script_next(TaskScript(id_style="img"))
    ids = [(await submit(http, fake_toapis))[1]["id"] for _ in range(4)]
    outcomes = [fake_toapis.tasks[i].script.outcome for i in ids]
    assert outcomes == ["failed", "failed", "completed", "completed"]
    assert ids[2].startswith("img_")
    assert ids[3].startswith("tsk_img_")
    with pytest.raises(ValueError):
        fake_toapis.script(outcome="exploded")


async def test_invalid_requests_do_not_consume_scripts(
    fake_toapis: FakeToAPIs, http: aiohttp.ClientSession
) -> None:
    fake_toapis.script(outcome="never")
    assert (await submit(http, fake_toapis, n="1"))[0] == 400
    _, task = await submit(http, fake_toapis)
    assert fake_toapis.tasks[task["id"]].script.outcome == "never"


async def test_duration_policy(http: aiohttp.ClientSession) -> None:
    seen: list[dict[str, Any]] = []

    def policy(body: dict[str, Any]) -> TaskScript:
        seen.append(body)
        return TaskScript(queue_s=0, run_s=100 if body.get("resolution") == "4k" else 5)

    async with FakeToAPIs(duration_policy=policy) as fake:
        _, fast = await submit(http, fake)
        _, slow = await submit(http, fake, size="16:9", resolution="4k")
        fake.advance(10)
        assert (await poll(http, fake, fast["id"]))[1]["status"] == "completed"
        assert (await poll(http, fake, slow["id"]))[1]["status"] == "in_progress"
    assert [b.get("resolution") for b in seen] == [None, "4k"]


# ------------------------------------------------------------------ recording and charging


async def test_recording(fake_toapis: FakeToAPIs, http: aiohttp.ClientSession) -> None:
    fake = fake_toapis
    fake.advance(5)
    _, up = await upload(http, fake, image_bytes("PNG"), filename="cat.png", purpose="generation")
    fake.advance(5)
    _, task = await submit(http, fake, n=2, image_urls=[up["data"]["url"]])
    await poll(http, fake, task["id"])
    await download(http, up["data"]["url"])
    assert [r.endpoint for r in fake.requests] == ["upload", "submit", "status", "file"]
    assert [r.index for r in fake.requests] == [0, 1, 2, 3]
    assert [r.status for r in fake.requests] == [200, 200, 200, 200]
    up_rec, sub_rec, st_rec, file_rec = fake.requests
    assert up_rec.method == "POST"
    assert up_rec.path == UPLOAD
    assert up_rec.fields == {"purpose": "generation"}
    assert up_rec.files["file"].filename == "cat.png"
    assert up_rec.files["file"].data == image_bytes("PNG")
    assert sub_rec.json == {
        "model": GPT,
        "prompt": "a castle",
        "n": 2,
        "image_urls": [up["data"]["url"]],
    }
    assert sub_rec.body.startswith(b"{")
    assert sub_rec.task_id == task["id"]
    assert sub_rec.clock_time == up_rec.clock_time + 5
    assert st_rec.method == "GET"
    assert st_rec.task_id == task["id"]
    assert file_rec.authorization is None
    assert up_rec.monotonic <= sub_rec.monotonic <= st_rec.monotonic <= file_rec.monotonic
    assert fake.requests_to("submit") == [sub_rec]
    assert fake.tasks[task["id"]].request == sub_rec.json


async def test_charge_counting(fake_toapis: FakeToAPIs, http: aiohttp.ClientSession) -> None:
    fake = fake_toapis
    _, a = await submit(http, fake, n=3)
    _, b = await submit(http, fake, body={"model": G4O, "prompt": "p", "n": 4})
    await submit(http, fake, n=0)  # refused, not charged
    fake.advance(100)
    await poll(http, fake, a["id"])
    await poll(http, fake, a["id"])  # polling never charges
    assert fake.charged_images == 7
    assert fake.charged_tasks == 2
    assert fake.charges == [(a["id"], 3), (b["id"], 4)]
    assert fake.tasks[a["id"]].charged == 3
    assert fake.tasks[b["id"]].charged == 4


async def test_status_rate_limit_refuses_above_the_limit(http: aiohttp.ClientSession) -> None:
    clock = ManualClock()
    async with FakeToAPIs(clock=clock, status_rate_limit=3) as fake:
        _, body = await submit(http, fake)
        task_id = body["id"]
        codes = [(await poll(http, fake, task_id))[0] for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        limited = [r for r in fake.requests_to("status") if r.status == 429]
        assert len(limited) == 2  # recorded like any other request
        assert fake.rate_limited == 2
        async with http.get(f"{fake.base_url}{SUBMIT}/{task_id}", headers=auth(fake)) as resp:
            assert resp.status == 429
            assert resp.headers["Retry-After"] == "1"
            assert (await resp.json())["error"]["type"] == "rate_limit_error"
        # Refused requests do not fill the window: a second later all three slots are free.
        clock.advance(0.5)
        assert (await poll(http, fake, task_id))[0] == 429
        clock.advance(0.5)
        assert [(await poll(http, fake, task_id))[0] for _ in range(4)] == [200, 200, 200, 429]
        # Submits are not limited.
        assert (await submit(http, fake))[0] == 200
    with pytest.raises(ValueError):
        FakeToAPIs(status_rate_limit=0)
