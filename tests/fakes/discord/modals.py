"""Modals: what Discord accepts in a type-9 response, and the type-5 submission a member sends.

Top-level modal components (at most 5): an action row holding one text input (the older
form), a label (type 18: ``label`` 1–45 characters, ``description`` ≤ 100, wrapping one text
input or one select), or a text display (type 10, ``content``). Selects in modals: string
(3, 1–25 options, label/value/description ≤ 100, values unique), user (5), role (6),
mentionable (7) and channel (8); ``min_values``/``max_values`` 0–25; ``required``. Text
inputs: ``style`` 1 or 2, ``min_length``/``max_length`` 0–4000, a default ``value`` within
``max_length``, ``placeholder`` ≤ 100.

``fill`` answers like Discord does: every interactive component in the same nesting with its
``custom_id`` and ``value`` (text input) or ``values`` (select), text displays as
``{"type": 10, "id"}``; it refuses a submission the Discord client would not let a member
send (a missing required value, too many or unknown select values, text too long or short).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["SELECT_TYPES", "fill", "modal_problems"]

SELECT_TYPES = frozenset({3, 5, 6, 7, 8})
MAX_TEXT = 4000

Problem = tuple[list[str | int], str, str]


def _length(problems: list[Problem], path: list[str | int], value: Any, lo: int, hi: int) -> None:
    if value is None:
        return
    if not lo <= len(str(value)) <= hi:
        problems.append((path, "BASE_TYPE_BAD_LENGTH", f"Must be between {lo} and {hi} in length."))


def _text_input(problems: list[Problem], path: list[str | int], item: dict[str, Any]) -> None:
    if item.get("style") not in (1, 2):
        problems.append(([*path, "style"], "BASE_TYPE_CHOICES", "Value must be one of (1, 2)."))
    lo, hi = item.get("min_length", 0), item.get("max_length", MAX_TEXT)
    for key, value in (("min_length", lo), ("max_length", hi)):
        if not isinstance(value, int) or not 0 <= value <= MAX_TEXT:
            problems.append(
                ([*path, key], "NUMBER_TYPE_MAX", f"int value should be <= {MAX_TEXT}.")
            )
    _length(problems, [*path, "placeholder"], item.get("placeholder"), 0, 100)
    if "value" in item:
        _length(problems, [*path, "value"], item["value"], 0, min(hi, MAX_TEXT))


def _select(problems: list[Problem], path: list[str | int], item: dict[str, Any]) -> None:
    lo, hi = item.get("min_values", 1), item.get("max_values", 1)
    if not (isinstance(lo, int) and isinstance(hi, int) and 0 <= lo <= hi <= 25):
        problems.append(([*path, "max_values"], "NUMBER_TYPE_MAX", "int value should be <= 25."))
    _length(problems, [*path, "placeholder"], item.get("placeholder"), 0, 150)
    if item.get("type") != 3:
        return
    options = item.get("options") or []
    if not 1 <= len(options) <= 25:
        problems.append(
            ([*path, "options"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 25 in length.")
        )
    if isinstance(hi, int) and hi > len(options):
        problems.append(
            ([*path, "max_values"], "NUMBER_TYPE_MAX", f"int value should be <= {len(options)}.")
        )
    seen: set[str] = set()
    for i, option in enumerate(options):
        where = [*path, "options", i]
        _length(problems, [*where, "label"], option.get("label"), 1, 100)
        _length(problems, [*where, "value"], option.get("value"), 1, 100)
        _length(problems, [*where, "description"], option.get("description"), 0, 100)
        if option.get("value") in seen:
            problems.append(
                ([*where, "value"], "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED", "Duplicated.")
            )
        seen.add(str(option.get("value")))


def modal_problems(data: Mapping[str, Any]) -> list[Problem]:
    """Return what Discord would refuse in a modal's components (form-error paths)."""
    problems: list[Problem] = []
    for i, item in enumerate(data.get("components") or []):
        path: list[str | int] = ["data", "components", i]
        kind = item.get("type")
        if kind == 1:
            inner = item.get("components") or []
            if len(inner) != 1 or inner[0].get("type") != 4:
                problems.append(
                    (
                        [*path, "components"],
                        "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                        "A modal row holds one text input.",
                    )
                )
                continue
            _text_input(problems, [*path, "components", 0], inner[0])
        elif kind == 18:
            _length(problems, [*path, "label"], item.get("label"), 1, 45)
            if item.get("label") is None:
                problems.append(([*path, "label"], "BASE_TYPE_REQUIRED", "This field is required"))
            _length(problems, [*path, "description"], item.get("description"), 0, 100)
            inner = item.get("component")
            where = [*path, "component"]
            if not isinstance(inner, dict):
                problems.append((where, "BASE_TYPE_REQUIRED", "This field is required"))
            elif inner.get("type") == 4:
                _text_input(problems, where, inner)
            elif inner.get("type") in SELECT_TYPES:
                _select(problems, where, inner)
            else:
                problems.append(([*where, "type"], "UNION_TYPE_CHOICES", "Not allowed in a label."))
        elif kind == 10:
            _length(problems, [*path, "content"], item.get("content"), 1, 4000)
        else:
            problems.append(([*path, "type"], "UNION_TYPE_CHOICES", "Not allowed in a modal."))
    return problems


