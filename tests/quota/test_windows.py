"""Windows reset at midnight and on the 1st in UTC, or in the server's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.quota.windows import parse_timezone, windows_at


def ts(*args: int, tz: str = "UTC") -> float:
    return datetime(*args, tzinfo=ZoneInfo(tz)).timestamp()  # type: ignore[misc]


def test_utc_windows_and_reset_times() -> None:
    w = windows_at(ts(2026, 1, 31, 23, 59, 59))
    assert (w.day_key, w.month_key) == ("2026-01-31", "2026-01")
    assert w.day_resets_at == ts(2026, 2, 1)
    assert w.month_resets_at == ts(2026, 2, 1)
    w = windows_at(ts(2026, 2, 1))
    assert (w.day_key, w.month_key) == ("2026-02-01", "2026-02")


def test_december_rolls_into_next_year() -> None:
    w = windows_at(ts(2026, 12, 31, 12))
    assert w.month_resets_at == ts(2027, 1, 1)
    assert w.day_resets_at == ts(2027, 1, 1)


def test_server_time_zone_moves_the_boundary() -> None:
    # 23:30 UTC on the 31st is already the 1st in Auckland (UTC+13 in January).
    now = ts(2026, 1, 31, 23, 30)
    w = windows_at(now, "Pacific/Auckland")
    assert (w.day_key, w.month_key) == ("2026-02-01", "2026-02")
    assert w.day_resets_at == ts(2026, 2, 2, tz="Pacific/Auckland")
    ny = windows_at(now, "America/New_York")
    assert ny.day_key == "2026-01-31"
    assert ny.day_resets_at == ts(2026, 2, 1, tz="America/New_York")
    assert datetime.fromtimestamp(ny.day_resets_at, UTC).hour == 5


def test_dst_day_is_23_hours_long() -> None:
    # Europe/Paris springs forward on 2026-03-29.
    w = windows_at(ts(2026, 3, 29, 1, tz="Europe/Paris"), "Europe/Paris")
    assert w.day_resets_at - ts(2026, 3, 29, tz="Europe/Paris") == 23 * 3600


def test_parse_timezone() -> None:
    assert parse_timezone("utc") == "UTC"
    assert parse_timezone("europe/paris") == "Europe/Paris"
    with pytest.raises(ValueError, match="IANA"):
        parse_timezone("Mars/Olympus")
