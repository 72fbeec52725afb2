"""Stateless modals: the custom_id format and reading a submission's raw components."""

from __future__ import annotations

import pytest

from bot.app.forms import form_id, parse_form_id, submitted_values


def test_a_form_id_round_trips_its_kind_and_ids() -> None:
    custom_id = form_id("edit", 1234567890123456789, 987654321098765432)
    assert len(custom_id) <= 100
    assert parse_form_id(custom_id) == ("edit", (1234567890123456789, 987654321098765432))
    assert parse_form_id(form_id("remix", 7)) == ("remix", (7,))


@pytest.mark.parametrize(
    "custom_id",
    [
        "atelier:remix:1",
        "a1b2c3d4e5f6",
        "atelier:form:",
        "atelier:form:edit:12x",
        "atelier:form::3",
    ],
)
def test_other_custom_ids_are_not_forms(custom_id: str) -> None:
    assert parse_form_id(custom_id) is None


def test_a_form_id_longer_than_discord_allows_is_refused() -> None:
    with pytest.raises(ValueError, match="100"):
        form_id("x" * 80, 10**19)


def test_submitted_values_reads_rows_and_labels() -> None:
    components = [
        {"type": 1, "components": [{"type": 4, "custom_id": "old:text", "value": "a fox"}]},
        {"type": 18, "component": {"type": 4, "custom_id": "new:text", "value": ""}},
        {"type": 18, "component": {"type": 3, "custom_id": "pick", "values": ["2", "3"]}},
        {"type": 18, "component": {"type": 3, "custom_id": "none", "values": []}},
        {"type": 10},
    ]
    assert submitted_values(components) == {
        "old:text": "a fox",
        "new:text": "",
        "pick": ["2", "3"],
        "none": [],
    }
