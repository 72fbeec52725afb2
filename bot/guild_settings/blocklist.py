"""Blocklist matching: a term matches wherever it appears as a whole word or phrase.

Case-insensitive (Unicode case folding); word boundaries, not substrings: ``ass`` does not match
``class``; a phrase matches across any run of whitespace (``red  panda``, ``Red\\nPanda``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

__all__ = ["MAX_TERM_CHARS", "BlocklistError", "find_blocked", "normalize_term"]

MAX_TERM_CHARS = 100


class BlocklistError(ValueError):
    """A term a moderator gave cannot be used; the message says why."""


def normalize_term(term: str) -> str:
    """Return the stored form of a term: case-folded, whitespace collapsed; refuse bad input."""
    text = " ".join(term.split()).casefold()
    if not text:
        raise BlocklistError("The term is empty — give a word or phrase to block.")
    if len(text) > MAX_TERM_CHARS:
        raise BlocklistError(f"A term may be at most {MAX_TERM_CHARS} characters.")
    if not any(ch.isalnum() for ch in text):
        raise BlocklistError("A term needs at least one letter or digit.")
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
    match = pattern.search(prompt.casefold())
    if match is None:
        return None
    ordered = sorted(key, key=len, reverse=True)
    for name, value in match.groupdict().items():
        if value is not None:
            return ordered[int(name[1:])]
    return None
