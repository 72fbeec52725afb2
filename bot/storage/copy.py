"""Copy a SQLite deployment into PostgreSQL (``python -m bot migrate-db``).

The source is opened read-only and read inside one transaction (one snapshot). The target is
opened through ``open_postgres``, so its schema is migrated first by the normal code; then
every table both sides have is copied, column by column by name (the intersection, so a column
a later migration adds on both sides with a default copies too), in batches with ``COPY``, all
in one PostgreSQL transaction: either everything lands or nothing does. Values are converted
to the target column's type (SQLite's 0/1 booleans, integers, REAL timestamps). Identity
sequences are moved past the copied ids. After the commit the rows are counted on both sides.

A target that already holds rows is refused unless ``force`` (then its tables are emptied in
the same transaction). Every message names databases by their redacted URL only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiosqlite
import asyncpg

from bot.storage.migrations import discover_migrations, migrations_dir
from bot.storage.postgres.database import PostgresOpenError, open_postgres
from bot.storage.url import DatabaseURL, redact

__all__ = ["BATCH_ROWS", "CopyError", "CopyReport", "TableCount", "copy_database"]

#: Rows read from SQLite and sent with one ``COPY`` at a time.
BATCH_ROWS = 1000
#: Tables that belong to each database itself, never copied.
_OWN_TABLES = {"schema_migrations"}
#: Tables of live process state (heartbeats of the processes running on that database): the
#: processes on the target write their own; the source's would only be stale.
_RUNTIME_TABLES = {"engine_nodes"}


class CopyError(RuntimeError):
    """The copy was refused or failed; the message is for the operator (no password in it)."""


@dataclass(frozen=True, slots=True)
class TableCount:
    """Rows of one table in the source and, after the copy, in the target."""

    table: str
    source: int
    target: int

    @property
    def matches(self) -> bool:
        return self.source == self.target


@dataclass(slots=True)
class CopyReport:
    """What a finished copy did."""

    source_version: int
    target_version: int
    counts: list[TableCount] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.matches for c in self.counts)

    def lines(self) -> list[str]:
        """The row counts as a small text table."""
        width = max([len("table"), *(len(c.table) for c in self.counts)])
        out = [f"{'table':<{width}}  {'sqlite':>8}  {'postgres':>8}"]
        for c in self.counts:
            mark = "" if c.matches else "  MISMATCH"
            out.append(f"{c.table:<{width}}  {c.source:>8}  {c.target:>8}{mark}")
        return out


def _convert(pg_type: str) -> Callable[[Any], Any]:
    """Return the converter of a SQLite value to what asyncpg's binary COPY wants for ``pg_type``."""
    if pg_type == "boolean":
        return lambda v: v if v is None or isinstance(v, bool) else bool(int(v))
    if pg_type in {"bigint", "integer", "smallint"}:
        return lambda v: v if v is None else int(v)
    if pg_type in {"double precision", "real"}:
        return lambda v: v if v is None else float(v)
    if pg_type in {"text", "character varying", "json", "jsonb"}:
        return lambda v: v if v is None or isinstance(v, str) else str(v)
    if pg_type == "bytea":
        return lambda v: v if v is None or isinstance(v, bytes) else bytes(v)
    return lambda v: v


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _sqlite_tables(src: aiosqlite.Connection) -> dict[str, list[str]]:
    rows = await src.execute_fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    tables: dict[str, list[str]] = {}
    for (name,) in rows:
        if name in _OWN_TABLES:
            continue
        info = await src.execute_fetchall(f"PRAGMA table_info({_quote(name)})")
        tables[name] = [str(r[1]) for r in info]
    return tables


