"""Numbered SQL migration files, one directory per dialect, applied in order, once each.

``bot/migrations/sqlite/NNNN_name.sql`` and ``bot/migrations/postgresql/NNNN_name.sql``: a
version number means the same schema on both backends (a test compares the two lists). Each
backend applies its files itself (``bot.storage.sqlite.migrate``, ``bot.storage.postgres.migrate``),
one transaction per file, recording it in ``schema_migrations``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DIALECTS",
    "MIGRATIONS_DIR",
    "Migration",
    "check_not_newer",
    "discover_migrations",
    "migrations_dir",
]

#: The root holding one directory of migration files per dialect.
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
DIALECTS = ("sqlite", "postgresql")
_NAME = re.compile(r"^(\d{4})_([A-Za-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file: its version number, name and SQL."""

    version: int
    name: str
    sql: str


def migrations_dir(backend: str) -> Path:
    """Return the directory of ``backend``'s shipped migration files."""
    if backend not in DIALECTS:
        raise ValueError(f"no migrations for backend {backend!r}")
    return MIGRATIONS_DIR / backend


def discover_migrations(directory: Path | None = None) -> list[Migration]:
    """Return the migrations in ``directory`` (default: SQLite's) sorted by version.

    Refuse gaps, duplicates and misnamed files.
    """
    directory = migrations_dir("sqlite") if directory is None else directory
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise ValueError(f"migration file {path.name!r} is not named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise ValueError(f"two migrations have version {version}")
        found[version] = Migration(version, match.group(2), path.read_text(encoding="utf-8"))
    versions = sorted(found)
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migration versions must be 1, 2, 3... without gaps; found {versions}")
    return [found[v] for v in versions]


def check_not_newer(version: int, migrations: list[Migration]) -> None:
    """Refuse a database whose schema is newer than the newest migration this code ships."""
    if migrations and version > migrations[-1].version:
        raise RuntimeError(
            f"the database is at schema version {version}, newer than this code "
            f"({migrations[-1].version}); refusing to run an older release on it"
        )
