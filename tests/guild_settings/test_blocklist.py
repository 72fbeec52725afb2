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


@pytest.mark.parametrize(
    "prompt",
    [
        "g\u200bore everywhere",  # zero-width space
        "ｇｏｒｅ everywhere",  # full-width letters
        "g\u00adore everywhere",  # soft hyphen
        "g\u2060ore everywhere",  # word joiner
        "g\u200dore and g\u200core",  # zero-width joiner / non-joiner
        "\ufeffgore",  # byte-order mark
        "GORE",
    ],
)
def test_disguised_spellings_of_a_term_are_still_blocked(prompt: str) -> None:
    assert find_blocked(prompt, ["gore"]) == "gore"


def test_a_decomposed_accent_matches_the_composed_term() -> None:
    assert find_blocked("un cafe\u0301 noir", ["café"]) == "café"
    assert find_blocked("un café noir", ["cafe\u0301"]) == "café"


def test_an_accented_term_still_matches_whole_words_only() -> None:
    assert find_blocked("lunch at the cafeteria", ["café"]) is None
    assert find_blocked("a class of students", ["ass"]) is None


def test_a_phrase_matches_across_whitespace_and_hidden_characters() -> None:
    assert find_blocked("a red \u200b\n panda", ["red panda"]) == "red panda"
    assert find_blocked("a ｒｅｄ\tpanda", ["Red  Panda"]) == "red panda"


def test_a_term_is_stored_in_its_normalised_form() -> None:
    assert normalize_term("  Ｇ\u200bORE ") == "gore"
    assert normalize_term("Cafe\u0301") == "café"


def test_a_term_made_only_of_hidden_characters_is_refused() -> None:
    with pytest.raises(BlocklistError, match="empty"):
        normalize_term("\u200b\u2060\u00ad")


def test_a_chinese_prompt_with_a_non_matching_term_is_allowed() -> None:
    assert find_blocked("一只在雪地里的小熊猫，水彩画", ["gore", "血腥"]) is None
    assert find_blocked("血腥 场景", ["血腥"]) == "血腥"
