"""DATABASE_URL parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.storage import open_database, parse_database_url
from bot.storage.url import redact


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
    ("url", "dsn"),
    [
        ("postgresql://u:p@localhost/atelier", "postgresql://u:p@localhost/atelier"),
        ("postgres://localhost/x", "postgresql://localhost/x"),
        (
            "postgresql://bot:pw@db.internal:6543/atelier?sslmode=require&application_name=a",
            "postgresql://bot:pw@db.internal:6543/atelier?sslmode=require&application_name=a",
        ),
    ],
)
def test_postgres_urls_give_the_driver_a_dsn(url: str, dsn: str) -> None:
    parsed = parse_database_url(url)
    assert parsed.backend == "postgresql" and parsed.dsn == dsn
    assert parsed.path is None and not parsed.in_memory


SECRET = "s3cr3t-Pa55%2Fword%40x"  # percent-encoded, as a URL password must be


def test_redact_copes_with_an_unencoded_slash_or_at_in_the_password() -> None:
    assert redact("postgresql://u:s3cr3t/x@y@h:5432/db?a=b") == "postgresql://u:***@h:5432/db?a=b"
    assert redact("u:s3cr3t@h/db") == "u:***@h/db"
    assert redact("postgresql://h/db") == "postgresql://h/db"


def test_the_password_never_shows_in_repr_str_or_redacted() -> None:
    url = parse_database_url(f"postgresql://atelier:{SECRET}@db:5432/atelier?sslmode=require")
    assert url.dsn is not None and SECRET in url.dsn  # the driver gets it
    for shown in (repr(url), str(url), url.redacted, f"{url}", f"{url!r}", repr([url])):
        assert "s3cr3t" not in shown and "Pa55" not in shown
    assert url.redacted == "postgresql://atelier:***@db:5432/atelier?sslmode=require"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://atelier:{SECRET}@db:notaport/atelier",
        f"postgresql://atelier:{SECRET}@db:5432",
        f"postgresql+asyncpg://atelier:{SECRET}@db/atelier",
        f"mysql://atelier:{SECRET}@db/atelier",
        f"atelier:{SECRET}@db/atelier",
    ],
)
def test_errors_about_a_url_never_show_its_password(url: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_database_url(url)
    assert "s3cr3t" not in str(caught.value) and "Pa55" not in str(caught.value)


async def test_a_refused_login_never_shows_the_password(caplog: pytest.LogCaptureFixture) -> None:
    from tests.storage.backends import postgres_url

    good = parse_database_url(postgres_url())
    assert good.dsn is not None
    user_part, at, rest = good.dsn.removeprefix("postgresql://").rpartition("@")
    wrong = f"postgresql://{user_part.split(':')[0]}:{SECRET}{at}{rest}"
    with caplog.at_level("DEBUG"), pytest.raises(Exception) as caught:
        await open_database(wrong)
    assert "s3cr3t" not in str(caught.value) and "Pa55" not in str(caught.value)
    assert "***" in str(caught.value)
    assert "s3cr3t" not in caplog.text


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
