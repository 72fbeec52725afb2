"""Both storage backends for the contract tests: SQLite files and fresh PostgreSQL schemas.

``backend`` is parametrized over ``["sqlite", "postgresql"]``; ``open_test_database`` opens a
fresh database of that kind. PostgreSQL comes from ``ATELIER_TEST_POSTGRES_URL`` (each test
gets its own schema, selected with ``search_path``, dropped afterwards). Without the variable
the PostgreSQL cases skip, unless ``CI`` is set: then they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest

from bot.storage import Database, open_database

__all__ = [
    "BACKENDS",
    "NO_POSTGRES",
    "fresh_postgres_url",
    "open_test_database",
    "postgres_url",
]

BACKENDS = ["sqlite", "postgresql"]
NO_POSTGRES = "no PostgreSQL: set ATELIER_TEST_POSTGRES_URL or run .ci/postgres.sh"


def postgres_url() -> str:
    """Return the test server's URL, or skip without one (a failure under ``CI``: conftest)."""
    url = os.environ.get("ATELIER_TEST_POSTGRES_URL", "").strip()
    if not url:
        pytest.skip(NO_POSTGRES)
    return url


def _with_param(url: str, name: str, value: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{name}={value}"


@asynccontextmanager
async def fresh_postgres_url() -> AsyncIterator[str]:
    """Create an empty schema on the test server; yield a URL that uses it; drop it after."""
    base = postgres_url()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(base)
    try:
        await admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield _with_param(base, "search_path", schema)
        finally:
            await admin.execute(f"DROP SCHEMA {schema} CASCADE")
    finally:
        await admin.close()


@asynccontextmanager
async def open_test_database(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    """Open a fresh, migrated database of ``backend``; close (and drop) it afterwards."""
    if backend == "sqlite":
        db = await open_database(f"sqlite:///{tmp_path / f'test-{uuid.uuid4().hex[:8]}.db'}")
        try:
            yield db
        finally:
            await db.close()
        return
    async with fresh_postgres_url() as url:
        db = await open_database(url)
        try:
            yield db
        finally:
            await db.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The storage backend under test: "sqlite" or "postgresql"."""
    kind = str(request.param)
    if kind == "postgresql":
        postgres_url()  # skip (or fail under CI) before anything is opened
    return kind
