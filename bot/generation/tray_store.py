"""The port the reference tray needs from storage: its rows, and what one image is.

The rules (limits, expiry, use) are in ``bot.generation.tray``. This module does not import
discord.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.generation.plan import DeclaredImage

__all__ = ["TrayImage", "TrayStore"]


@dataclass(frozen=True, slots=True)
class TrayImage:
    """One collected image as Discord declared it (``id`` and ``added_at`` set by the store)."""

    url: str
    filename: str
    content_type: str | None = None
    size: int = 0
    width: int | None = None
    height: int | None = None
    id: int = 0
    added_at: float = 0.0

    @classmethod
    def of(cls, image: DeclaredImage) -> TrayImage:
        """Describe a declared image for the tray."""
        return cls(
            url=image.url,
            filename=image.filename,
            content_type=image.content_type,
            size=image.size,
            width=image.width,
            height=image.height,
        )

    def declared(self, label: str) -> DeclaredImage:
        """Describe it again as the generation path sees an attachment."""
        return DeclaredImage(
            label=label,
            filename=self.filename,
            content_type=self.content_type,
            size=self.size,
            url=self.url,
            width=self.width,
            height=self.height,
        )


class TrayStore(Protocol):
    """Where trays live: rows of images per (server, member), oldest first."""

    async def add(
        self, guild_id: int, member_id: int, images: Sequence[TrayImage], *, now: float
    ) -> None:
        """Append ``images`` to the member's tray, added at ``now``."""
        ...

    async def items(self, guild_id: int, member_id: int) -> list[TrayImage]:
        """Return the member's tray, oldest first."""
        ...

    async def remove(self, guild_id: int, member_id: int, ids: Sequence[int]) -> int:
        """Remove these images from the member's tray; return how many were removed."""
        ...

    async def clear(self, guild_id: int, member_id: int) -> int:
        """Empty the member's tray; return how many images it held."""
        ...
