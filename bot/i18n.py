"""Languages: the gettext catalogs in ``bot/locales/`` and which one speaks now.

One ``.po`` file per language (``en.po`` is the source, ``zh-CN.po`` a translation). Messages are
keyed by a stable id (``quota.me.title``); ``msgid_plural`` entries carry plural forms chosen by
each file's ``Plural-Forms`` header. Entries whose ``msgctxt`` is one of ``COMMAND_CONTEXTS``
(``command-name``, ``option-description``…) translate the slash commands' metadata (their msgid
is the English text). Catalogs are read with Babel and compiled
in memory at first use, so translators edit only the ``.po`` files.

The language of the sentence being written is a context variable: an interaction sets it to the
member's (``use``), delivery of a public post to the server's (``speaking``). Nothing here imports
Discord: locales arrive as strings such as ``"zh-CN"`` or ``"en-US"``.
"""

from __future__ import annotations

import contextlib
import gettext
import hashlib
import io
from collections.abc import Iterator
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

__all__ = [
    "COMMAND_CONTEXTS",
    "LANGUAGES",
    "SOURCE",
    "catalog",
    "command_digest",
    "command_text",
    "current",
    "format_number",
    "language_for",
    "speaking",
    "translations",
    "use",
]

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
#: The language every other falls back to; its catalog defines the set of messages.
SOURCE = "en"
#: Every language shipped, by its Discord locale name (``en`` stands for en-US and en-GB).
LANGUAGES: tuple[str, ...] = ("en", "zh-CN")
#: The msgctxt of the slash commands' names, descriptions, options and choices.
COMMAND_CONTEXTS = frozenset(
    {"command-name", "command-description", "option-name", "option-description", "choice-name"}
)

_current: ContextVar[str] = ContextVar("atelier_language", default=SOURCE)


def language_for(locale: object) -> str:
    """The shipped language for a Discord locale (``"zh-CN"``, ``"en-GB"``…), else English."""
    value = str(getattr(locale, "value", locale) or "")
    return value if value in LANGUAGES else SOURCE


def current() -> str:
    """The language of the sentence being written now."""
    return _current.get()


def use(locale: object) -> str:
    """Speak ``locale``'s language from here on in this task (an interaction's handler)."""
    language = language_for(locale)
    _current.set(language)
    return language


@contextlib.contextmanager
def speaking(locale: object) -> Iterator[str]:
    """Speak ``locale``'s language inside the block (a public post), then what was spoken before."""
    token = _current.set(language_for(locale))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def po_path(language: str) -> Path:
    return LOCALES_DIR / f"{language}.po"


@cache
def catalog(language: str) -> Catalog:
    """The parsed ``.po`` file of ``language`` (for tests and tools)."""
    with po_path(language).open("rb") as fh:
        return read_po(fh, locale=language.replace("-", "_"))


@cache
def translations(language: str) -> gettext.GNUTranslations:
    """``language``'s catalog compiled in memory, falling back to the source language."""
    buf = io.BytesIO()
    write_mo(buf, catalog(language))
    buf.seek(0)
    result = gettext.GNUTranslations(buf)
    if language != SOURCE:
        result.add_fallback(translations(SOURCE))
    return result


@cache
def _babel_locale(language: str) -> Locale:
    return Locale.parse(language.replace("-", "_"))


def format_number(value: int | float, language: str | None = None) -> str:
    """``value`` with the grouping and decimal signs of ``language`` (default: the current)."""
    return format_decimal(value, locale=_babel_locale(language or current()))


def command_text(language: str, context: str, message: str) -> str | None:
    """A slash command string's translation (``msgctxt`` ``context``), or None if there is none."""
    if language == SOURCE:
        return None
    entry = catalog(language).get(message, context=context)
    if entry is None or not entry.string or entry.fuzzy:
        return None
    return str(entry.string)


def command_digest() -> str:
    """A digest of every command translation: the synced tree changes when one does."""
    digest = hashlib.sha256()
    for language in LANGUAGES:
        for message in catalog(language):
            if message.context in COMMAND_CONTEXTS:
                digest.update(
                    f"{language}\0{message.context}\0{message.id}\0{message.string}\n".encode()
                )
    return digest.hexdigest()
