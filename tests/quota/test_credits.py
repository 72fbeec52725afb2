"""The credit table: defaults from the issue, operator overrides, refusal of bad tables."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, load_settings
from bot.jobs.records import decode_request
from bot.quota.credits import CreditTable, CreditTableError


def test_defaults_from_the_issue() -> None:
    t = CreditTable()
    m = "gpt-image-1.5-official"
    assert [t.cost(m, "1k", q) for q in ("low", "medium", "high")] == [1, 2, 4]
    assert [t.cost(m, "2k", q) for q in ("low", "medium", "high")] == [2, 4, 8]
    assert [t.cost(m, "4k", q) for q in ("low", "medium", "high")] == [4, 8, 16]
    assert t.cost("gpt-4o-image", None, None) == 2
    assert t.cost("gpt-4o-image", None, None, n=4) == 8
    assert t.cost(m, "2k", "medium", n=3) == 12


def test_left_out_options_cost_what_the_service_does() -> None:
    t = CreditTable()
    # The service defaults to 1k and high quality.
    assert t.cost("gpt-image-1.5-official", None, None) == 4
    assert t.cost_of_request(
        decode_request('{"model": "gpt-4o-image", "prompt": "x", "n": 2}')
    ) == (
        "gpt-4o-image",
        4,
    )


def test_unknown_model_costs_the_dearest_image_never_nothing() -> None:
    assert CreditTable().cost("mystery", None, None) == 16


def test_operator_overrides_merge_onto_defaults() -> None:
    t = CreditTable.from_json(
        '{"gpt-4o-image": 3, "gpt-image-1.5-official": {"4k": {"high": 20}, "2k": 5}}'
    )
    assert t.cost("gpt-4o-image", None, None) == 3
    assert t.cost("gpt-image-1.5-official", "4k", "high") == 20
    assert t.cost("gpt-image-1.5-official", "4k", "low") == 4
    assert t.cost("gpt-image-1.5-official", "2k", "low") == 5
    assert t.cost("gpt-image-1.5-official", "1k", "medium") == 2


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{", "not valid JSON"),
        ("[1]", "expected an object"),
        ('{"dall-e": 1}', "unknown model"),
        ('{"gpt-4o-image": -1}', "whole number"),
        ('{"gpt-4o-image": 1.5}', "whole number"),
        ('{"gpt-image-1.5-official": {"8k": 1}}', "unknown resolution"),
        ('{"gpt-image-1.5-official": {"1k": {"ultra": 1}}}', "unknown quality"),
    ],
)
def test_bad_tables_are_refused_clearly(text: str, fragment: str) -> None:
    with pytest.raises(CreditTableError, match=fragment):
        CreditTable.from_json(text)


def test_table_is_shown_as_lines() -> None:
    lines = CreditTable().lines()
    assert "gpt-image-1.5-official 1K: low 1, medium 2, high 4" in lines
    assert "gpt-4o-image: 2 per image" in lines


def test_settings_read_and_check_the_table() -> None:
    s = load_settings(discord_token="t", toapis_api_key="k", quota_credits='{"gpt-4o-image": 5}')
    assert CreditTable.from_json(s.quota_credits).cost("gpt-4o-image", None, None) == 5
    assert s.quota_member_daily == 20 and s.quota_server_daily is None
    with pytest.raises(ConfigError) as err:
        load_settings(discord_token="t", toapis_api_key="k", quota_credits='{"nope": 1}')
    assert "QUOTA_CREDITS" in str(err.value)
    s = load_settings(discord_token="t", toapis_api_key="k", quota_server_daily="")
    assert s.quota_server_daily is None
