"""Budget windows: a day and a month in the server's time zone (UTC unless it sets one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

__all__ = ["Windows", "parse_timezone", "windows_at"]

UTC = ZoneInfo("UTC")


@dataclass(frozen=True, slots=True)
class Windows:
    """The current day and month at one moment: keys for storage and when each resets."""

    day_key: str  # "2026-01-31" in the server's zone
    month_key: str  # "2026-01"
    day_resets_at: float  # epoch seconds of the next local midnight
    month_resets_at: float  # epoch seconds of the next 1st of the month, 00:00 local
    timezone: str


def parse_timezone(name: str) -> str:
    """Return the canonical IANA name, or raise ``ValueError`` with a helpful message."""
    text = name.strip()
    if text.upper() in {"UTC", "Z", "GMT"}:
        return "UTC"
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        lowered = text.lower()
        for candidate in available_timezones():
            if candidate.lower() == lowered:
                return candidate
        raise ValueError(
            f"`{text[:60]}` is not a time zone — use an IANA name such as Europe/Paris, "
            "America/New_York or UTC."
        ) from None
    return text


def _midnight(day: datetime, zone: ZoneInfo) -> float:
    # Local midnight of ``day``'s date; zoneinfo resolves DST gaps forward.
    return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()


def windows_at(now: float, timezone: str | None = None) -> Windows:
    """Return the windows containing ``now`` (epoch seconds) in ``timezone`` (default UTC)."""
    zone = ZoneInfo(timezone) if timezone else UTC
    local = datetime.fromtimestamp(now, zone)
    next_day = (local.replace(hour=12) + timedelta(days=1)).date()
    day_resets = _midnight(datetime(next_day.year, next_day.month, next_day.day), zone)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    month_resets = datetime(year, month, 1, tzinfo=zone).timestamp()
    return Windows(
        day_key=local.strftime("%Y-%m-%d"),
        month_key=local.strftime("%Y-%m"),
        day_resets_at=day_resets,
        month_resets_at=month_resets,
        timezone=timezone or "UTC",
    )
