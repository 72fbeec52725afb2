"""Parse ``DATABASE_URL`` into what a storage backend needs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class UnsupportedDatabaseError(ValueError):
    """The URL names a database this version cannot use."""


@dataclass(frozen=True, slots=True)
class DatabaseURL:
    """A parsed database URL; for SQLite, ``path`` is None when the database lives in memory."""

    backend: str
    path: Path | None = None

    @property
    def in_memory(self) -> bool:
        """Tell whether the database lives only in memory."""
        return self.backend == "sqlite" and self.path is None


def parse_database_url(url: str, *, cwd: Path | None = None) -> DatabaseURL:
    """Parse ``url``: ``sqlite:///rel.db`` (relative to ``cwd``), ``sqlite:////abs.db``, ``sqlite://:memory:``."""
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        raise ValueError(f"DATABASE_URL must look like sqlite:///path/to/atelier.db, not {text!r}")
    scheme = scheme.lower()
    if scheme in {"postgres", "postgresql"} or scheme.startswith("postgresql+"):
        raise UnsupportedDatabaseError(
            "PostgreSQL is not supported yet; use a SQLite URL such as sqlite:///data/atelier.db"
        )
    if scheme != "sqlite":
        raise UnsupportedDatabaseError(
            f"unsupported database scheme {scheme!r}; use sqlite:///path/to/atelier.db"
        )
    if rest in {":memory:", "/:memory:", ""}:
        if rest == "":
            raise ValueError("DATABASE_URL sqlite:// needs a path, e.g. sqlite:///data/atelier.db")
        return DatabaseURL("sqlite", None)
    if not rest.startswith("/"):
        # sqlite://host/path: SQLite has no host; refuse rather than guess.
        raise ValueError(
            f"DATABASE_URL {text!r}: write sqlite:///relative.db or sqlite:////absolute.db"
        )
    path_text = rest[1:]  # drop the slash that separates the empty host from the path
    if not path_text:
        raise ValueError(f"DATABASE_URL {text!r} has no file name")
    path = Path(path_text)
    if not path.is_absolute():
        path = (cwd or Path.cwd()) / path
    return DatabaseURL("sqlite", path)
