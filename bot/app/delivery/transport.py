"""Every Discord REST call of delivery and the gallery, and the one table of what errors mean.

The client is used for REST only (no gateway, no cache assumed): channels are addressed with
``client.get_partial_messageable`` and interaction responses with ``discord.Webhook.partial``,
so a worker process that never connects to the gateway can deliver.

Idempotent channel posts: each post carries a deterministic ``nonce`` (discord.py then sets
``enforce_nonce``, and Discord returns the message it already created for that nonce instead of
posting again, for a few minutes). Past that window a caller first looks in the channel's
history for its own message (``find_own``). Fetched messages are not documented to carry their
nonce, so messages are recognised by what they carry: the job's result file names or its
buttons' custom ids (both stable, never translated).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import discord

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_FILE_LIMIT",
    "ERRORS",
    "DiscordRefused",
    "Meaning",
    "Transport",
    "carries_failure_of",
    "carries_result_of",
    "jump_url",
    "meaning",
    "nonce_for",
    "result_stem",
]

MIB = 1024 * 1024
#: Discord's upload limit per file without boosts (what a channel takes when nothing else is known).
DEFAULT_FILE_LIMIT = 10 * MIB
#: Discord's maximum nonce length.
NONCE_MAX = 25


class Meaning(enum.Enum):
    """What a refused (or unanswered) Discord request means for delivery."""

    TOKEN_DEAD = "token dead"  # the interaction token is refused: use the bot token instead
    MESSAGE_GONE = "message gone"  # the message was deleted
    STOP_EDITS = "stop edits"  # Discord takes no more edits to this (old) message
    RETRY_LATER = "retry later"  # rate limited, Discord trouble, or the outcome is unknown
    PERMANENT = "permanent"  # retrying cannot help: permissions, channel gone, refused body


#: (HTTP status, Discord error code) -> meaning; ``None`` matches any. Looked up most specific
#: first; otherwise 5xx is RETRY_LATER and everything else PERMANENT.
ERRORS: dict[tuple[int | None, int | None], Meaning] = {
    (None, 50027): Meaning.TOKEN_DEAD,  # Invalid Webhook Token (expired interaction token)
    (None, 10015): Meaning.TOKEN_DEAD,  # Unknown Webhook
    (401, None): Meaning.TOKEN_DEAD,  # Unauthorized
    (None, 10008): Meaning.MESSAGE_GONE,  # Unknown Message
    (None, 30046): Meaning.STOP_EDITS,  # Maximum edits to messages older than 1 hour reached
    (429, None): Meaning.RETRY_LATER,  # rate limited (discord.py already waited and retried)
    (None, 10003): Meaning.PERMANENT,  # Unknown Channel
    (None, 50001): Meaning.PERMANENT,  # Missing Access
    (None, 50013): Meaning.PERMANENT,  # Missing Permissions
    (None, 40005): Meaning.PERMANENT,  # Request entity too large
    (None, 50035): Meaning.PERMANENT,  # Invalid Form Body
}


def meaning(status: int, code: int | None) -> Meaning:
    """Look up what Discord's answer ``(status, code)`` means."""
    for key in ((status, code), (None, code), (status, None)):
        found = ERRORS.get(key)
        if found is not None:
            return found
    return Meaning.RETRY_LATER if status >= 500 else Meaning.PERMANENT


class DiscordRefused(Exception):
    """A Discord request did not succeed; ``meaning`` says what that implies."""

    def __init__(self, what: str, meaning: Meaning, *, status: int = 0, code: int = 0) -> None:
        super().__init__(f"{what}: {meaning.value} (HTTP {status}, code {code})")
        self.meaning = meaning
        self.status = status
        self.code = code


def _refused(what: str, exc: BaseException) -> DiscordRefused:
    if isinstance(exc, discord.HTTPException):
        return DiscordRefused(what, meaning(exc.status, exc.code), status=exc.status, code=exc.code)
    # No answer (connection dropped, timeout): the request may or may not have been applied.
    return DiscordRefused(what, Meaning.RETRY_LATER)


_FAILURES = (discord.HTTPException, aiohttp.ClientError, OSError, asyncio.TimeoutError)


# -- recognising our own messages -------------------------------------------------------------


def nonce_for(purpose: str, job_id: int) -> str:
    """The deterministic nonce of one post about a job (``purpose``: one letter, e.g. ``r``)."""
    nonce = f"atelier:{purpose}:{job_id}"
    if len(nonce) > NONCE_MAX:
        raise ValueError(f"nonce {nonce!r} is longer than Discord takes")
    return nonce


