"""Modals answered by their ``custom_id``, so a submission after a restart is still answered.

discord.py keeps a sent modal in memory and answers its submission from there; after a restart,
or on another process, that modal is gone and the submission would be dropped. Atelier's
modals instead carry what they are for in their ``custom_id`` (``atelier:form:<kind>:<id>...``,
e.g. ``atelier:form:region:42``), are sent already finished so discord.py keeps nothing, and
every submission goes through ``FormRouter``: it reads the submitted values from the raw
payload and calls the handler registered for the kind. What a handler needs beyond the ids
(the result's images, the edited message) it reads again from Discord or the database.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import discord

from bot.app.running import run_on_bot
from bot.messages import say
from bot.refusal import Refusal

__all__ = [
    "FORM_PREFIX",
    "FormHandler",
    "FormRouter",
    "Submission",
    "form_id",
    "parse_form_id",
    "stateless",
    "submitted_values",
]

log = logging.getLogger(__name__)

FORM_PREFIX = "atelier:form:"
#: Discord's limit on a custom_id.
CUSTOM_ID_MAX = 100

ModalT = TypeVar("ModalT", bound=discord.ui.Modal)


def form_id(kind: str, *ids: int) -> str:
    """Return the custom_id of a ``kind`` modal about ``ids`` (a job, a channel and message...)."""
    custom_id = FORM_PREFIX + ":".join([kind, *(str(int(i)) for i in ids)])
    if len(custom_id) > CUSTOM_ID_MAX:
        raise ValueError(f"custom_id {custom_id!r} is longer than {CUSTOM_ID_MAX} characters")
    return custom_id


def parse_form_id(custom_id: str) -> tuple[str, tuple[int, ...]] | None:
    """Return ``(kind, ids)`` from an Atelier modal's custom_id; ``None`` for any other."""
    if not custom_id.startswith(FORM_PREFIX):
        return None
    kind, *rest = custom_id[len(FORM_PREFIX) :].split(":")
    if not kind or not all(part.isdigit() for part in rest):
        return None
    return kind, tuple(int(part) for part in rest)


def submitted_values(components: Sequence[Mapping[str, Any]]) -> dict[str, str | list[str]]:
    """Return custom_id -> text (a text input) or chosen values (a select) from a submission.

    Walks both layouts Discord sends: action rows holding a text input, and labels holding
    one component; text displays carry nothing.
    """
    found: dict[str, str | list[str]] = {}

    def walk(items: Sequence[Any]) -> None:
        for item in items:
            if not isinstance(item, Mapping):
                continue
            custom_id = item.get("custom_id")
            if isinstance(custom_id, str):
                if isinstance(item.get("values"), list):
                    found[custom_id] = [str(v) for v in item["values"]]
                elif "value" in item:
                    found[custom_id] = str(item.get("value") or "")
            walk(item.get("components") or [])
            if isinstance(item.get("component"), Mapping):
                walk([item["component"]])

    walk(components)
    return found


@dataclass(frozen=True, slots=True)
class Submission:
    """One submitted Atelier modal: its kind, its ids and what the member entered."""

    kind: str
    ids: tuple[int, ...]
    values: dict[str, str | list[str]]

    def text(self, custom_id: str) -> str:
        """The text entered in ``custom_id`` (empty when absent)."""
        value = self.values.get(custom_id, "")
        return value if isinstance(value, str) else ""

    def choices(self, custom_id: str) -> list[str]:
        """The values chosen in the select ``custom_id`` (none when absent)."""
        value = self.values.get(custom_id, [])
        return value if isinstance(value, list) else []


#: A handler gets the bot, the submission's interaction and what was submitted.
FormHandler = Callable[[Any, discord.Interaction[Any], Submission], Awaitable[None]]


def stateless(modal: ModalT, kind: str, *ids: int) -> ModalT:
    """Give ``modal`` its form custom_id and mark it finished, so discord.py does not keep it."""
    # A kept modal would be answered from memory as well as by the router (twice), and two
    # members' modals with one custom_id would overwrite each other in discord.py's store.
    modal.custom_id = form_id(kind, *ids)
    modal.stop()
    return modal


async def _gone(client: Any, interaction: discord.Interaction[Any], sub: Submission) -> None:
    # A modal of a kind this version no longer has (or whose cog is unloaded).
    raise Refusal(say("app.form_gone"))


class FormRouter:
    """Answer every Atelier modal submission with the handler registered for its kind."""

    def __init__(self) -> None:
        self._handlers: dict[str, FormHandler] = {}

    def add(self, kind: str, handler: FormHandler) -> None:
        """Answer ``kind`` modals with ``handler``."""
        if kind in self._handlers and self._handlers[kind] is not handler:
            raise ValueError(f"a handler for {kind!r} modals is already registered")
        self._handlers[kind] = handler

    def remove(self, kind: str) -> None:
        """Stop answering ``kind`` modals."""
        self._handlers.pop(kind, None)

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """Answer ``interaction`` if it submits an Atelier modal (a listener for every interaction)."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: Mapping[str, Any] = interaction.data or {}  # type: ignore[assignment]
        parsed = parse_form_id(str(data.get("custom_id", "")))
        if parsed is None:
            return
        kind, ids = parsed
        handler = self._handlers.get(kind)
        if handler is None:
            log.warning("no handler for modal kind %r", kind)
            handler = _gone
        submission = Submission(kind, ids, submitted_values(data.get("components") or []))
        await run_on_bot(interaction, lambda client: handler(client, interaction, submission))
