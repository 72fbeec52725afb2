"""Pytest plugin: the ``fake_toapis`` fixture, a started ``FakeToAPIs`` on a frozen clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from bot.clock import ManualClock
from tests.fakes.toapis import FakeToAPIs


@pytest_asyncio.fixture
async def fake_toapis() -> AsyncIterator[FakeToAPIs]:
    """A started fake ToAPIs server with a frozen ``ManualClock``; closed after the test."""
    fake = FakeToAPIs(clock=ManualClock())
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()