def result_stem(job_id: int, index: int) -> str:
    """The file name (without extension) of a job's ``index``-th result image."""
    return f"atelier-{job_id}-{index}"


def _custom_ids(message: discord.Message) -> Iterator[str]:
    def walk(items: Any) -> Iterator[str]:
        for item in items:
            custom_id = getattr(item, "custom_id", None)
            if custom_id:
                yield custom_id
            yield from walk(getattr(item, "children", ()))

    yield from walk(message.components)


def carries_result_of(job_id: int) -> Callable[[discord.Message], bool]:
    """A test for a message showing this job's result images."""
    name = re.compile(rf"atelier-{job_id}-[0-9]+\.[a-z0-9]+")
    return lambda m: any(name.fullmatch(a.filename) for a in m.attachments)


def carries_failure_of(job_id: int) -> Callable[[discord.Message], bool]:
    """A test for a message telling this job's failure (a Re-roll button and no images)."""
    button = f"atelier:reroll:{job_id}"
    return lambda m: not m.attachments and button in _custom_ids(m)


def jump_url(guild_id: int | None, channel_id: int, message_id: int) -> str:
    """The link to a message (built here: a REST-only client knows no guilds)."""
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


class Transport:
    """The Discord REST calls of delivery; failures come out as ``DiscordRefused``."""

    def __init__(self, client: discord.Client) -> None:
        self.client = client

    @property
    def bot_user_id(self) -> int | None:
        """The bot's user id (known after login), else the application id."""
        user = self.client.user
        return user.id if user is not None else self.client.application_id

    def upload_limit(self, channel_id: int) -> int:
        """The per-file upload limit of a channel: its server's, if known, else Discord's default."""
        channel = self.client.get_channel(channel_id)
        guild = getattr(channel, "guild", None)
        limit = getattr(guild, "filesize_limit", None)
        return int(limit) if isinstance(limit, int) and limit > 0 else DEFAULT_FILE_LIMIT

    def _messageable(self, channel_id: int, guild_id: int | None = None) -> Any:
        channel = self.client.get_channel(channel_id)
        if isinstance(channel, discord.abc.Messageable):
            return channel
        return self.client.get_partial_messageable(channel_id, guild_id=guild_id)

    async def edit_by_token(self, token: str, message_id: int, **fields: Any) -> None:
        """Edit an interaction response through its (15-minute) interaction token."""
        app_id = self.client.application_id
        if app_id is None:
            raise DiscordRefused("edit by token", Meaning.TOKEN_DEAD)
        webhook = discord.Webhook.partial(app_id, token, client=self.client)
        try:
            await webhook.edit_message(message_id, **fields)
        except _FAILURES as exc:
            raise _refused("edit by token", exc) from None

    async def edit_by_bot(self, channel_id: int, message_id: int, **fields: Any) -> None:
        """Edit one of the bot's messages with the bot token."""
        message = self._messageable(channel_id).get_partial_message(message_id)
        try:
            await message.edit(**fields)
        except _FAILURES as exc:
            raise _refused("edit by bot", exc) from None

    async def post(
        self, channel_id: int, *, guild_id: int | None, nonce: str, **fields: Any
    ) -> discord.Message:
        """Post a channel message; Discord answers a repeated ``nonce`` with the first message."""
        try:
            return await self._messageable(channel_id, guild_id).send(nonce=nonce, **fields)  # type: ignore[no-any-return]
        except _FAILURES as exc:
            raise _refused("channel post", exc) from None

    async def find_own(
        self,
        channel_id: int,
        matches: Callable[[discord.Message], bool],
        *,
        after: int | None,
        scan: int = 300,
    ) -> discord.Message | None:
        """Return the first of the bot's messages in the channel that ``matches``, or None.

        Looks at up to ``scan`` messages: from message ``after`` on (oldest first, ``after``
        itself included), or the newest ones when ``after`` is None.
        """
        me = self.bot_user_id
        channel = self._messageable(channel_id)
        since = discord.Object(after - 1) if after is not None else None
        try:
            async for message in channel.history(limit=scan, after=since):
                if message.author.id == me and matches(message):
                    return message  # type: ignore[no-any-return]
        except _FAILURES as exc:
            raise _refused("history lookup", exc) from None
        return None
