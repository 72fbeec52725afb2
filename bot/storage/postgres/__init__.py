"""The PostgreSQL backend (asyncpg): several bot processes can share one database.

``connection`` (the pool and the transaction discipline), ``migrate`` (migrations under an
advisory lock), ``database`` (``open_postgres``), and one module per store, mirroring the
SQLite backend: ``jobs``, ``durations``, ``extras``, ``quota``, ``guild_settings``, ``audit``.

Why asyncpg: it is maintained, it is the fastest asyncio PostgreSQL driver (binary protocol,
prepared-statement cache), it needs no thread pool, and it ships its own connection pool, so
the backend needs nothing else.
"""

from __future__ import annotations

from bot.storage.postgres.database import PostgresDatabase, open_postgres

__all__ = ["PostgresDatabase", "open_postgres"]
