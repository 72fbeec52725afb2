"""A loopback Discord for end-to-end tests: the real discord.py client logs into it.

See :class:`FakeDiscord` (server and scenario API) and ``plugin`` (pytest fixtures).
"""

from .model import (
    Channel,
    Event,
    Guild,
    InteractionRecord,
    Member,
    Message,
    Role,
    StoredAttachment,
    Upload,
    User,
    shard_of,
    wait_until,
)
from .server import FakeDiscord, Withhold

__all__ = [
    "Channel",
    "Event",
    "FakeDiscord",
    "Guild",
    "InteractionRecord",
    "Member",
    "Message",
    "Role",
    "StoredAttachment",
    "Upload",
    "User",
    "Withhold",
    "shard_of",
    "wait_until",
]
