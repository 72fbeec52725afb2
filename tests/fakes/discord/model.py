"""State of the loopback Discord: guilds, channels, roles, members, messages, interactions, events."""

from __future__ import annotations

import asyncio
import datetime
import inspect
import io
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import FakeDiscord

DISCORD_EPOCH_MS = 1_420_070_400_000

# Permission bits (https://discord.com/developers/docs/topics/permissions)
CREATE_INSTANT_INVITE = 1 << 0
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
USE_APPLICATION_COMMANDS = 1 << 31
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 51) - 1

#: What @everyone may do in a fresh guild.
DEFAULT_EVERYONE = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | MENTION_EVERYONE
    | USE_EXTERNAL_EMOJIS
    | USE_APPLICATION_COMMANDS
    | SEND_MESSAGES_IN_THREADS
)
#: What the bot's managed role grants (what an invite link with these scopes would ask for).
DEFAULT_BOT_ROLE = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY

MIB = 1024 * 1024
#: Upload limit per file by boost tier.
TIER_UPLOAD_LIMIT = {0: 10 * MIB, 1: 10 * MIB, 2: 50 * MIB, 3: 100 * MIB}

EPHEMERAL = 1 << 6
LOADING = 1 << 7


def iso(ts: float) -> str:
    """Discord's ISO-8601 timestamp for a UNIX time."""
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat()


def snowflake_time(sf: int) -> float:
    """The UNIX time a snowflake encodes."""
    return ((sf >> 22) + DISCORD_EPOCH_MS) / 1000.0


class Snowflakes:
    """Unique, increasing snowflakes whose timestamp comes from the fake's clock."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._last = 0

    def next(self) -> int:
        ms = int(self._now() * 1000) - DISCORD_EPOCH_MS
        value = max(ms << 22, self._last + 1)
        self._last = value
        return value

    def next_on_shard(self, shard_id: int, shard_count: int) -> int:
        """The next snowflake that, as a guild id, lands on ``shard_id`` of ``shard_count``."""
        value = self.next()
        stamp = value >> 22
        if stamp % shard_count != shard_id:
            stamp += (shard_id - stamp) % shard_count
            value = stamp << 22
            self._last = value
        return value


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends a guild's events to: ``(guild_id >> 22) % shard_count``."""
    return (guild_id >> 22) % max(1, shard_count)


@dataclass
class User:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
        }


@dataclass
class Role:
    id: int
    guild: Guild
    name: str
    permissions: int = 0
    position: int = 0
    managed: bool = False
    bot_id: int | None = None
    mentionable: bool = False

    def to_payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass
class Member:
    user: User
    guild: Guild
    roles: list[Role] = field(default_factory=list)
    nick: str | None = None
    joined_at: float = 0.0

    @property
    def id(self) -> int:
        return self.user.id

    def base_permissions(self) -> int:
        """Guild-level permissions: @everyone plus the member's roles (owner and admins get all)."""
        if self.guild.owner_id == self.id:
            return ALL_PERMISSIONS
        perms = self.guild.everyone.permissions
        for role in self.roles:
            perms |= role.permissions
        if perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
        return perms

    def to_payload(
        self, *, with_user: bool = True, channel: Channel | None = None
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r.id) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": iso(self.joined_at),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.to_payload()
        if channel is not None:
            data["permissions"] = str(channel.permissions_for(self))
        return data


@dataclass
class Overwrite:
    target_id: int
    type: int  # 0 role, 1 member
    allow: int = 0
    deny: int = 0

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.target_id),
            "type": self.type,
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


