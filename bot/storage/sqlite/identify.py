"""The identify gate of a SQLite deployment: one process, so an asyncio lock per bucket."""

from __future__ import annotations

import asyncio

__all__ = ["LocalIdentifyGate"]


class LocalIdentifyGate:
    """``IdentifyGate`` within one process (SQLite allows only one bot process)."""

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._held: dict[asyncio.TimerHandle, asyncio.Lock] = {}

    async def hold(self, bucket: int, seconds: float) -> None:
        lock = self._locks.setdefault(bucket, asyncio.Lock())
        await lock.acquire()
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def release() -> None:
            self._held.pop(handle, None)
            lock.release()

        handle = loop.call_later(seconds, release)
        self._held[handle] = lock

    async def close(self) -> None:
        for handle, lock in list(self._held.items()):
            handle.cancel()
            lock.release()
        self._held.clear()
