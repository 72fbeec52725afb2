"""Who a log line is about: the job, server and interaction being handled, in a contextvar.

``bind(job_id=..., guild_id=...)`` is called where jobs and interactions are handled; every
record logged afterwards in the same task (and the tasks it starts, which copy the context)
carries those ids as attributes (``ContextFields`` puts them on the record). Formatters show
them: the JSON formatter as fields, the text formatter not at all (its format is unchanged).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["FIELDS", "ContextFields", "bind", "current"]

#: The record attributes this module fills, in the order formatters show them.
FIELDS: tuple[str, ...] = ("job_id", "guild_id", "interaction_id")

# Never mutated: bind() sets a new mapping, so tasks that copied the context keep theirs.
_context: contextvars.ContextVar[Mapping[str, int]] = contextvars.ContextVar(
    "atelier_log_context", default=MappingProxyType({})
)


def bind(**ids: int | None) -> None:
    """Add ids (``job_id``, ``guild_id``, ``interaction_id``) to this task's log context.

    None leaves an id as it was; the change is seen by this task and the tasks it starts later.
    """
    unknown = set(ids) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown log context field: {sorted(unknown)[0]}")
    merged = dict(_context.get())
    merged.update({k: int(v) for k, v in ids.items() if v is not None})
    _context.set(MappingProxyType(merged))


def current() -> dict[str, int]:
    """Return a copy of this task's log context."""
    return dict(_context.get())


class ContextFields(logging.Filter):
    """Put the log context's ids on each record (an ``extra=`` given by the caller wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True
