"""Log output: the usual text lines, or one JSON object per line for log shippers (``LOG_FORMAT``).

Both formats read records after the handler's filters ran: ``bot.logcontext.ContextFields``
(job, server and interaction ids) and the runner's ``RedactSecrets`` (tokens and the API key),
so a secret cleaned from the message is cleaned in either format.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from bot.logcontext import FIELDS, ContextFields

__all__ = ["TEXT_FORMAT", "JsonFormatter", "LogFormat", "configure_logging", "make_handler"]

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, ids when known, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def make_handler(fmt: LogFormat, stream: TextIO | None = None) -> logging.Handler:
    """Return a stream handler writing ``fmt`` lines, with the log context filled in."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(ContextFields())
    return handler


def configure_logging(level: str, fmt: LogFormat) -> None:
    """Send the root logger's records to stderr in ``fmt`` (replacing handlers set before)."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(make_handler(fmt))
    root.setLevel(level)
