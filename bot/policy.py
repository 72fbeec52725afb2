"""Who may generate what, where: the plug-in point for quotas, art channels and server settings.

Every generation (``/imagine``, ``/edit`` and every result button) passes through
``GenerationPolicy.check`` after the request was validated and before anything is downloaded,
uploaded, submitted or charged. A refusal is a ``bot.refusal.Refusal`` whose message the member sees
(ephemerally); nothing is charged. ``GenerationPolicy.defaults`` gives a server's defaults for
options the member left out. The default policy allows everything and uses the configuration.

This module does not import discord: ``RequestContext`` carries what the Discord layer knows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from bot.toapis.models import GenerationRequest

__all__ = [
    "GenerationPolicy",
    "GuildDefaults",
    "PermissivePolicy",
    "PricedPolicy",
    "RequestContext",
]

InteractionKind = Literal["command", "button"]
#: What started the generation: a slash command or one of the result buttons.
Origin = Literal["imagine", "edit", "reroll", "vary", "upscale", "region", "zoom", "pan", "remix"]


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who asks, where, and how (what the Discord layer knows about the member)."""

    guild_id: int | None
    channel_id: int | None
    member_id: int
    role_ids: tuple[int, ...] = ()
    can_manage_messages: bool = False
    can_manage_guild: bool = False
    kind: InteractionKind = "command"
    origin: Origin = "imagine"
    reference_count: int = 0  # reference images going with the request (a mask not counted)
    has_mask: bool = False


@dataclass(frozen=True, slots=True)
class GuildDefaults:
    """Defaults for options a member leaves out, and the most images one request may ask for."""

    model: str
    size: str
    resolution: str | None
    quality: str | None
    max_count: int


class GenerationPolicy(Protocol):
    """Decide whether a request may run, and what a server's defaults are."""

    async def check(self, ctx: RequestContext, request: GenerationRequest) -> None:
        """Raise ``Refusal`` to refuse; return to allow. ``request`` is already valid."""
        ...

    async def defaults(self, guild_id: int | None) -> GuildDefaults:
        """Return the server's defaults (falling back to the configuration)."""
        ...


@runtime_checkable
class PricedPolicy(Protocol):
    """A policy that can also say what a request will cost (shown before it is spent)."""

    def price(self, request: GenerationRequest) -> int | None:
        """Return the credits ``request`` costs, or None when nothing is counted."""
        ...


class PermissivePolicy:
    """The default policy: everything is allowed; defaults come from the configuration."""

    def __init__(self, defaults: GuildDefaults) -> None:
        self._defaults = defaults

    async def check(self, ctx: RequestContext, request: GenerationRequest) -> None:
        """Allow everything."""

    async def defaults(self, guild_id: int | None) -> GuildDefaults:
        """Return the configured defaults for every server."""
        return self._defaults