def _answer_text(item: dict[str, Any], values: Mapping[str, str | Sequence[str]]) -> dict[str, Any]:
    cid = item["custom_id"]
    given = values.get(cid, item.get("value", ""))
    if not isinstance(given, str):
        raise ValueError(f"text input {cid!r} takes a string, not {given!r}")
    if item.get("required", True) and not given:
        raise ValueError(f"text input {cid!r} is required")
    lo, hi = item.get("min_length", 0), item.get("max_length", MAX_TEXT)
    if given and not lo <= len(given) <= hi:
        raise ValueError(f"text input {cid!r} takes {lo}-{hi} characters, not {len(given)}")
    out = {"type": 4, "custom_id": cid, "value": given}
    if "id" in item:
        out["id"] = item["id"]
    return out


def _answer_select(
    item: dict[str, Any], values: Mapping[str, str | Sequence[str]]
) -> dict[str, Any]:
    cid = item["custom_id"]
    given = values.get(cid)
    if given is None:
        given = [str(o["value"]) for o in item.get("options") or [] if o.get("default")]
    if isinstance(given, str):
        raise ValueError(f"select {cid!r} takes a list of values, not {given!r}")
    chosen = list(given)
    lo, hi = item.get("min_values", 1), item.get("max_values", 1)
    required = item.get("required", True)
    if chosen or required:
        if not lo <= len(chosen) <= hi:
            raise ValueError(f"select {cid!r} takes {lo}-{hi} values, not {len(chosen)}")
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"select {cid!r} got a value twice")
    if item.get("type") == 3:
        known = {str(o.get("value")) for o in item.get("options") or []}
        unknown = [v for v in chosen if v not in known]
        if unknown:
            raise ValueError(f"select {cid!r} has no option {unknown}")
    out: dict[str, Any] = {"type": item["type"], "custom_id": cid, "values": chosen}
    if "id" in item:
        out["id"] = item["id"]
    return out


def fill(
    items: Sequence[dict[str, Any]], values: Mapping[str, str | Sequence[str]]
) -> list[dict[str, Any]]:
    """Answer a modal's ``items`` with ``values`` (custom_id -> text, or list of select values).

    A text input left out keeps its default ``value``; a select left out keeps its default
    options. ``ValueError`` for an answer the Discord client would not send, or a custom_id
    the modal does not have.
    """
    known: set[str] = set()

    def answer(item: dict[str, Any]) -> dict[str, Any] | None:
        kind = item.get("type")
        if kind == 1:
            inner = [a for a in (answer(c) for c in item.get("components") or []) if a]
            return {"type": 1, "components": inner}
        if kind == 18 and isinstance(item.get("component"), dict):
            inner_answer = answer(item["component"])
            out: dict[str, Any] = {"type": 18, "component": inner_answer}
            if "id" in item:
                out["id"] = item["id"]
            return out
        if kind == 10:
            return {"type": 10, **({"id": item["id"]} if "id" in item else {})}
        if kind == 4:
            known.add(item["custom_id"])
            return _answer_text(item, values)
        if kind in SELECT_TYPES:
            known.add(item["custom_id"])
            return _answer_select(item, values)
        return None

    answered = [a for a in (answer(item) for item in items) if a is not None]
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"the modal has no component {sorted(unknown)}")
    return answered