@dataclass
class Channel:
    id: int
    guild: Guild
    name: str
    type: int = 0
    position: int = 0
    topic: str | None = None
    overwrites: dict[int, Overwrite] = field(default_factory=dict)
    last_message_id: int | None = None

    def set_permissions(self, target: Role | Member, *, allow: int = 0, deny: int = 0) -> None:
        """Set a permission overwrite (and tell a connected bot with CHANNEL_UPDATE)."""
        kind = 0 if isinstance(target, Role) else 1
        self.overwrites[target.id] = Overwrite(target.id, kind, allow, deny)
        self.guild.fake._dispatch_guild_event(self.guild, "CHANNEL_UPDATE", self.to_payload())

    def permissions_for(self, member: Member) -> int:
        """Discord's permission algorithm: base, then @everyone, role and member overwrites."""
        perms = member.base_permissions()
        if perms & ADMINISTRATOR or perms == ALL_PERMISSIONS:
            return ALL_PERMISSIONS
        everyone = self.overwrites.get(self.guild.id)
        if everyone:
            perms = (perms & ~everyone.deny) | everyone.allow
        allow = deny = 0
        for role in member.roles:
            ow = self.overwrites.get(role.id)
            if ow and ow.type == 0:
                allow |= ow.allow
                deny |= ow.deny
        perms = (perms & ~deny) | allow
        ow = self.overwrites.get(member.id)
        if ow and ow.type == 1:
            perms = (perms & ~ow.deny) | ow.allow
        if not perms & VIEW_CHANNEL:
            return 0
        return perms

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild.id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [o.to_payload() for o in self.overwrites.values()],
            "topic": self.topic,
            "nsfw": False,
            "parent_id": None,
            "rate_limit_per_user": 0,
            "last_message_id": str(self.last_message_id) if self.last_message_id else None,
            "flags": 0,
        }

    def to_partial_payload(self, member: Member) -> dict[str, Any]:
        """The channel as resolved data / interaction.channel: with the invoker's permissions."""
        data = self.to_payload()
        data["permissions"] = str(self.permissions_for(member))
        return data


@dataclass
class Guild:
    id: int
    fake: FakeDiscord
    name: str
    owner_id: int
    premium_tier: int = 0
    locale: str = "en-US"
    roles: dict[int, Role] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    joined_at: float = 0.0

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    @property
    def bot_member(self) -> Member:
        return self.members[self.fake.bot_user.id]

    @property
    def bot_role(self) -> Role:
        return next(r for r in self.roles.values() if r.bot_id == self.fake.bot_user.id)

    @property
    def upload_limit(self) -> int:
        return TIER_UPLOAD_LIMIT.get(self.premium_tier, 10 * MIB)

    def add_role(self, name: str, *, permissions: int = 0, mentionable: bool = False) -> Role:
        role = Role(
            self.fake.ids.next(),
            self,
            name,
            permissions=int(permissions),
            position=len(self.roles),
            mentionable=mentionable,
        )
        self.roles[role.id] = role
        self.fake._dispatch_guild_event(
            self, "GUILD_ROLE_CREATE", {"guild_id": str(self.id), "role": role.to_payload()}
        )
        return role

    def add_text_channel(self, name: str, *, topic: str | None = None) -> Channel:
        channel = Channel(
            self.fake.ids.next(), self, name, type=0, position=len(self.channels), topic=topic
        )
        self.channels[channel.id] = channel
        self.fake._dispatch_guild_event(self, "CHANNEL_CREATE", channel.to_payload())
        return channel

    def add_member(
        self,
        username: str,
        *,
        roles: list[Role] | tuple[Role, ...] = (),
        nick: str | None = None,
        bot: bool = False,
    ) -> Member:
        """Add a member (``bot=True``: another bot, e.g. one whose posts a menu targets)."""
        user = User(self.fake.ids.next(), username, bot=bot)
        self.fake.users[user.id] = user
        member = Member(user, self, list(roles), nick=nick, joined_at=self.fake.clock.now())
        self.members[member.id] = member
        return member

    def set_locale(self, locale: str) -> None:
        """Change the server's Discord language (``preferred_locale``); GUILD_UPDATE tells the bot."""
        self.locale = locale
        self.fake._dispatch_guild_event(self, "GUILD_UPDATE", self.to_rest_payload())

    def channel(self, name: str) -> Channel:
        return next(c for c in self.channels.values() if c.name == name)

    def member(self, username: str) -> Member:
        return next(m for m in self.members.values() if m.user.username == username)

    def role(self, name: str) -> Role:
        return next(r for r in self.roles.values() if r.name == name)

    def to_payload(self, *, all_members: bool = True) -> dict[str, Any]:
        """GUILD_CREATE data; without the GUILD_MEMBERS intent Discord only lists the bot itself."""
        members = [m for m in self.members.values() if all_members or m.id == self.fake.bot_user.id]
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "region": "us-west",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": self.premium_tier,
            "premium_subscription_count": 0,
            "preferred_locale": self.locale,
            "features": [],
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "vanity_url_code": None,
            "application_id": None,
            "max_members": 500000,
            "joined_at": iso(self.joined_at),
            "large": False,
            "unavailable": False,
            "member_count": len(self.members),
            "roles": [r.to_payload() for r in self.roles.values()],
            "channels": [c.to_payload() for c in self.channels.values()],
            "members": [m.to_payload() for m in members],
            "threads": [],
            "emojis": [],
            "stickers": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def to_rest_payload(self) -> dict[str, Any]:
        """The guild object of GET /guilds/{id} and GUILD_UPDATE: no gateway-only fields."""
        payload = self.to_payload(all_members=False)
        for gateway_only in (
            "channels",
            "members",
            "threads",
            "voice_states",
            "presences",
            "joined_at",
            "large",
            "unavailable",
            "member_count",
            "stage_instances",
            "guild_scheduled_events",
            "soundboard_sounds",
        ):
            payload.pop(gateway_only, None)
        return payload


