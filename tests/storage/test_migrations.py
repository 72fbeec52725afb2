"""Numbered migrations: applied once, in order, version recorded; WAL mode."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from bot.storage import open_database
from bot.storage.migrations import MIGRATIONS_DIR, discover_migrations


def test_shipped_migrations_are_numbered_without_gaps() -> None:
    migrations = discover_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[0].name == "jobs"


async def test_fresh_database_gets_every_migration_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    db = await open_database(f"sqlite:///{path}")
    assert db.schema_version == len(discover_migrations()) == 7
    await db.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
        assert versions == list(range(1, db.schema_version + 1))
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"jobs", "duration_stats", "schema_migrations", "quota_charges"} <= tables
        assert "quota_members" not in tables  # dropped by 0007: roles travel with the job
    finally:
        conn.close()


async def test_adding_a_migration_file_upgrades_an_existing_database(tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, migrations)
    path = tmp_path / "a.db"
    db = await open_database(f"sqlite:///{path}", migrations_dir=migrations)
    first = db.schema_version
    await db.close()
    (migrations / f"{first + 1:04d}_quotas.sql").write_text(
        "CREATE TABLE quotas (member_id INTEGER PRIMARY KEY, used INTEGER NOT NULL);"
    )
    db = await open_database(f"sqlite:///{path}", migrations_dir=migrations)
    assert db.schema_version == first + 1
    await db.close()
    # Opening again applies nothing twice.
    db = await open_database(f"sqlite:///{path}", migrations_dir=migrations)
    assert db.schema_version == first + 1
    await db.close()


async def test_failing_migration_leaves_previous_version(tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, migrations)
    n = len(discover_migrations())
    (migrations / f"{n + 1:04d}_broken.sql").write_text(
        "CREATE TABLE half (x INTEGER); THIS IS NOT SQL;"
    )
    path = tmp_path / "a.db"
    with pytest.raises(sqlite3.Error):
        await open_database(f"sqlite:///{path}", migrations_dir=migrations)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] == n
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "half" not in tables
    finally:
        conn.close()


async def test_database_newer_than_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    db = await open_database(f"sqlite:///{path}")
    await db.close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 0)")
    conn.commit()
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this code"):
        await open_database(f"sqlite:///{path}")


def test_misnamed_or_gapped_migrations_are_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;")
    with pytest.raises(ValueError, match="without gaps"):
        discover_migrations(tmp_path)
    (tmp_path / "0003_c.sql").unlink()
    (tmp_path / "two.sql").write_text("SELECT 1;")
    with pytest.raises(ValueError, match="NNNN_name"):
        discover_migrations(tmp_path)