async def _sqlite_version(src: aiosqlite.Connection) -> int:
    try:
        rows = list(
            await src.execute_fetchall("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        )
    except sqlite3.OperationalError:
        return 0
    return int(rows[0][0]) if rows else 0


async def _pg_tables(conn: asyncpg.Connection) -> dict[str, dict[str, str]]:
    rows = await conn.fetch(
        "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c"
        " JOIN information_schema.tables t"
        "   ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
        " WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'"
        " ORDER BY c.table_name, c.ordinal_position"
    )
    tables: dict[str, dict[str, str]] = {}
    for r in rows:
        if r["table_name"] in _OWN_TABLES:
            continue
        tables.setdefault(r["table_name"], {})[r["column_name"]] = r["data_type"]
    return tables


async def _pg_order(conn: asyncpg.Connection, tables: Iterable[str]) -> list[str]:
    """Return ``tables`` with every table after the tables its foreign keys point at."""
    names = sorted(tables)
    deps: dict[str, set[str]] = {t: set() for t in names}
    rows = await conn.fetch(
        "SELECT cl.relname AS child, ref.relname AS parent FROM pg_constraint con"
        " JOIN pg_class cl ON cl.oid = con.conrelid"
        " JOIN pg_class ref ON ref.oid = con.confrelid"
        " JOIN pg_namespace ns ON ns.oid = cl.relnamespace"
        " WHERE con.contype = 'f' AND ns.nspname = current_schema()"
    )
    for r in rows:
        if r["child"] in deps and r["parent"] in deps and r["child"] != r["parent"]:
            deps[r["child"]].add(r["parent"])
    ordered: list[str] = []
    while deps:
        ready = sorted(t for t, d in deps.items() if not d - set(ordered))
        if not ready:  # a cycle: keep the rest alphabetical
            ready = sorted(deps)
        for t in ready:
            ordered.append(t)
            del deps[t]
    return ordered


async def _nonempty(conn: asyncpg.Connection, tables: Iterable[str]) -> list[str]:
    full = []
    for t in sorted(tables):
        if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {_quote(t)})"):
            full.append(t)
    return full


async def _sqlite_sequences(src: aiosqlite.Connection) -> dict[str, int]:
    try:
        rows = await src.execute_fetchall("SELECT name, seq FROM sqlite_sequence")
    except sqlite3.OperationalError:
        return {}
    return {str(r[0]): int(r[1]) for r in rows}


async def _reset_sequences(
    conn: asyncpg.Connection, tables: Iterable[str], floors: dict[str, int]
) -> None:
    """Move every identity/serial sequence past the highest id (or SQLite's own counter)."""
    for table in tables:
        rows = await conn.fetch(
            "SELECT column_name, pg_get_serial_sequence(quote_ident(table_name), column_name)"
            " AS seq FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = $1",
            table,
        )
        for r in rows:
            if r["seq"] is None:
                continue
            top = await conn.fetchval(
                f"SELECT MAX({_quote(r['column_name'])}) FROM {_quote(table)}"
            )
            last = max(int(top or 0), floors.get(table, 0))
            if last > 0:
                await conn.execute("SELECT setval($1, $2, true)", r["seq"], last)
            else:
                await conn.execute("SELECT setval($1, 1, false)", r["seq"])


def _open_source_uri(source: DatabaseURL) -> str:
    if source.backend != "sqlite":
        raise CopyError(f"the source must be a SQLite database, not {source.redacted}")
    if source.path is None:
        raise CopyError("the source must be a SQLite file, not sqlite://:memory:")
    if not source.path.is_file():
        raise CopyError(f"the source {source.redacted} does not exist")
    return f"{source.path.resolve().as_uri()}?mode=ro"


async def copy_database(
    source: DatabaseURL,
    target: DatabaseURL,
    *,
    force: bool = False,
    batch_rows: int = BATCH_ROWS,
    progress: Callable[[str], None] = lambda _line: None,
) -> CopyReport:
    """Copy the SQLite database ``source`` into the PostgreSQL database ``target``.

    Raise ``CopyError`` (nothing written) when the source is newer than this code, the target
    holds rows and ``force`` is false, or either side cannot be opened. The returned report's
    ``ok`` tells whether the row counts matched after the commit.
    """
    if target.backend != "postgresql":
        raise CopyError(f"the target must be a PostgreSQL database, not {target.redacted}")
    uri = _open_source_uri(source)
    known = discover_migrations(migrations_dir("sqlite"))[-1].version
    try:
        src = await aiosqlite.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise CopyError(f"cannot open {source.redacted} read-only: {exc}") from None
    try:
        return await _copy(src, source, target, known, force, batch_rows, progress)
    finally:
        await src.close()


async def _copy(
    src: aiosqlite.Connection,
    source: DatabaseURL,
    target: DatabaseURL,
    known: int,
    force: bool,
    batch_rows: int,
    progress: Callable[[str], None],
) -> CopyReport:
    try:
        await src.execute("BEGIN")  # one read snapshot for the whole copy
        source_version = await _sqlite_version(src)
        src_tables = await _sqlite_tables(src)
        floors = await _sqlite_sequences(src)
    except sqlite3.DatabaseError as exc:
        raise CopyError(f"{source.redacted} is not a readable SQLite database: {exc}") from None
    if source_version == 0 or not src_tables:
        raise CopyError(f"{source.redacted} holds no Atelier schema; nothing to copy")
    if source_version > known:
        raise CopyError(
            f"{source.redacted} is at schema version {source_version}, newer than this code"
            f" ({known}); run migrate-db from the release that wrote it"
        )
    progress(f"source {source.redacted}: schema version {source_version}")
    if source_version < known:
        progress(f"  (older than this code's {known}: columns added since get their defaults)")
    try:
        db = await open_postgres(target, min_size=1, max_size=2)
    except PostgresOpenError as exc:
        raise CopyError(str(exc)) from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise CopyError(
            f"cannot migrate {target.redacted}: {type(exc).__name__}: {redact(str(exc))}"
        ) from None
    try:
        progress(f"target {target.redacted}: schema version {db.schema_version}")
        report = CopyReport(source_version, db.schema_version)
        async with db.connection.raw.acquire() as conn:
            pg_tables = await _pg_tables(conn)
            report.skipped = sorted(
                set(src_tables) - set(pg_tables) | _RUNTIME_TABLES & set(src_tables)
            )
            for name in report.skipped:
                why = (
                    "live process state" if name in _RUNTIME_TABLES else "not in the target schema"
                )
                progress(f"  {name}: {why}, skipped")
            tables = await _pg_order(conn, (set(src_tables) & set(pg_tables)) - _RUNTIME_TABLES)
            try:
                async with conn.transaction():
                    full = await _nonempty(conn, pg_tables)
                    if full and not force:
                        raise CopyError(
                            f"{target.redacted} already holds rows in: {', '.join(full)};"
                            " refusing to copy into it (use --force to empty it first)"
                        )
                    if full:
                        progress(f"  --force: emptying {', '.join(full)}")
                        await conn.execute(
                            "TRUNCATE "
                            + ", ".join(_quote(t) for t in sorted(pg_tables))
                            + " RESTART IDENTITY CASCADE"
                        )
                    for table in tables:
                        await _copy_table(
                            src,
                            conn,
                            table,
                            src_tables[table],
                            pg_tables[table],
                            batch_rows,
                            progress,
                        )
                    await _reset_sequences(conn, tables, floors)
            except asyncpg.PostgresError as exc:
                raise CopyError(
                    f"copy into {target.redacted} failed, nothing was written:"
                    f" {type(exc).__name__}: {redact(str(exc))}"
                ) from None
            progress("committed; counting rows on both sides")
            for table in tables:
                counted = await src.execute_fetchall(f"SELECT COUNT(*) FROM {_quote(table)}")
                n_src = next(iter(counted))[0]
                n_dst = int(await conn.fetchval(f"SELECT COUNT(*) FROM {_quote(table)}"))
                report.counts.append(TableCount(table, int(n_src), n_dst))
        return report
    finally:
        await db.close()


async def _copy_table(
    src: aiosqlite.Connection,
    conn: asyncpg.Connection,
    table: str,
    src_columns: list[str],
    pg_columns: dict[str, str],
    batch_rows: int,
    progress: Callable[[str], None],
) -> None:
    columns = [c for c in src_columns if c in pg_columns]
    dropped = [c for c in src_columns if c not in pg_columns]
    if dropped:
        progress(f"  {table}: columns not in the target, left out: {', '.join(dropped)}")
    converters = [_convert(pg_columns[c]) for c in columns]
    select = f"SELECT {', '.join(_quote(c) for c in columns)} FROM {_quote(table)}"
    copied = 0
    async with src.execute(select) as cursor:
        while True:
            rows = await cursor.fetchmany(batch_rows)
            if not rows:
                break
            records = [tuple(f(v) for f, v in zip(converters, row, strict=True)) for row in rows]
            await conn.copy_records_to_table(table, records=records, columns=columns)
            copied += len(records)
    progress(f"  {table}: {copied} rows")
