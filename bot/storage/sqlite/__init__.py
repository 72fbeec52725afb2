"""The SQLite backend (aiosqlite, WAL): the only place that knows SQL.

``connection`` (the one connection and its lock), ``database`` (``open_sqlite``), and one
module per store: ``jobs``, ``durations``, ``extras``, ``quota``, ``guild_settings``, ``audit``.
"""

from __future__ import annotations

from bot.storage.sqlite.database import SQLiteDatabase, open_sqlite

__all__ = ["SQLiteDatabase", "open_sqlite"]
