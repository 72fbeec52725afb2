"""Numbered migrations per dialect: applied once, in order, version recorded; WAL on SQLite;
on PostgreSQL, processes starting together migrate once (advisory lock)."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

import asyncpg
import pytest

from bot.storage import open_database
from bot.storage.migrations import DIALECTS, discover_migrations, migrations_dir
from tests.storage.backends import fresh_postgres_url, open_test_database


def test_shipped_migrations_are_numbered_without_gaps() -> None:
    migrations = discover_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[0].name == "jobs"


def test_both_dialects_ship_the_same_versions() -> None:
    # A version number means the same schema on both backends.
    shipped = {
        d: [(m.version, m.name) for m in discover_migrations(migrations_dir(d))] for d in DIALECTS
    }
    assert shipped["sqlite"] == shipped["postgresql"]
    assert len(shipped["sqlite"]) == 10


async def test_fresh_database_gets_every_migration_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    db = await open_database(f"sqlite:///{path}")
    assert db.schema_version == len(discover_migrations()) == 10
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


async def test_fresh_postgres_schema_gets_every_migration() -> None:
    async with fresh_postgres_url() as url:
        db = await open_database(url)
        assert db.schema_version == len(discover_migrations())
        await db.close()
        conn = await asyncpg.connect(url)
        try:
            versions = [r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")]
            assert sorted(versions) == list(range(1, len(discover_migrations()) + 1))
            tables = {
                r[0]
                for r in await conn.fetch(
                    "SELECT table_name FROM information_schema.tables"
                    " WHERE table_schema = current_schema()"
                )
            }
            assert {"jobs", "duration_stats", "schema_migrations", "quota_charges"} <= tables
            assert "quota_members" not in tables
            kinds = {
                r[0]: r[1]
                for r in await conn.fetch(
                    "SELECT column_name, data_type FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND table_name = 'jobs'"
                )
            }
            assert kinds["member_id"] == "bigint" and kinds["created_at"] == "double precision"
        finally:
            await conn.close()


async def test_processes_starting_together_migrate_once() -> None:
    async with fresh_postgres_url() as url:
        opened = await asyncio.gather(*(open_database(url) for _ in range(4)))
        try:
            assert {db.schema_version for db in opened} == {len(discover_migrations())}
        finally:
            for db in opened:
                await db.close()
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch("SELECT version, COUNT(*) FROM schema_migrations GROUP BY 1")
            assert sorted((r[0], r[1]) for r in rows) == [
                (v, 1) for v in range(1, len(discover_migrations()) + 1)
            ]
        finally:
            await conn.close()


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_adding_a_migration_file_upgrades_an_existing_database(
    tmp_path: Path, dialect: str
) -> None:
    migrations = tmp_path / "migrations"
    shutil.copytree(migrations_dir(dialect), migrations)

    async def check(url: str) -> None:
        db = await open_database(url, migrations_dir=migrations)
        first = db.schema_version
        await db.close()
        (migrations / f"{first + 1:04d}_quotas.sql").write_text(
            "CREATE TABLE quotas (member_id BIGINT PRIMARY KEY, used INTEGER NOT NULL);"
        )
        db = await open_database(url, migrations_dir=migrations)
        assert db.schema_version == first + 1
        await db.close()
        # Opening again applies nothing twice.
        db = await open_database(url, migrations_dir=migrations)
        assert db.schema_version == first + 1
        await db.close()

    if dialect == "sqlite":
        await check(f"sqlite:///{tmp_path / 'a.db'}")
    else:
        async with fresh_postgres_url() as url:
            await check(url)


async def test_failing_migration_leaves_previous_version(tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    shutil.copytree(migrations_dir("sqlite"), migrations)
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


async def test_failing_postgres_migration_leaves_previous_version(tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    shutil.copytree(migrations_dir("postgresql"), migrations)
    shipped = len(list(migrations.glob("*.sql")))
    (migrations / f"{shipped + 1:04d}_broken.sql").write_text(
        "CREATE TABLE half (x INTEGER); THIS IS NOT SQL;"
    )
    async with fresh_postgres_url() as url:
        with pytest.raises(asyncpg.PostgresSyntaxError):
            await open_database(url, migrations_dir=migrations)
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT MAX(version) FROM schema_migrations") == shipped
            assert await conn.fetchval("SELECT to_regclass('half')") is None
        finally:
            await conn.close()


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_database_newer_than_code_is_refused(tmp_path: Path, dialect: str) -> None:
    if dialect == "sqlite":
        path = tmp_path / "a.db"
        db = await open_database(f"sqlite:///{path}")
        await db.close()
        conn = sqlite3.connect(path)
        conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 0)")
        conn.commit()
        conn.close()
        with pytest.raises(RuntimeError, match="newer than this code"):
            await open_database(f"sqlite:///{path}")
        return
    async with fresh_postgres_url() as url:
        db = await open_database(url)
        await db.close()
        pg = await asyncpg.connect(url)
        try:
            await pg.execute("INSERT INTO schema_migrations VALUES (999, 'future', 0)")
        finally:
            await pg.close()
        with pytest.raises(RuntimeError, match="newer than this code"):
            await open_database(url)


def test_misnamed_or_gapped_migrations_are_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;")
    with pytest.raises(ValueError, match="without gaps"):
        discover_migrations(tmp_path)
    (tmp_path / "0003_c.sql").unlink()
    (tmp_path / "two.sql").write_text("SELECT 1;")
    with pytest.raises(ValueError, match="NNNN_name"):
        discover_migrations(tmp_path)


async def test_the_contract_fixture_opens_both_backends(backend: str, tmp_path: Path) -> None:
    async with open_test_database(backend, tmp_path) as db:
        assert db.schema_version == len(discover_migrations())
        assert await db.meta.get("x") is None
        await db.meta.set("x", "1", now=1.0)
        await db.meta.set("x", "2", now=2.0)
        assert await db.meta.get("x") == "2"
