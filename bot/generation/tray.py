"""The reference tray: images a member collects from messages for their next generation.

"Add to references" puts a message's images in the member's tray (per member per server, in
the database so every process and a restart see it). The next ``/imagine`` or ``/edit`` of that
member uses them as references after its own attachments, within the model's limit, and the
tray is emptied once that job is accepted. A tray expires ``TRAY_LIFETIME`` seconds after the
last addition; an expired tray is refused once (and emptied) instead of being used silently.

The tray keeps what Discord declared about each image (URL, type, size, dimensions); the bytes
are fetched and checked by the generation path when the tray is used, like attachments.
This module does not import discord.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bot.clock import Clock, SystemClock
from bot.generation.plan import DeclaredImage
from bot.generation.tray_store import TrayImage, TrayStore
from bot.messages import say, timestamp
from bot.policy import GenerationPolicy
from bot.refusal import Refusal
from bot.toapis.catalog import CATALOG, active_catalog

log = logging.getLogger(__name__)

__all__ = ["TRAY_LIFETIME", "ReferenceTray", "TrayImage", "TrayState", "TrayStore"]

#: A tray expires this long after its last addition.
TRAY_LIFETIME = 3600.0


@dataclass(frozen=True, slots=True)
class TrayState:
    """A member's tray as they are told about it."""

    images: tuple[TrayImage, ...]
    limit: int
    added: int = 0
    left_out: int = 0  # images of the message that did not fit under the limit

    @property
    def expires_at(self) -> float | None:
        """When the tray expires (None when empty)."""
        if not self.images:
            return None
        return max(i.added_at for i in self.images) + TRAY_LIFETIME


@dataclass(frozen=True, slots=True)
class TrayUse:
    """The tray's images a request takes, and every tray row to remove once it is accepted."""

    images: tuple[DeclaredImage, ...]
    ids: tuple[int, ...]


def _expires(items: Sequence[TrayImage]) -> float:
    return max(i.added_at for i in items) + TRAY_LIFETIME


class ReferenceTray:
    """Collect, show, use and empty members' reference trays."""

    def __init__(
        self, store: TrayStore, policy: GenerationPolicy, *, clock: Clock | None = None
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock or SystemClock()

    async def limit(self, guild_id: int, model: str | None = None) -> int:
        """The most references ``model`` (default: the server's) takes."""
        name = model or (await self.policy.defaults(guild_id)).model
        caps = CATALOG.get(name) or active_catalog().first
        return caps.max_references

    async def _current(self, guild_id: int, member_id: int) -> list[TrayImage]:
        """The member's tray; an expired one is emptied and reads as empty."""
        items = await self.store.items(guild_id, member_id)
        if items and _expires(items) <= self.clock.now():
            await self.store.clear(guild_id, member_id)
            return []
        return items

    async def add(
        self, guild_id: int, member_id: int, images: Sequence[DeclaredImage]
    ) -> TrayState:
        """Put ``images`` in the tray, as many as fit; refuse when none is given or fits."""
        if not images:
            raise Refusal(say("tray.no_images"))
        limit = await self.limit(guild_id)
        items = await self._current(guild_id, member_id)
        room = limit - len(items)
        if room <= 0:
            raise Refusal(say("tray.full", limit=limit, expires=timestamp(_expires(items))))
        taken = [TrayImage.of(i) for i in images[:room]]
        await self.store.add(guild_id, member_id, taken, now=self.clock.now())
        items = await self.store.items(guild_id, member_id)
        log.info("member %d added %d images to their tray in %d", member_id, len(taken), guild_id)
        return TrayState(tuple(items), limit, added=len(taken), left_out=len(images) - len(taken))

    async def show(self, guild_id: int, member_id: int) -> TrayState:
        """The member's tray now (an expired one is emptied first)."""
        items = await self._current(guild_id, member_id)
        return TrayState(tuple(items), await self.limit(guild_id))

    async def clear(self, guild_id: int, member_id: int) -> int:
        """Empty the member's tray; return how many images it held."""
        return await self.store.clear(guild_id, member_id)

    async def for_request(
        self, guild_id: int | None, member_id: int, *, model: str | None, attached: int
    ) -> TrayUse:
        """The tray's images for a request with ``attached`` images of its own.

        An expired tray is emptied and refused (the member re-runs the command knowingly).
        """
        if guild_id is None:
            return TrayUse((), ())
        items = await self.store.items(guild_id, member_id)
        if not items:
            return TrayUse((), ())
        if _expires(items) <= self.clock.now():
            await self.store.clear(guild_id, member_id)
            raise Refusal(say("tray.expired", expired=timestamp(_expires(items))))
        room = max(0, await self.limit(guild_id, model) - attached)
        used = items[:room]
        declared = tuple(
            image.declared(say("tray.label_n", n=n)) for n, image in enumerate(used, start=1)
        )
        return TrayUse(declared, tuple(i.id for i in items))

    async def used(self, guild_id: int | None, member_id: int, use: TrayUse) -> None:
        """Empty what ``use`` read from the tray: its job was accepted."""
        if guild_id is not None and use.ids:
            await self.store.remove(guild_id, member_id, use.ids)
