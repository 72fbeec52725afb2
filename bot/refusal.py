"""The one exception that carries a sentence for a member: raise it, the tree's handler answers.

Every refusal a member can act on (bad input, a policy, a quota, a missing permission) is a
``Refusal`` or a subclass that adds data (``QuotaExceeded`` knows the budget). Its ``message`` is
written in ``bot.messages``; the Discord layer answers it once, ephemerally, in the tree's
``on_error``. Nothing else in the code wraps or re-words it.
"""

from __future__ import annotations

__all__ = ["Refusal"]


class Refusal(Exception):
    """A request that cannot go ahead; ``message`` is what the member reads, as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
