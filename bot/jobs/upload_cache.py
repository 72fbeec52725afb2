"""Upload each distinct image once: remember its URL by content hash and reuse it while fresh."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path

from bot.clock import Clock, SystemClock
from bot.jobs.service import ImageService, TaskSnapshot
from bot.jobs.store import UploadCacheStore
from bot.toapis.models import GenerationRequest

log = logging.getLogger(__name__)

# The vendor says uploaded URLs "can be reused for several generations" but names no lifetime;
# a day is well inside what the related platform keeps files for.
DEFAULT_UPLOAD_TTL = 24 * 3600.0


class CachedUploads:
    """An ``ImageService`` that uploads the same bytes only once per ``ttl`` seconds."""

    def __init__(
        self,
        service: ImageService,
        store: UploadCacheStore,
        *,
        clock: Clock | None = None,
        ttl: float = DEFAULT_UPLOAD_TTL,
    ) -> None:
        self._service = service
        self._store = store
        self._clock = clock or SystemClock()
        self.ttl = ttl
        self._locks: dict[str, asyncio.Lock] = {}
        self.hits = 0

    async def upload(self, path: Path, filename: str, content_type: str) -> str:
        """Return the URL of a fresh earlier upload of the same bytes, or upload them now."""
        data = await asyncio.to_thread(path.read_bytes)
        digest = hashlib.sha256(data).hexdigest()
        lock = self._locks.setdefault(digest, asyncio.Lock())
        try:
            async with lock:
                url = await self._store.get(digest, fresh_after=self._clock.now() - self.ttl)
                if url is not None:
                    self.hits += 1
                    log.debug("reusing the upload of %s", digest[:12])
                    return url
                url = await self._service.upload(path, filename, content_type)
                await self._store.put(digest, url, now=self._clock.now())
                return url
        finally:
            if not lock.locked():
                self._locks.pop(digest, None)

    async def submit(
        self, request: GenerationRequest, image_urls: list[str], mask_url: str | None
    ) -> TaskSnapshot:
        """Send a generation request."""
        return await self._service.submit(request, image_urls, mask_url)

    async def get_task(self, task_id: str) -> TaskSnapshot:
        """Ask once how a task is doing."""
        return await self._service.get_task(task_id)

    async def download(self, url: str, dest: Path, *, max_bytes: int) -> int:
        """Stream a result to ``dest``."""
        return await self._service.download(url, dest, max_bytes=max_bytes)
