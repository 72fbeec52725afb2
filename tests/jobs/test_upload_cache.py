"""Uploads are cached by content: the same bytes are uploaded once while the URL is fresh."""

from __future__ import annotations

from pathlib import Path

from bot.clock import ManualClock
from bot.jobs.upload_cache import CachedUploads
from bot.storage import open_database


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
