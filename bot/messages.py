"""Every sentence a member reads, through one door: the catalogs in ``bot/locales/*.po``.

``say(key, **params)`` returns the message ``key`` in the language being spoken now
(``bot.i18n.current()``: the member's in an interaction, the server's in a public post), with its
named ``{placeholders}`` filled in; ``say_plural(key, n, **params)`` picks the plural form for
``n`` by the language's rules. Whole numbers passed as parameters are written with the language's
digit grouping where the template says ``{n:,}`` (``{n}`` stays plain: ids, timestamps). Code elsewhere never writes a member-facing sentence
itself: it raises ``bot.refusal.Refusal(say(...))`` or stores a ``FailureCode`` whose sentence is
looked up here. ``TEXT`` is the English catalog (the source: every key exists there).
"""

from __future__ import annotations

from typing import Any

from bot import i18n

__all__ = ["PLURAL_SUFFIX", "TEXT", "has", "say", "say_plural", "timestamp"]

#: The msgid_plural of a plural message is its key with this suffix.
PLURAL_SUFFIX = ".plural"


def _english() -> dict[str, str]:
    text: dict[str, str] = {}
    for message in i18n.catalog(i18n.SOURCE):
        if not message.id or message.context:
            continue
        if isinstance(message.id, tuple):
            forms = message.string
            assert isinstance(forms, tuple)
            text[str(message.id[0])] = str(forms[-1])
        else:
            text[str(message.id)] = str(message.string)
    return text


#: key → English sentence (a plural message's "other" form).
TEXT: dict[str, str] = _english()


class _Number:
    """An int parameter that formats with the current language's grouping."""

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value

    def __format__(self, spec: str) -> str:
        if spec == ",":
            return i18n.format_number(self.value)
        return format(self.value, spec)

    def __str__(self) -> str:
        return str(self.value)


def _params(params: dict[str, Any]) -> dict[str, Any]:
    return {
        name: _Number(value) if isinstance(value, int) and not isinstance(value, bool) else value
        for name, value in params.items()
    }


def has(key: str) -> bool:
    """Whether ``key`` is a message of the catalog."""
    return key in TEXT


def say(key: str, /, **params: Any) -> str:
    """Return the sentence ``key`` in the current language; a missing key fails loudly."""
    if key not in TEXT:
        raise KeyError(key)
    template = i18n.translations(i18n.current()).gettext(key)
    return template.format(**_params(params))


def say_plural(key: str, count: int, /, **params: Any) -> str:
    """Return the plural message ``key`` in the form for ``count``, filled with ``params``."""
    if key not in TEXT:
        raise KeyError(key)
    template = i18n.translations(i18n.current()).ngettext(key, key + PLURAL_SUFFIX, count)
    return template.format(**_params(params))


def timestamp(epoch: float, style: str = "R") -> str:
    """A Discord timestamp (``<t:…:R>``): each member's client writes it in their own language."""
    return f"<t:{int(epoch)}:{style}>"
