"""The message catalog: every key the code asks for exists, and every template formats."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from bot.messages import TEXT, say

ROOT = Path(__file__).resolve().parent.parent
#: ``say("some.key"`` with a literal key (computed keys such as f-strings are not seen).
SAY_CALL = re.compile(r"""\bsay\(\s*["']([a-z0-9_.]+)["']""")


def _used_keys() -> dict[str, list[str]]:
    """Every literal ``say()`` key in bot/ and cogs/, with where it is used."""
    used: dict[str, list[str]] = {}
    for folder in ("bot", "cogs"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            for match in SAY_CALL.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                used.setdefault(match[1], []).append(f"{path.relative_to(ROOT)}:{line}")
    return used


class _Dummy:
    """A placeholder value that takes any format spec (``{n:,}``, ``{s:.0f}``, plain)."""

    def __format__(self, spec: str) -> str:
        try:
            return format(1234, spec)
        except ValueError:
            return format("x", spec)


def _fields(template: str) -> set[str]:
    names = set()
    for _, field, _, _ in string.Formatter().parse(template):
        if field is not None:
            # ``{a.b}`` / ``{a[0]}`` would need a real object: the catalog uses plain names.
            assert re.fullmatch(r"[a-z_][a-z0-9_]*", field), f"placeholder {{{field}}}"
            names.add(field)
    return names


def test_the_scan_finds_the_calls() -> None:
    used = _used_keys()
    # A few keys known to be asked for by the cogs: the regex sees real calls.
    assert {"jobs.none", "quota.me.title", "settings.gallery.off"} <= set(used)


def test_every_key_used_in_code_exists() -> None:
    missing = {key: where for key, where in _used_keys().items() if key not in TEXT}
    assert not missing, f"say() keys missing from bot/messages.py: {missing}"


def test_a_misspelled_key_fails_loudly() -> None:
    with pytest.raises(KeyError):
        say("quota.me.titel")


@pytest.mark.parametrize("key", sorted(TEXT))
def test_every_template_formats_with_its_placeholders(key: str) -> None:
    template = TEXT[key]
    params = {name: _Dummy() for name in _fields(template)}
    assert say(key, **params).strip(), key