@dataclass
class Upload:
    """A file a test attaches to a slash command (ATTACHMENT option) or that the bot uploaded."""

    filename: str
    data: bytes
    content_type: str | None = None
    description: str | None = None

    def guessed_type(self) -> str:
        """Like Discord: the declared type, unless it is missing or generic; then by filename."""
        if self.content_type and self.content_type != "application/octet-stream":
            return self.content_type
        return mimetypes.guess_type(self.filename)[0] or "application/octet-stream"


@dataclass
class StoredAttachment:
    """An attachment served by the fake CDN; ``data`` holds the exact bytes."""

    id: int
    filename: str
    data: bytes
    content_type: str
    url: str
    proxy_url: str
    width: int | None = None
    height: int | None = None
    description: str | None = None
    ephemeral: bool = False

    @property
    def size(self) -> int:
        return len(self.data)

    def to_payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.proxy_url,
            "content_type": self.content_type,
        }
        if self.description is not None:
            data["description"] = self.description
        if self.width is not None:
            data["width"] = self.width
            data["height"] = self.height
        if self.ephemeral:
            data["ephemeral"] = True
        return data


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height when ``data`` is an image Pillow can read."""
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Exception:
        return None


@dataclass
class Message:
    """A message the bot (or a test) posted, as the fake stores it."""

    id: int
    channel_id: int
    guild_id: int | None
    author: User
    created_at: float
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[StoredAttachment] = field(default_factory=list)
    flags: int = 0
    tts: bool = False
    allowed_mentions: dict[str, Any] | None = None
    application_id: int | None = None
    webhook_id: int | None = None
    interaction_id: int | None = None
    edited_at: float | None = None
    deleted: bool = False
    #: Every accepted payload, the creating one first.
    history: list[dict[str, Any]] = field(default_factory=list)
    edits_when_old: int = 0
    #: The ``nonce`` it was created with (Discord echoes it in the create answer and in
    #: MESSAGE_CREATE, not when the message is fetched again).
    nonce: str | int | None = None

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        return bool(self.flags & LOADING)

    @property
    def edit_count(self) -> int:
        return max(0, len(self.history) - 1)

    def custom_ids(self) -> list[str]:
        found: list[str] = []

        def walk(items: list[dict[str, Any]]) -> None:
            for item in items:
                if "custom_id" in item:
                    found.append(item["custom_id"])
                walk(item.get("components", []))
                if isinstance(item.get("component"), dict):
                    walk([item["component"]])
                if isinstance(item.get("accessory"), dict):
                    walk([item["accessory"]])

        walk(self.components)
        return found

    def to_payload(self, *, with_nonce: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "author": self.author.to_payload(),
            "content": self.content,
            "timestamp": iso(self.created_at),
            "edited_timestamp": iso(self.edited_at) if self.edited_at else None,
            "tts": self.tts,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [a.to_payload() for a in self.attachments],
            "embeds": self.embeds,
            "components": self.components,
            "pinned": False,
            "type": 0 if self.interaction_id is None else 20,
            "flags": self.flags,
        }
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
        if self.application_id is not None:
            data["application_id"] = str(self.application_id)
        if with_nonce and self.nonce is not None:
            data["nonce"] = self.nonce
        return data


@dataclass
class Event:
    """One thing that happened at the fake, in order: a request the bot made, or a gateway event.

    ``kind`` is e.g. ``interaction.callback``, ``webhook.followup``, ``webhook.edit``,
    ``webhook.delete``, ``webhook.get``, ``message.create``, ``message.edit``, ``message.delete``,
    ``message.get``, ``commands.sync``, ``gateway.identify``, ``gateway.resume``,
    ``gateway.heartbeat``, ``gateway.ready``, ``gateway.disconnect``, ``login``, ``cdn.get``.
    Rejected requests are recorded too, with ``status`` >= 400 and ``error`` set.
    """

    seq: int
    kind: str
    at: float  # the fake clock's time
    monotonic: float  # real monotonic time
    method: str = ""
    path: str = ""
    status: int = 200
    payload: Any = None
    files: list[Upload] = field(default_factory=list)
    error: dict[str, Any] | None = None
    interaction: InteractionRecord | None = None
    message: Message | None = None
    headers: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def code(self) -> int | None:
        return None if self.error is None else self.error.get("code")


@dataclass
class InteractionRecord:
    """Everything about one interaction the fake sent and how the bot answered it."""

    fake: FakeDiscord
    id: int
    token: str
    type: int
    payload: dict[str, Any]
    created_at: float
    channel_id: int | None
    guild_id: int | None
    user_id: int
    #: The interaction callback type the bot used (4, 5, 6, 7, 8, 9), or ``None``.
    response_type: int | None = None
    responded_at: float | None = None
    original_message_id: int | None = None
    #: For component / modal-submit interactions: the message the component is on.
    source_message_id: int | None = None
    modal: dict[str, Any] | None = None
    #: Autocomplete choices the bot returned (response type 8).
    choices: list[dict[str, Any]] | None = None
    followup_ids: list[int] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    @property
    def responded(self) -> bool:
        return self.response_type is not None

    @property
    def deferred(self) -> bool:
        return self.response_type in (5, 6)

    @property
    def data(self) -> dict[str, Any]:
        return self.payload.get("data", {})

    @property
    def original(self) -> Message | None:
        """The original response (for type 6/7 on a component: the clicked message)."""
        if self.original_message_id is None:
            return None
        return self.fake.messages.get(self.original_message_id)

    @property
    def followups(self) -> list[Message]:
        return [self.fake.messages[i] for i in self.followup_ids]

    @property
    def ephemeral(self) -> bool:
        original = self.original
        return bool(original and original.ephemeral)

    async def wait_response(self, timeout: float = 5.0) -> Event:
        """Wait until the bot acknowledged (or failed to acknowledge) this interaction."""
        return await self.fake.wait_for(
            lambda ev: ev.interaction is self and ev.kind == "interaction.callback",
            timeout=timeout,
        )

    async def wait_event(
        self, predicate: Callable[[Event], bool] | None = None, *, timeout: float = 5.0
    ) -> Event:
        """Wait for an accepted request about this interaction (callback, followup, edit...)."""
        return await self.fake.wait_for(
            lambda ev: ev.interaction is self and ev.ok and (predicate is None or predicate(ev)),
            timeout=timeout,
        )

    async def wait_original(
        self, predicate: Callable[[Message], bool] | None = None, *, timeout: float = 5.0
    ) -> Message:
        """Wait until the original response exists, is not loading and matches ``predicate``."""

        def check() -> bool:
            msg = self.original
            return msg is not None and not msg.loading and (predicate is None or predicate(msg))

        if not check():
            await self.fake.wait_for(lambda ev: ev.interaction is self and check(), timeout=timeout)
        assert self.original is not None
        return self.original


async def wait_until(
    condition: Callable[[], Any],
    *,
    timeout: float = 5.0,
    interval: float = 0.01,
    what: str | Callable[[], str] | None = None,
) -> Any:
    """Poll ``condition`` (plain or async) until it is truthy and return its value; fail after
    ``timeout`` seconds saying ``what`` (for state no fake event announces, e.g. what the bot's
    cache saw from the gateway, a database row, an HTTP endpoint)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            said = what() if callable(what) else what
            raise TimeoutError(said or f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


class Waiter:
    """A predicate over events with the future that resolves when it matches."""

    def __init__(self, predicate: Callable[[Event], bool]) -> None:
        self.predicate = predicate
        self.future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
