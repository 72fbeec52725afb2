"""Contract tests: the ToAPIs client against the local fake, for every model rule and fault mode."""

from __future__ import annotations

import io
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from PIL import Image

from bot.toapis import (
    AuthenticationError,
    ClientTimeouts,
    GenerationRequest,
    InsufficientBalanceError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    ResultTooLargeError,
    RetryPolicy,
    SubmissionUncertainError,
    TaskStatus,
    ToAPIsClient,
    ToAPIsError,
    TransientError,
)
from bot.toapis.client import _same_origin
from tests.fakes.toapis import FakeToAPIs
from tests.fakes.toapis_model import ID_STYLES, RESULT_SHAPES

GPT = "gpt-image-1.5-official"


class Sleeps:
    """Record the client's backoff sleeps instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_client(
    session: aiohttp.ClientSession, fake: FakeToAPIs, sleeps: Sleeps, **kw: object
) -> ToAPIsClient:
    return ToAPIsClient(
        session,
        base_url=kw.pop("base_url", fake.base_url),  # type: ignore[arg-type]
        api_key=kw.pop("api_key", fake.api_key),  # type: ignore[arg-type]
        sleep=sleeps,
        timeouts=kw.pop("timeouts", ClientTimeouts(connect=2, request=5, upload=5, download=5)),  # type: ignore[arg-type]
        retry=kw.pop("retry", RetryPolicy(max_retries=3)),  # type: ignore[arg-type]
    )


@pytest.fixture
def client(session: aiohttp.ClientSession, fake_toapis: FakeToAPIs, sleeps: Sleeps) -> ToAPIsClient:
    return make_client(session, fake_toapis, sleeps)


def png(w: int = 64, h: int = 48, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (w, h), (10, 20, 30, 0) if mode == "RGBA" else (10, 20, 30)).save(out, "PNG")
    return out.getvalue()


# -- the happy path ---------------------------------------------------------------------------


async def test_submit_sends_the_payload_with_auth_and_returns_the_task(
    client: ToAPIsClient, fake_toapis: FakeToAPIs
) -> None:
    req = GenerationRequest(
        model=GPT, prompt="a castle", size="16:9", resolution="2k", quality="high", n=2
    )
    task = await client.submit(req)
    assert task.status is TaskStatus.QUEUED and task.progress == 0
    (record,) = fake_toapis.requests_to("submit")
    assert record.json == {
        "model": GPT,
        "prompt": "a castle",
        "size": "16:9",
        "resolution": "2k",
        "quality": "high",
        "n": 2,
    }
    assert record.authorization == f"Bearer {fake_toapis.api_key}"
    assert fake_toapis.charged_images == 2 and task.id in fake_toapis.tasks


async def test_task_lifecycle_progress_and_download(
    client: ToAPIsClient, fake_toapis: FakeToAPIs, tmp_path: Path
) -> None:
    fake_toapis.script(queue_s=2, run_s=10)
    task = await client.submit(
        GenerationRequest(model=GPT, prompt="x", size="3:2", resolution="1k")
    )
    fake_toapis.advance(1)
    assert (await client.get_task(task.id)).status is TaskStatus.QUEUED
    fake_toapis.advance(6)
    running = await client.get_task(task.id)
    assert running.status is TaskStatus.RUNNING and 0 < (running.progress or 0) < 100
    fake_toapis.advance(10)
    done = await client.get_task(task.id)
    assert done.status is TaskStatus.COMPLETED and done.is_final and done.image_urls
    assert done.expires_at and done.completed_at
    dest = tmp_path / "r.png"
    size = await client.download(done.image_urls[0], dest, max_bytes=50 << 20)
    assert size == dest.stat().st_size
    with Image.open(dest) as img:
        assert img.size == (1536, 1024) and img.format == "PNG"
    assert not [p for p in dest.parent.iterdir() if p.name.endswith(".part")]


@pytest.mark.parametrize("shape", RESULT_SHAPES)
async def test_every_result_shape_gives_every_image_once(
    client: ToAPIsClient, fake_toapis: FakeToAPIs, shape: str
) -> None:
    fake_toapis.script(queue_s=0, run_s=1, result_shape=shape)
    task = await client.submit(GenerationRequest(model=GPT, prompt="x", n=3))
    fake_toapis.advance(5)
    done = await client.get_task(task.id)
    expected = fake_toapis.result_urls(task.id)
    if shape in ("url", "result.url"):
        expected = expected[:1]  # single-URL shapes carry only the first image
    assert done.image_urls == expected


@pytest.mark.parametrize("style", ID_STYLES)
async def test_task_ids_are_opaque(
    client: ToAPIsClient, fake_toapis: FakeToAPIs, style: str
) -> None:
    fake_toapis.script(id_style=style, object_name="image.generation", status_spelling="submitted")
    task = await client.submit(GenerationRequest(model=GPT, prompt="x"))
    assert task.id in fake_toapis.tasks and task.raw_status == "submitted"
    assert (await client.get_task(task.id)).id == task.id


async def test_missing_progress_and_unknown_status(
    client: ToAPIsClient, fake_toapis: FakeToAPIs
) -> None:
    fake_toapis.script(queue_s=0, run_s=100, progress="missing", unknown_status="warming_up")
    task = await client.submit(GenerationRequest(model=GPT, prompt="x"))
    fake_toapis.advance(10)
    seen = await client.get_task(task.id)
    assert (
        seen.status is TaskStatus.RUNNING
        and seen.raw_status == "warming_up"
        and seen.progress is None
    )


async def test_failed_task_carries_the_error(client: ToAPIsClient, fake_toapis: FakeToAPIs) -> None:
    fake_toapis.script(
        queue_s=0, run_s=1, outcome="failed", error_message="blocked by safety", error_code="cp"
    )
    task = await client.submit(GenerationRequest(model=GPT, prompt="x"))
    fake_toapis.advance(5)
    failed = await client.get_task(task.id)
    assert failed.status is TaskStatus.FAILED and failed.error_message == "blocked by safety"
    assert failed.error_code == "cp" and failed.image_urls == []


async def test_never_finishing_task_stays_running(
    client: ToAPIsClient, fake_toapis: FakeToAPIs
) -> None:
    fake_toapis.script(queue_s=0, run_s=1, outcome="never")
    task = await client.submit(GenerationRequest(model=GPT, prompt="x"))
    fake_toapis.advance(3600)
    assert (await client.get_task(task.id)).status is TaskStatus.RUNNING


async def test_gpt_4o_image_request_accepted(client: ToAPIsClient, fake_toapis: FakeToAPIs) -> None:
    task = await client.submit(GenerationRequest(model="gpt-4o-image", prompt="x", size="2:3", n=4))
    assert fake_toapis.tasks[task.id].charged == 4


# -- uploads ----------------------------------------------------------------------------------


async def test_upload_keeps_bytes_and_its_url_works_as_a_reference(
    client: ToAPIsClient, fake_toapis: FakeToAPIs
) -> None:
    data = png(64, 48)
    up = await client.upload_image(data, "cat.png", "image/png")
    stored = fake_toapis.upload_by_url(up.url)
    assert stored is not None and stored.data == data and stored.filename == "cat.png"
    assert up.mime_type == "image/png" and up.size == len(data)
    mask = await client.upload_image(png(64, 48, "RGBA"), "mask.png", "image/png")
    task = await client.submit(
        GenerationRequest(model=GPT, prompt="edit", image_urls=[up.url], mask_url=mask.url)
    )
    assert fake_toapis.tasks[task.id].request["image_urls"] == [up.url]


async def test_upload_of_a_non_image_is_refused_without_retry(
    client: ToAPIsClient, fake_toapis: FakeToAPIs, sleeps: Sleeps
) -> None:
    with pytest.raises(InvalidRequestError):
        await client.upload_image(b"%PDF-1.4 not an image", "doc.pdf", "application/pdf")
    assert len(fake_toapis.requests_to("upload")) == 1 and sleeps.calls == []


async def test_upload_too_large_is_refused(session: aiohttp.ClientSession, sleeps: Sleeps) -> None:
    async with FakeToAPIs(max_upload_bytes=1000) as fake:
        client = make_client(session, fake, sleeps)
        with pytest.raises(InvalidRequestError):
            await client.upload_image(png(200, 200, "RGBA") + b"\0" * 2000, "big.png", "image/png")


async def test_upload_retried_after_a_server_error(
    client: ToAPIsClient, fake_toapis: FakeToAPIs, sleeps: Sleeps
) -> None:
    fake_toapis.faults.add("server_error", endpoint="upload", status=503)
    up = await client.upload_image(png(), "a.png", "image/png")
    assert up.url and len(fake_toapis.requests_to("upload")) == 2 and len(sleeps.calls) == 1


async def test_mask_of_wrong_size_is_refused_by_the_service(
    client: ToAPIsClient, fake_toapis: FakeToAPIs
) -> None:
    up = await client.upload_image(png(64, 48), "a.png", "image/png")
    mask = await client.upload_image(png(32, 32, "RGBA"), "m.png", "image/png")
    with pytest.raises(InvalidRequestError):
        await client.submit(
            GenerationRequest(model=GPT, prompt="edit", image_urls=[up.url], mask_url=mask.url)
        )
    assert fake_toapis.charged_images == 0


# -- downloads --------------------------------------------------------------------------------


async def completed_task(client: ToAPIsClient, fake: FakeToAPIs, **script: object) -> list[str]:
    fake.script(queue_s=0, run_s=1, **script)
    task = await client.submit(GenerationRequest(model=GPT, prompt="x"))
    fake.advance(2)
    return (await client.get_task(task.id)).image_urls


async def test_download_over_the_cap_leaves_no_file(
    client: ToAPIsClient, fake_toapis: FakeToAPIs, tmp_path: Path
) -> None:
    urls = await completed_task(client, fake_toapis, noisy=True)
    with pytest.raises(ResultTooLargeError):
        await client.download(urls[0], tmp_path / "r.png", max_bytes=10_000)
    assert list(tmp_path.iterdir()) == []


async def test_expired_result_is_not_found(
    client: ToAPIsClient, fake_toapis: FakeToAPIs, tmp_path: Path
) -> None:
    fake_toapis.script(queue_s=0, run_s=1)
    task = await client.submit(GenerationRequest(model=GPT, prompt="x"))
    fake_toapis.advance(2)
    urls = (await client.get_task(task.id)).image_urls
    fake_toapis.expire(task.id)
    with pytest.raises(NotFoundError):
        await client.download(urls[0], tmp_path / "r.png", max_bytes=50 << 20)
    assert not (tmp_path / "r.png").exists()


async def test_slow_download_times_out_then_is_retried(
    session: aiohttp.ClientSession, fake_toapis: FakeToAPIs, sleeps: Sleeps, tmp_path: Path
) -> None:
    client = make_client(
        session, fake_toapis, sleeps, timeouts=ClientTimeouts(connect=2, request=5, download=0.3)
    )
    urls = await completed_task(client, fake_toapis)
    fake_toapis.faults.add("slow", endpoint="file", delay=2)
    size = await client.download(urls[0], tmp_path / "r.png", max_bytes=50 << 20)
    assert size > 0 and len(sleeps.calls) == 1


async def test_download_gives_up_after_retries(
    client: ToAPIsClient, fake_toapis: FakeToAPIs, sleeps: Sleeps, tmp_path: Path
) -> None:
    urls = await completed_task(client, fake_toapis)
    fake_toapis.faults.add("server_error", endpoint="file", times=None)
    with pytest.raises(TransientError):
        await client.download(urls[0], tmp_path / "r.png", max_bytes=50 << 20)
    assert len(sleeps.calls) == 3 and not list(tmp_path.iterdir())


# -- HTTP errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["a", "b"])
async def test_both_error_shapes_give_the_server_message(
    client: ToAPIsClient, fake_toapis: FakeToAPIs, shape: str
) -> None:
    fake_toapis.faults.add(
        f"error_shape_{shape}", endpoint="submit", message="prompt rejected by policy"
    )  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError) as info:
        await client.submit(GenerationRequest(model=GPT, prompt="x"))
    assert info.value.message == "prompt rejected by policy"


async def test_service_validation_error_is_invalid_request(
    client: ToAPIsClient, fake_toapis: FakeToAPIs
) -> None:
    # Bypass the bot's own validator: the service's 400 must still be typed.
    with pytest.raises(InvalidRequestError) as info:
        await client.submit(GenerationRequest(model=GPT, prompt="x", size="1:1", resolution="4k"))
    assert info.value.status == 400 and info.value.message
    assert fake_toapis.charged_images == 0


async def test_wrong_key_is_authentication_error_without_the_key(
    session: aiohttp.ClientSession, fake_toapis: FakeToAPIs, sleeps: Sleeps
) -> None:
    secret = "sk-wrong-but-still-secret-9876"
    client = make_client(session, fake_toapis, sleeps, api_key=secret)
    with pytest.raises(AuthenticationError) as info:
        await client.get_task("tsk_img_nope")
    assert secret not in str(info.value) and secret not in repr(info.value) and sleeps.calls == []


@pytest.mark.parametrize("status", [402, 403])
async def test_balance_and_forbidden(
    client: ToAPIsClient, fake_toapis: FakeToAPIs, status: int
) -> None:
    fake_toapis.deny_status = status
    with pytest.raises(InsufficientBalanceError):
        await client.submit(GenerationRequest(model=GPT, prompt="x"))


async def test_balance_runs_out(session: aiohttp.ClientSession, sleeps: Sleeps) -> None:
    async with FakeToAPIs(balance=1) as fake:
        client = make_client(session, fake, sleeps)
        await client.submit(GenerationRequest(model=GPT, prompt="x"))
        with pytest.raises(InsufficientBalanceError):
            await client.submit(GenerationRequest(model=GPT, prompt="x"))


async def test_unknown_task_is_not_found(client: ToAPIsClient, fake_toapis: FakeToAPIs) -> None:
    task = await client.submit(GenerationRequest(model=GPT, prompt="x"))
    fake_toapis.forget(task.id)
    with pytest.raises(NotFoundError):
        await client.get_task(task.id)


async def test_422_is_invalid_request(client: ToAPIsClient, fake_toapis: FakeToAPIs) -> None:
    fake_toapis.faults.add("status", endpoint="status", status=422)
    with pytest.raises(InvalidRequestError):
        await client.get_task("tsk_img_x")


# -- retries of idempotent calls --------------------------------------------------------------


async def test_status_429_waits_retry_after_then_succeeds(
    client: ToAPIsClient, fake_toapis: FakeToAPIs, sleeps: Sleeps
) -> None:
    task = await client.submit(GenerationRequest(model=GPT, prompt="x"))
    fake_toapis.faults.add("rate_limit", endpoint="status", retry_after=7)
    assert (await client.get_task(task.id)).id == task.id
    assert len(sleeps.calls) == 1 and 7 <= sleeps.calls[0] < 7.5


async def test_status_429_without_header_backs_off(
    client: ToAPIsClient, fake_toapis: FakeToAPIs, sleeps: Sleeps
) -> None:
    task = await client.submit(GenerationRequest(model=GPT, prompt="x"))
    fake_toapis.faults.add("rate_limit_no_header", endpoint="status", times=2)
    await client.get_task(task.id)
    assert len(sleeps.calls) == 2 and all(0 <= s <= 20 for s in sleeps.calls)


async def test_429_storm_gives_up_with_retry_after(
    client: ToAPIsClient, fake_toapis: FakeToAPIs, sleeps: Sleeps
) -> None:
    fake_toapis.faults.add("rate_limit", endpoint="status", retry_after=2, times=None)
    with pytest.raises(RateLimitedError) as info:
        await client.get_task("tsk_img_x")
    assert info.value.retry_after == 2 and len(sleeps.calls) == 3
    assert len(fake_toapis.requests_to("status")) == 4


async def test_long_retry_after_is_handed_to_the_caller(
    client: ToAPIsClient, fake_toapis: FakeToAPIs, sleeps: Sleeps
) -> None:
    fake_toapis.faults.add("rate_limit", endpoint="status", retry_after=600)
    with pytest.raises(RateLimitedError) as info:
        await client.get_task("tsk_img_x")
    assert info.value.retry_after == 600 and sleeps.calls == []


async def test_poller_can_ask_for_no_retries(
    client: ToAPIsClient, fake_toapis: FakeToAPIs, sleeps: Sleeps
) -> None:
    fake_toapis.faults.add("server_error", endpoint="status")
    with pytest.raises(TransientError):
        await client.get_task("tsk_img_x", retries=0)
    assert sleeps.calls == []


@pytest.mark.parametrize("kind", ["server_error", "malformed_json", "drop"])
async def test_status_transient_faults_are_retried(
    client: ToAPIsClient, fake_toapis: FakeToAPIs, sleeps: Sleeps, kind: str
) -> None:
    task = await client.submit(GenerationRequest(model=GPT, prompt="x"))
    fake_toapis.faults.add(kind, endpoint="status")  # type: ignore[arg-type]
    assert (await client.get_task(task.id)).id == task.id
    assert len(fake_toapis.requests_to("status")) == 2
    # aiohttp itself resends an idempotent GET once when a kept-alive connection drops.
    assert len(sleeps.calls) == (0 if kind == "drop" else 1)


async def test_slow_status_times_out_and_is_retried(
    session: aiohttp.ClientSession, fake_toapis: FakeToAPIs, sleeps: Sleeps
) -> None:
    client = make_client(
        session, fake_toapis, sleeps, timeouts=ClientTimeouts(connect=2, request=0.3)
    )
    task = await client.submit(GenerationRequest(model=GPT, prompt="x"))
    fake_toapis.faults.add("slow", endpoint="status", delay=2)
    assert (await client.get_task(task.id)).id == task.id and len(sleeps.calls) == 1


# -- the generation POST is never sent twice when it may have been accepted -------------------


async def test_submit_429_is_retried_because_nothing_was_created(
    client: ToAPIsClient, fake_toapis: FakeToAPIs, sleeps: Sleeps
) -> None:
    fake_toapis.faults.add("rate_limit", endpoint="submit", retry_after=1)
    await client.submit(GenerationRequest(model=GPT, prompt="x"))
    assert len(fake_toapis.requests_to("submit")) == 2 and fake_toapis.charged_tasks == 1


@pytest.mark.parametrize("kind", ["drop", "malformed_json"])
async def test_submit_whose_answer_is_lost_is_uncertain_and_not_repeated(
    client: ToAPIsClient, fake_toapis: FakeToAPIs, sleeps: Sleeps, kind: str
) -> None:
    fake_toapis.faults.add(kind, endpoint="submit")  # type: ignore[arg-type]
    with pytest.raises(SubmissionUncertainError):
        await client.submit(GenerationRequest(model=GPT, prompt="x"))
    assert len(fake_toapis.requests_to("submit")) == 1 and fake_toapis.charged_tasks == 1
    assert sleeps.calls == []


async def test_submit_timeout_after_sending_is_uncertain_and_not_repeated(
    session: aiohttp.ClientSession, fake_toapis: FakeToAPIs, sleeps: Sleeps
) -> None:
    client = make_client(
        session, fake_toapis, sleeps, timeouts=ClientTimeouts(connect=2, request=0.3)
    )
    fake_toapis.faults.add("slow", endpoint="submit", delay=1.5)
    with pytest.raises(SubmissionUncertainError):
        await client.submit(GenerationRequest(model=GPT, prompt="x"))
    assert len(fake_toapis.requests_to("submit")) == 1 and sleeps.calls == []


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (500, TransientError),
        (503, TransientError),
        (502, SubmissionUncertainError),
        (504, SubmissionUncertainError),
    ],
)
async def test_submit_server_errors_are_not_retried(
    client: ToAPIsClient, fake_toapis: FakeToAPIs, sleeps: Sleeps, status: int, kind: type
) -> None:
    fake_toapis.faults.add("server_error", endpoint="submit", status=status)
    with pytest.raises(kind):
        await client.submit(GenerationRequest(model=GPT, prompt="x"))
    assert len(fake_toapis.requests_to("submit")) == 1 and sleeps.calls == []


async def test_submit_to_a_closed_port_is_retried_then_transient(
    session: aiohttp.ClientSession, fake_toapis: FakeToAPIs, sleeps: Sleeps
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = make_client(session, fake_toapis, sleeps, base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(TransientError) as info:
        await client.submit(GenerationRequest(model=GPT, prompt="x"))
    assert not isinstance(info.value, SubmissionUncertainError)
    assert len(sleeps.calls) == 3  # surely never sent, so retrying is safe


# -- secrets ----------------------------------------------------------------------------------


async def test_api_key_never_in_repr_errors_or_logs(
    client: ToAPIsClient, fake_toapis: FakeToAPIs, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    key = fake_toapis.api_key
    errors: list[ToAPIsError] = []
    with caplog.at_level(logging.DEBUG):
        fake_toapis.faults.add("server_error", endpoint="status", times=None)
        for call in (
            client.get_task("t"),
            client.submit(GenerationRequest(model=GPT, prompt="x", size="1:1", resolution="4k")),
            client.download(
                fake_toapis.base_url + "/files/results/nope.png", tmp_path / "x", max_bytes=10
            ),
        ):
            try:
                await call
            except ToAPIsError as exc:
                errors.append(exc)
    assert len(errors) == 3
    text = caplog.text + repr(client) + "".join(f"{e!s}{e!r}" for e in errors)
    assert key not in text


def test_key_only_sent_to_the_api_origin() -> None:
    assert _same_origin("https://toapis.com/v1/x", "https://toapis.com")
    assert not _same_origin("https://files.toapis.com/r.png", "https://toapis.com")
    assert not _same_origin("http://toapis.com/r.png", "https://toapis.com")
