"""Pieces of the Discord layer that need no Discord: rendering, defaults, upscaling, uploads."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from bot.generation import (
    GenerationService,
    Options,
    nearest_size,
    upscale_options,
)
from bot.jobs.records import Job, decode_request
from bot.jobs.states import ChargeState, JobState
from bot.jobs.upload_cache import CachedUploads
from bot.policy import GuildDefaults, PermissivePolicy, RequestContext
from bot.refusal import Refusal
from bot.runner import RedactSecrets
from bot.storage import open_database
from bot.toapis.models import GenerationRequest


def _job(**changes: object) -> Job:
    base = Job(
        id=7,
        state=JobState.RUNNING,
        charge_state=ChargeState.RELEASED,
        member_id=1,
        request=decode_request(
            '{"model": "gpt-image-1.5-official", "prompt": "p", "size": "16:9", "resolution": "1k", "n": 1}'
        ),
        created_at=100.0,
        updated_at=100.0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_nearest_size() -> None:
    sizes = ("1:1", "3:2", "2:3", "16:9", "9:16", "21:9")
    assert nearest_size(1920, 1080, sizes) == "16:9"
    assert nearest_size(1000, 1010, sizes) == "1:1"
    assert nearest_size(640, 960, sizes) == "2:3"


def test_upscale_options() -> None:
    wide = upscale_options(_job(), 1536, 864)
    assert (wide.size, wide.resolution, wide.count) == ("16:9", "4k", 1)
    square = _job(
        request=decode_request('{"model": "gpt-4o-image", "prompt": "p", "size": "1:1", "n": 2}'),
    )
    up = upscale_options(square, 1024, 1024)
    assert (up.model, up.size, up.resolution, up.quality) == (
        "gpt-image-1.5-official",
        "1:1",
        "2k",
        None,
    )
    top = _job(
        request=decode_request(
            '{"model": "gpt-image-1.5-official", "prompt": "p", "size": "16:9", "resolution": "4k", "n": 1}'
        )
    )
    with pytest.raises(Refusal, match="already at 4K"):
        upscale_options(top, 3840, 2160)


class _Refuse:
    async def check(self, ctx: RequestContext, request: GenerationRequest) -> None:
        if "forbidden" in request.prompt:
            raise Refusal("Not here.")

    async def defaults(self, guild_id: int | None) -> GuildDefaults:
        return GuildDefaults(
            model="gpt-image-1.5-official", size="1:1", resolution="4k", quality="low", max_count=2
        )


async def test_plan_applies_defaults_and_asks_the_policy(tmp_path: Path) -> None:
    db = await open_database(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        service = GenerationService(None, db, _Refuse(), data_dir=tmp_path)  # type: ignore[arg-type]
        ctx = RequestContext(guild_id=1, channel_id=2, member_id=3)
        plan = await service.plan(ctx, Options(prompt="  a cat  "))
        # A 4K default that the default size cannot take is lowered to 2K quietly.
        assert plan.request.resolution == "2k" and plan.request.quality == "low"
        assert plan.request.prompt == "a cat" and plan.request.image_urls is None
        wide = await service.plan(ctx, Options(prompt="a cat", size="16:9"))
        assert wide.request.resolution == "4k"
        with pytest.raises(Refusal, match="you asked for 3"):
            await service.plan(ctx, Options(prompt="a cat", count=3))
        with pytest.raises(Refusal, match="Not here"):
            await service.plan(ctx, Options(prompt="forbidden fruit"))
        four_o = await service.plan(ctx, Options(prompt="a cat", model="gpt-4o-image"))
        assert four_o.request.resolution is None and four_o.request.quality is None
    finally:
        await db.close()


async def test_permissive_policy_allows_everything() -> None:
    defaults = GuildDefaults("gpt-image-1.5-official", "1:1", "1k", "medium", 4)
    policy = PermissivePolicy(defaults)
    await policy.check(RequestContext(None, None, 1), GenerationRequest(model="m", prompt="p"))
    assert await policy.defaults(123) is defaults


class _CountingService:
    def __init__(self) -> None:
        self.uploads: list[bytes] = []

    async def upload(self, path: Path, filename: str, content_type: str) -> str:
        self.uploads.append(path.read_bytes())
        return f"https://files.example/{len(self.uploads)}.png"

    async def submit(self, *args: object) -> object:
        raise NotImplementedError

    async def get_task(self, task_id: str) -> object:
        raise NotImplementedError

    async def download(self, *args: object, **kwargs: object) -> int:
        raise NotImplementedError


async def test_upload_cache_reuses_fresh_urls_by_content(tmp_path: Path) -> None:
    from bot.clock import ManualClock

    db = await open_database(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        inner = _CountingService()
        clock = ManualClock()
        cached = CachedUploads(inner, db.uploads, clock=clock, ttl=100)  # type: ignore[arg-type]
        a, b, c = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
        a.write_bytes(b"same")
        b.write_bytes(b"same")
        c.write_bytes(b"other")
        first = await cached.upload(a, "a.png", "image/png")
        assert await cached.upload(b, "b.png", "image/png") == first
        assert await cached.upload(c, "c.png", "image/png") != first
        assert inner.uploads == [b"same", b"other"]
        clock.advance(101)  # stale: uploaded again
        assert await cached.upload(a, "a.png", "image/png") != first
        assert len(inner.uploads) == 3
    finally:
        await db.close()


def test_logs_never_show_secrets() -> None:
    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "POST /api/v10/webhooks/123/aW50ZXJhY3Rpb24abcdefghijklmnopqrstuvwxyz/messages with %s",
        ("sk-secret-key",),
        None,
    )
    assert RedactSecrets(["sk-secret-key"]).filter(record)
    text = record.getMessage()
    assert "sk-secret-key" not in text and "aW50ZXJhY3Rpb24abcdef" not in text
    assert "/webhooks/123/<redacted>" in text
