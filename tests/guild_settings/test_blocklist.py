"""Blocklist terms match whole words and phrases, case-insensitively, never inside words."""

from __future__ import annotations

import pytest

from bot.guild_settings.blocklist import BlocklistError, find_blocked, normalize_term


@pytest.mark.parametrize(
    ("prompt", "terms", "found"),
    [
        ("a class of students", ["ass"], None),
        ("kick ass robot", ["ass"], "ass"),
        ("ASS.", ["ass"], "ass"),
        ("(ass)", ["ass"], "ass"),
        ("assassin", ["ass"], None),
        ("a Red  Panda in snow", ["red panda"], "red panda"),
        ("a red\npanda", ["red panda"], "red panda"),
        ("a redpanda", ["red panda"], None),
        ("a red pandas", ["red panda"], None),
        ("gore-fest", ["gore"], "gore"),
        ("gorest", ["gore"], None),
        ("written in c++ style", ["c++"], "c++"),
        ("Straße bei Nacht", ["strasse"], "strasse"),
        ("nothing here", [], None),
        ("blood and gore", ["blood", "blood and gore"], "blood and gore"),
        ("café scene", ["café"], "café"),
        ("cafés", ["café"], None),
    ],
)
def test_matching(prompt: str, terms: list[str], found: str | None) -> None:
    assert find_blocked(prompt, terms) == found


def test_regex_characters_are_literal() -> None:
    assert find_blocked("a.b", ["a.b"]) == "a.b"
    assert find_blocked("axb", ["a.b"]) is None


@pytest.mark.parametrize("bad", ["", "   ", "!!!", "x" * 101])
def test_bad_terms_are_refused(bad: str) -> None:
    with pytest.raises(BlocklistError):
        normalize_term(bad)


def test_terms_are_case_folded_and_whitespace_collapsed() -> None:
    assert normalize_term("  Red \t PANDA ") == "red panda"
