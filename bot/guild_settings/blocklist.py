"""Blocklist matching: a term matches wherever it appears as a whole word or phrase.

Terms and prompts go through the same ``normalize_text``: NFKC (full-width ``ｇｏｒｅ`` is
``gore``), format characters dropped (zero-width spaces, soft hyphens, joiners, BOM: Unicode
category Cf), case folding, then NFC so accents compose (``cafe\u0301`` is ``café``). Matching
uses word boundaries, not substrings: ``ass`` does not match ``class``, ``café`` does not match
``cafeteria``; a phrase matches across any run of whitespace (``red  panda``, ``Red\\nPanda``).
Only the comparison uses the normalised prompt: the prompt sent to the service is unchanged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from bot.messages import say
from bot.refusal import Refusal

__all__ = ["MAX_TERM_CHARS", "BlocklistError", "find_blocked", "normalize_term", "normalize_text"]

MAX_TERM_CHARS = 100


class BlocklistError(Refusal):
    """A term a moderator gave cannot be used; ``message`` says why."""


def normalize_text(text: str) -> str:
    """Return ``text`` as the blocklist compares it: NFKC, no format characters, folded, NFC."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return unicodedata.normalize("NFC", text.casefold())


def normalize_term(term: str) -> str:
    """Return the stored form of a term: normalised, whitespace collapsed; refuse bad input."""
    text = " ".join(normalize_text(term).split())
    if not text:
        raise BlocklistError(say("blocklist.empty_term"))
    if len(text) > MAX_TERM_CHARS:
        raise BlocklistError(say("blocklist.term_too_long", limit=MAX_TERM_CHARS))
    if not any(ch.isalnum() for ch in text):
        raise BlocklistError(say("blocklist.term_needs_letter"))
    return text


def _pattern(term: str) -> str:
    words = term.split(" ")
    body = r"\s+".join(re.escape(w) for w in words)
    # Boundaries only where the term itself starts/ends with a word character ("c++" ends in +).
    start = r"(?<!\w)" if re.match(r"\w", words[0]) else ""
    end = r"(?!\w)" if re.search(r"\w$", words[-1]) else ""
    return start + body + end


@lru_cache(maxsize=256)
def _compile(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    if not terms:
        return None
    # Longest first, so the reported term is the most specific one.
    ordered = sorted(terms, key=len, reverse=True)
    return re.compile("|".join(f"(?P<t{i}>{_pattern(t)})" for i, t in enumerate(ordered)))


def find_blocked(prompt: str, terms: Iterable[str]) -> str | None:
    """Return the first blocked term found in ``prompt``, or None."""
    key = tuple(sorted({normalize_term(t) for t in terms}))
    pattern = _compile(key)
    if pattern is None:
        return None
    match = pattern.search(normalize_text(prompt))
    if match is None:
        return None
    ordered = sorted(key, key=len, reverse=True)
    for name, value in match.groupdict().items():
        if value is not None:
            return ordered[int(name[1:])]
    return None
