"""Fixtures: a real SQLite file, the settings service, the quota service, the server policy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.clock import ManualClock
from bot.guild_settings.policy import ServerPolicy
from bot.guild_settings.service import GuildSettingsService
from bot.policy import GuildDefaults
from bot.quota.service import QuotaService
from bot.storage import Database
from tests.storage.backends import open_test_database

OPERATOR = GuildDefaults(
    model="gpt-image-1.5-official", size="1:1", resolution="1k", quality="medium", max_count=4
)


@pytest.fixture
def sclock() -> ManualClock:
    return ManualClock(1_768_478_400.0)


@pytest_asyncio.fixture
async def sdb(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    """The settings store's database, on each backend (tests.storage.backends)."""
    async with open_test_database(backend, tmp_path) as database:
        yield database


@pytest.fixture
def settings(sdb: Database, sclock: ManualClock) -> GuildSettingsService:
    return GuildSettingsService(sdb.guild_settings, operator=OPERATOR, clock=sclock)


@pytest.fixture
def policy(sdb: Database, settings: GuildSettingsService, sclock: ManualClock) -> ServerPolicy:
    return ServerPolicy(settings, QuotaService(sdb.quotas, clock=sclock))
