"""The ``reference_tray`` row of one image, shared by both backends (only placeholders differ)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.generation.tray_store import TrayImage

__all__ = ["INSERT_COLUMNS", "SELECT_COLUMNS", "tray_image", "tray_rows"]

#: Columns written by ``add``, in the order of ``tray_rows``' values.
INSERT_COLUMNS = "guild_id, member_id, url, filename, content_type, size, width, height, added_at"
#: Columns read by ``items``, in the order ``tray_image`` takes them.
SELECT_COLUMNS = "id, url, filename, content_type, size, width, height, added_at"


def tray_rows(
    guild_id: int, member_id: int, images: Sequence[TrayImage], now: float
) -> list[tuple[Any, ...]]:
    """Return the values of ``INSERT_COLUMNS`` for each image, added at ``now``."""
    return [
        (guild_id, member_id, i.url, i.filename, i.content_type, i.size, i.width, i.height, now)
        for i in images
    ]


def tray_image(r: Sequence[Any]) -> TrayImage:
    """Return the image a row of ``SELECT_COLUMNS`` holds."""
    return TrayImage(
        id=int(r[0]),
        url=str(r[1]),
        filename=str(r[2]),
        content_type=None if r[3] is None else str(r[3]),
        size=int(r[4]),
        width=None if r[5] is None else int(r[5]),
        height=None if r[6] is None else int(r[6]),
        added_at=float(r[7]),
    )
