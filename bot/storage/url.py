"""Parse ``DATABASE_URL`` into what a storage backend needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import SplitResult, urlsplit, urlunsplit

_REDACTED = "***"


class UnsupportedDatabaseError(ValueError):
    """The URL names a database this version cannot use."""


@dataclass(frozen=True, slots=True)
class DatabaseURL:
    """A parsed database URL.

    SQLite: ``path`` (None when the database lives in memory). PostgreSQL: ``dsn``, the URL as
    given (query parameters such as ``sslmode`` included) for the driver; it may hold a
    password, so it is left out of ``repr``/``str`` — use ``redacted`` to show the URL.
    """

    backend: str
    path: Path | None = None
    dsn: str | None = field(default=None, repr=False)

    @property
    def in_memory(self) -> bool:
        """Tell whether the database lives only in memory."""
        return self.backend == "sqlite" and self.path is None

    @property
    def redacted(self) -> str:
        """The URL with any password replaced by ``***``, safe for logs and errors."""
        if self.dsn is not None:
            return redact(self.dsn)
        return "sqlite://:memory:" if self.path is None else f"sqlite:///{self.path}"

    def __repr__(self) -> str:
        if self.backend == "postgresql":
            return f"DatabaseURL(backend='postgresql', url={self.redacted!r})"
        return f"DatabaseURL(backend={self.backend!r}, path={self.path!r})"

    def __str__(self) -> str:
        return self.redacted


def redact(url: str) -> str:
    """Return ``url`` with the password of its user part (if any) replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    # The last "@" before the query ends the user part, even if the password holds "/" or "@"
    # (over-redacting a database name with "@" in it is the safe way to be wrong).
    at = rest.split("?", 1)[0].rfind("@")
    if at < 0:
        return url
    user, colon, _password = rest[:at].partition(":")
    shown = f"{user}:{_REDACTED}" if colon else user
    return f"{scheme}{sep}{shown}{rest[at:]}"


def _parse_postgres(text: str) -> DatabaseURL:
    shown = redact(text)
    try:
        parts: SplitResult = urlsplit(text)
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(f"DATABASE_URL {shown!r} is not a valid PostgreSQL URL") from None
    if not parts.hostname and "host=" not in parts.query:
        raise ValueError(
            f"DATABASE_URL {shown!r} names no host; write postgresql://user:password@host:5432/db"
        )
    if not parts.path.strip("/"):
        raise ValueError(f"DATABASE_URL {shown!r} names no database (…@host:5432/atelier)")
    # The driver accepts both schemes; normalise to the documented one.
    dsn = urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, parts.fragment))
    return DatabaseURL("postgresql", dsn=dsn)


def parse_database_url(url: str, *, cwd: Path | None = None) -> DatabaseURL:
    """Parse ``url``: ``sqlite:///rel.db`` (relative to ``cwd``), ``sqlite:////abs.db``,
    ``sqlite://:memory:``, or ``postgresql://user:password@host:port/db?sslmode=...``
    (``postgres://`` too). Error messages never show a password.
    """
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        raise ValueError(
            f"DATABASE_URL must look like sqlite:///path/to/atelier.db, not {redact(text)!r}"
        )
    scheme = scheme.lower()
    if scheme in {"postgres", "postgresql"}:
        return _parse_postgres(text)
    if scheme.startswith(("postgresql+", "postgres+")):
        raise UnsupportedDatabaseError(
            f"DATABASE_URL scheme {scheme!r}: write postgresql://user:password@host:5432/db"
            " (the driver is built in)"
        )
    if scheme != "sqlite":
        raise UnsupportedDatabaseError(
            f"unsupported database scheme {scheme!r}; use sqlite:///path/to/atelier.db"
            " or postgresql://user:password@host:5432/db"
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
