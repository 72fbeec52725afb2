"""DATABASE_URL parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.storage import UnsupportedDatabaseError, open_database, parse_database_url


def test_relative_path_is_relative_to_working_dir(tmp_path: Path) -> None:
    url = parse_database_url("sqlite:///data/atelier.db", cwd=tmp_path)
    assert url.path == tmp_path / "data" / "atelier.db"
    assert not url.in_memory


def test_relative_path_defaults_to_process_cwd() -> None:
    assert parse_database_url("sqlite:///x.db").path == Path.cwd() / "x.db"


def test_absolute_path() -> None:
    assert parse_database_url("sqlite:////var/lib/atelier/db.sqlite").path == Path(
        "/var/lib/atelier/db.sqlite"
    )


@pytest.mark.parametrize("url", ["sqlite://:memory:", "sqlite:///:memory:"])
def test_memory(url: str) -> None:
    assert parse_database_url(url).in_memory


@pytest.mark.parametrize(
    "url",
    ["postgresql://u:p@localhost/atelier", "postgres://localhost/x", "postgresql+asyncpg://h/db"],
)
def test_postgres_is_recognised_and_refused(url: str) -> None:
    with pytest.raises(UnsupportedDatabaseError, match="PostgreSQL is not supported yet"):
        parse_database_url(url)


@pytest.mark.parametrize("url", ["mysql://h/db", "atelier.db", "sqlite://", "sqlite://host/x.db"])
def test_bad_urls(url: str) -> None:
    with pytest.raises(ValueError):
        parse_database_url(url)


async def test_open_database_creates_parent_dirs(tmp_path: Path) -> None:
    db = await open_database("sqlite:///nested/dir/a.db", cwd=tmp_path)
    try:
        assert (tmp_path / "nested" / "dir" / "a.db").is_file()
    finally:
        await db.close()
