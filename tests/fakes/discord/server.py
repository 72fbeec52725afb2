"""The loopback Discord: REST under /api/v10, a gateway websocket and a CDN, on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import re
import secrets
import time
import urllib.parse
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from bot.clock import ManualClock

from . import limits, modals
from .limits import ApiError
from .model import (
    ATTACH_FILES,
    DEFAULT_BOT_ROLE,
    DEFAULT_EVERYONE,
    EPHEMERAL,
    LOADING,
    MANAGE_MESSAGES,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    Channel,
    Event,
    Guild,
    InteractionRecord,
    Member,
    Message,
    Role,
    Snowflakes,
    StoredAttachment,
    Upload,
    User,
    Waiter,
    image_size,
    shard_of,
)

API_PREFIX = "/api/v10"
GATEWAY_PATH = "/gateway-ws"
GUILD_MEMBERS_INTENT = 1 << 1

# Application command option types
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = range(3, 12)

_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")
#: User and message (context menu) command names: mixed case and spaces allowed, 1-32 characters.
_MENU_NAME = re.compile(r"^[-_' \w]{1,32}$")
CHAT_INPUT, USER_COMMAND, MESSAGE_COMMAND = 1, 2, 3


def _valid_command_name(name: str, ctype: int) -> bool:
    """Discord's naming rule: lowercase words for slash commands, free text for menus."""
    if ctype in (USER_COMMAND, MESSAGE_COMMAND):
        return bool(_MENU_NAME.match(name)) and name.strip() == name
    return bool(_COMMAND_NAME.match(name)) and (ctype != CHAT_INPUT or name == name.lower())


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response whose Content-Type is exactly ``application/json`` (discord.py insists)."""
    return web.Response(
        body=json.dumps(body).encode(),
        status=status,
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


class RateLimited(Exception):
    def __init__(self, retry_after: float, limit: int, bucket: str) -> None:
        super().__init__(f"rate limited for {retry_after:.3f}s")
        self.retry_after = retry_after
        self.limit = limit
        self.bucket = bucket


@dataclass
class Withhold:
    """A rule of ``FakeDiscord.withhold_response``: requests it matches are carried out (the
    message is created, the edit applied) but their answer never reaches the client."""

    kind: str
    when: Callable[[Event], bool] | None
    mode: str  # "hang": keep the request open until released; "drop": close the connection
    times: int
    hits: list[Event] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def matches(self, ev: Event) -> bool:
        return (
            self.times > 0
            and ev.kind == self.kind
            and ev.ok
            and (self.when is None or self.when(ev))
        )


@dataclass
class _Ctx:
    """What a handler learnt about the request, for the event log."""

    kind: str
    status: int = 200
    payload: Any = None
    files: list[Upload] = field(default_factory=list)
    interaction: InteractionRecord | None = None
    message: Message | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class _Connection:
    """One websocket connection; everything it sends goes through one ordered queue."""

    _numbers = itertools.count(1)

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.number = next(self._numbers)
        self.ws = ws
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.session: _Session | None = None

    def send(self, frame: dict[str, Any]) -> None:
        self.queue.put_nowait(frame)


@dataclass
class _Session:
    id: str
    shard: tuple[int, int]
    intents: int
    seq: int = 0
    frames: list[dict[str, Any]] = field(default_factory=list)
    conn: _Connection | None = None

    @property
    def wants_members(self) -> bool:
        return bool(self.intents & GUILD_MEMBERS_INTENT)

    def dispatch(self, event: str, data: Any) -> None:
        self.seq += 1
        frame = {"op": 0, "t": event, "s": self.seq, "d": data}
        self.frames.append(frame)
        if self.conn is not None:
            self.conn.send(frame)


class FakeDiscord:
    """A local Discord that the unmodified discord.py 2.7 client can log into.

    Time: ``clock`` (default: a :class:`ManualClock` running at real speed from now, so real
    elapsed time counts *and* ``fake.clock.advance(s)`` jumps) drives snowflakes, the 3-second
    first-response deadline, the 15-minute token lifetime, CDN URL expiry and message age.
    Rate-limit windows use real monotonic time, since discord.py sleeps in real time.
    """

    def __init__(
        self,
        *,
        clock: Any | None = None,
        token: str = "fake-bot-token",
        bot_name: str = "Atelier",
        heartbeat_interval: float = 41.25,
        interaction_deadline: float = 3.0,
        token_lifetime: float = 15 * 60.0,
        edit_rate_limit: tuple[int, float] | None = None,
        old_message_edit_limit: int | None = None,
        cdn_url_ttl: float = 24 * 3600.0,
        nonce_window: float = 120.0,
    ) -> None:
        self.clock = clock if clock is not None else ManualClock(time.time(), speed=1.0)
        self.token = token
        self.heartbeat_interval = heartbeat_interval
        self.interaction_deadline = interaction_deadline
        self.token_lifetime = token_lifetime
        #: ``(edits, per_seconds)`` allowed per message, or ``None`` for no limit.
        self.edit_rate_limit = edit_rate_limit
        #: Edits allowed to a message older than 1 hour before 30046, or ``None``.
        self.old_message_edit_limit = old_message_edit_limit
        self.cdn_url_ttl = cdn_url_ttl
        #: Seconds (fake clock) during which a repeated ``nonce`` with ``enforce_nonce`` returns
        #: the message first created with it (Discord: "the past few minutes").
        self.nonce_window = nonce_window
        self.ids = Snowflakes(self.clock.now)
        self.application_id = self.ids.next()
        self.bot_user = User(self.application_id, bot_name, bot=True)
        self.owner = User(self.ids.next(), "owner")
        self.users: dict[int, User] = {self.bot_user.id: self.bot_user, self.owner.id: self.owner}
        self.guilds: dict[int, Guild] = {}
        self.messages: dict[int, Message] = {}
        self.interactions: dict[int, InteractionRecord] = {}
        self._by_token: dict[str, InteractionRecord] = {}
        self.cdn: dict[int, StoredAttachment] = {}
        #: Synced commands: scope (``None`` = global, else guild id) -> name/type -> command.
        self.commands: dict[int | None, dict[tuple[str, int], dict[str, Any]]] = {}
        self.events: list[Event] = []
        self._waiters: list[Waiter] = []
        self._sessions: dict[str, _Session] = {}
        self._current: _Session | None = None
        #: The latest session of each shard id (the one that gets its guilds' events).
        self._shards: dict[int, _Session] = {}
        #: What GET /gateway/bot answers: the recommended shard count and
        #: ``session_start_limit.max_concurrency`` (identifies allowed per 5 s, one per bucket).
        self.recommended_shards = 1
        self.max_concurrency = 1
        self._connections: set[_Connection] = set()
        # Set: gateway connections are accepted; cleared by hold_gateway() (an outage).
        self._gateway_open = asyncio.Event()
        self._gateway_open.set()
        self._edit_times: dict[int, deque[float]] = {}
        #: (author id, nonce) -> (message id, created at), oldest first.
        self._nonces: dict[tuple[int, str], tuple[int, float]] = {}
        self._withholds: list[Withhold] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeDiscord:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        self._routes(app)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        self.release_withheld()
        self.release_gateway()
        for conn in list(self._connections):
            conn.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """What ``DISCORD_API_BASE`` / ``Route.BASE`` should be."""
        return self.url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """What ``DISCORD_GATEWAY_URL`` / ``DEFAULT_GATEWAY`` should be."""
        return f"ws://127.0.0.1:{self.port}{GATEWAY_PATH}/"

    # ------------------------------------------------------------------ events

    def _record(self, ev: Event) -> Event:
        ev.seq = len(self.events)
        self.events.append(ev)
        if ev.interaction is not None:
            ev.interaction.events.append(ev)
        for waiter in list(self._waiters):
            if waiter.future.done():
                continue
            try:
                if waiter.predicate(ev):
                    waiter.future.set_result(ev)
            except Exception as exc:
                waiter.future.set_exception(exc)
        return ev

    def _new_event(self, kind: str, **kw: Any) -> Event:
        return self._record(
            Event(seq=0, kind=kind, at=self.clock.now(), monotonic=time.monotonic(), **kw)
        )

    def mark(self) -> int:
        """The sequence number the next event will get (pass it as ``since=``)."""
        return len(self.events)

    async def wait_for(
        self, predicate: Callable[[Event], bool], *, timeout: float = 5.0, since: int = 0
    ) -> Event:
        """Return the first event from ``since`` on (past or future) matching ``predicate``."""
        for ev in self.events[since:]:
            if predicate(ev):
                return ev
        waiter = Waiter(predicate)
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(waiter.future, timeout)
        except TimeoutError:
            kinds = [f"{e.kind}:{e.status}" for e in self.events[since:]][-30:]
            raise TimeoutError(
                f"no matching event within {timeout}s; last events: {kinds}"
            ) from None
        finally:
            self._waiters.remove(waiter)

    def withhold_response(
        self,
        kind: str = "message.create",
        *,
        when: Callable[[Event], bool] | None = None,
        mode: str = "hang",
        times: int = 1,
    ) -> Withhold:
        """Carry out the next ``times`` accepted ``kind`` requests matching ``when`` but never
        answer them: a crash (or a lost connection) after Discord acted, before the bot heard.

        ``mode="hang"`` keeps the request open until ``release_withheld()`` (or ``close``);
        ``mode="drop"`` closes the connection without an answer. Their events carry
        ``meta["withheld"] = mode``.
        """
        if mode not in ("hang", "drop"):
            raise ValueError(f"unknown mode {mode!r}")
        rule = Withhold(kind, when, mode, times)
        self._withholds.append(rule)
        return rule

    def release_withheld(self) -> None:
        """Let every hanging withheld request finish (its client has usually gone)."""
        for rule in self._withholds:
            rule.released.set()

    def events_of(self, kind: str, *, ok: bool | None = None) -> list[Event]:
        return [e for e in self.events if e.kind == kind and (ok is None or e.ok == ok)]

    def channel_messages(
        self, channel: Channel | int, *, include_deleted: bool = False
    ) -> list[Message]:
        """Messages in a channel, oldest first (ephemeral ones excluded)."""
        cid = channel if isinstance(channel, int) else channel.id
        return [
            m
            for m in self.messages.values()
            if m.channel_id == cid and not m.ephemeral and (include_deleted or not m.deleted)
        ]

    def attachment_bytes(self, url: str) -> bytes:
        """The bytes behind a fake CDN URL."""
        path = urllib.parse.urlsplit(url).path
        att_id = int(path.split("/")[-2])
        return self.cdn[att_id].data

    # ------------------------------------------------------------------ scenario: the world

    def add_guild(
        self,
        name: str = "Test Guild",
        *,
        channels: tuple[str, ...] | list[str] = ("general",),
        members: tuple[str, ...] | list[str] = (),
        premium_tier: int = 0,
        locale: str = "en-US",
        everyone_permissions: int = DEFAULT_EVERYONE,
        bot_permissions: int = DEFAULT_BOT_ROLE,
        shard: tuple[int, int] | None = None,
    ) -> Guild:
        """Create a guild the bot is in: @everyone, the bot's managed role, channels, members.

        ``shard=(id, count)`` picks a guild id that lands on that shard.
        """
        gid = self.ids.next() if shard is None else self.ids.next_on_shard(*shard)
        now = self.clock.now()
        guild = Guild(
            gid, self, name, self.owner.id, premium_tier=premium_tier, locale=locale, joined_at=now
        )
        guild.roles[gid] = Role(gid, guild, "@everyone", permissions=everyone_permissions)
        bot_role = Role(
            self.ids.next(),
            guild,
            self.bot_user.username,
            permissions=bot_permissions,
            position=1,
            managed=True,
            bot_id=self.bot_user.id,
        )
        guild.roles[bot_role.id] = bot_role
        guild.members[self.owner.id] = Member(self.owner, guild, [], joined_at=now)
        guild.members[self.bot_user.id] = Member(self.bot_user, guild, [bot_role], joined_at=now)
        for i, cname in enumerate(channels):
            ch = Channel(self.ids.next(), guild, cname, position=i)
            guild.channels[ch.id] = ch
        for uname in members:
            guild.add_member(uname)
        self.guilds[gid] = guild
        session = self.session_for_guild(gid)
        if session is not None:
            session.dispatch("GUILD_CREATE", guild.to_payload(all_members=session.wants_members))
        return guild

    def _dispatch_guild_event(self, guild: Guild, event: str, data: Any) -> None:
        if guild.id not in self.guilds:
            return
        session = self.session_for_guild(guild.id)
        if session is not None:
            session.dispatch(event, data)

    def session_for_guild(self, guild_id: int | None) -> _Session | None:
        """The session that receives a guild's events: the latest of shard
        ``(guild_id >> 22) % shard_count`` (any session when there is no guild)."""
        if guild_id is None:
            return self._current
        for shard_id, session in self._shards.items():
            if shard_of(guild_id, session.shard[1]) == shard_id:
                return session
        return None

    @property
    def identifies(self) -> list[Event]:
        """Every accepted IDENTIFY in order; ``meta["shard"]`` is ``(id, count)``,
        ``meta["connection"]`` numbers the websocket, ``monotonic`` is when it arrived."""
        return self.events_of("gateway.identify")

    def identify_violations(self, window: float = 5.0) -> list[tuple[Event, Event]]:
        """Pairs of identifies in the same bucket (``shard_id % max_concurrency``) less than
        ``window`` seconds apart: what Discord's session start limit forbids."""
        last: dict[int, Event] = {}
        found: list[tuple[Event, Event]] = []
        for ev in self.identifies:
            bucket = ev.meta["shard"][0] % max(1, self.max_concurrency)
            before = last.get(bucket)
            if before is not None and ev.monotonic - before.monotonic < window:
                found.append((before, ev))
            last[bucket] = ev
        return found

    # ------------------------------------------------------------------ scenario: gateway control

    @property
    def connected(self) -> bool:
        return any(session.conn is not None for session in self._shards.values())

    @property
    def connected_shards(self) -> dict[int, int]:
        """Shard id -> shard count of every session whose websocket is open now."""
        return {i: s.shard[1] for i, s in self._shards.items() if s.conn is not None}

    async def drop_connections(self, code: int = 4000, *, abort: bool = False) -> None:
        """Drop every gateway websocket (sessions stay resumable)."""
        for conn in list(self._connections):
            if abort:
                conn.ws._writer.transport.abort()  # type: ignore[union-attr]
            else:
                conn.queue.put_nowait(None)
                with contextlib.suppress(Exception):
                    await conn.ws.close(code=code)

    def hold_gateway(self) -> None:
        """Start a gateway outage: new websocket handshakes wait until ``release_gateway()``.

        With ``drop_connections()`` the bot is disconnected and stays so (its reconnect hangs
        in the handshake); ``release_gateway()`` lets it through to resume.
        """
        self._gateway_open.clear()

    def release_gateway(self) -> None:
        """End a ``hold_gateway()`` outage: waiting and new handshakes proceed."""
        self._gateway_open.set()

    def send_reconnect(self) -> None:
        """Ask the connected bot to reconnect and resume (op 7)."""
        for conn in list(self._connections):
            conn.send({"op": 7, "d": None})

    # ------------------------------------------------------------------ scenario: interactions

    def find_command(
        self, name: str, guild_id: int | None, type_: int = 1
    ) -> tuple[dict[str, Any], int | None]:
        if guild_id is not None:
            cmd = self.commands.get(guild_id, {}).get((name, type_))
            if cmd is not None:
                return cmd, guild_id
        cmd = self.commands.get(None, {}).get((name, type_))
        if cmd is None:
            raise LookupError(f"command {name!r} was not synced (guild {guild_id})")
        return cmd, None

    def _store_upload(
        self, channel_id: int, upload: Upload, *, ephemeral: bool = False
    ) -> StoredAttachment:
        att_id = self.ids.next()
        now = self.clock.now()
        query = f"ex={int(now + self.cdn_url_ttl):x}&is={int(now):x}&hm={secrets.token_hex(16)}"
        fname = urllib.parse.quote(upload.filename)
        path = f"attachments/{channel_id}/{att_id}/{fname}?{query}"
        content_type = upload.guessed_type()
        size = image_size(upload.data) if content_type.startswith("image/") else None
        att = StoredAttachment(
            id=att_id,
            filename=upload.filename,
            data=upload.data,
            content_type=content_type,
            url=f"{self.url}/cdn/{path}",
            proxy_url=f"{self.url}/media/{path}",
            width=size[0] if size else None,
            height=size[1] if size else None,
            description=upload.description,
            ephemeral=ephemeral,
        )
        self.cdn[att_id] = att
        return att

    def _interaction_payload(
        self,
        itype: int,
        *,
        guild: Guild,
        channel: Channel,
        member: Member,
        data: dict[str, Any],
        locale: str,
        attachment_size_limit: int | None,
        app_permissions: int | None,
        message: Message | None = None,
    ) -> InteractionRecord:
        iid = self.ids.next()
        token = "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)
        if app_permissions is None:
            app_permissions = channel.permissions_for(guild.bot_member)
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": itype,
            "data": data,
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": guild.locale, "features": []},
            "channel_id": str(channel.id),
            "channel": channel.to_partial_payload(member),
            "member": member.to_payload(channel=channel),
            "token": token,
            "version": 1,
            "app_permissions": str(app_permissions),
            "locale": locale,
            "guild_locale": guild.locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": attachment_size_limit
            if attachment_size_limit is not None
            else guild.upload_limit,
        }
        if message is not None:
            payload["message"] = message.to_payload()
        rec = InteractionRecord(
            fake=self,
            id=iid,
            token=token,
            type=itype,
            payload=payload,
            created_at=self.clock.now(),
            channel_id=channel.id,
            guild_id=guild.id,
            user_id=member.id,
        )
        if message is not None:
            rec.source_message_id = message.id
        return rec

    def _deliver(self, rec: InteractionRecord) -> InteractionRecord:
        session = self.session_for_guild(rec.guild_id)
        if session is None:
            raise RuntimeError("no bot has identified on the fake gateway for this guild's shard")
        self.interactions[rec.id] = rec
        self._by_token[rec.token] = rec
        session.dispatch("INTERACTION_CREATE", rec.payload)
        self._new_event("gateway.interaction", payload=rec.payload, interaction=rec)
        return rec

    def _encode_option(
        self,
        spec: dict[str, Any],
        value: Any,
        resolved: dict[str, dict[str, Any]],
        guild: Guild,
        channel: Channel,
    ) -> dict[str, Any]:
        otype = spec["type"]
        opt: dict[str, Any] = {"name": spec["name"], "type": otype}

        def add_user(m: Member | User) -> str:
            user = m.user if isinstance(m, Member) else m
            resolved.setdefault("users", {})[str(user.id)] = user.to_payload()
            if isinstance(m, Member):
                resolved.setdefault("members", {})[str(m.id)] = m.to_payload(
                    with_user=False, channel=channel
                )
            return str(user.id)

        def add_role(r: Role) -> str:
            resolved.setdefault("roles", {})[str(r.id)] = r.to_payload()
            return str(r.id)

        if otype == STRING:
            opt["value"] = str(value)
        elif otype == INTEGER:
            opt["value"] = int(value)
        elif otype == BOOLEAN:
            opt["value"] = bool(value)
        elif otype == NUMBER:
            opt["value"] = float(value)
        elif otype == USER:
            opt["value"] = add_user(value)
        elif otype == ROLE:
            opt["value"] = add_role(value)
        elif otype == MENTIONABLE:
            opt["value"] = add_role(value) if isinstance(value, Role) else add_user(value)
        elif otype == CHANNEL:
            if not isinstance(value, Channel):
                raise TypeError(f"option {spec['name']!r} wants a Channel")
            member = guild.bot_member
            resolved.setdefault("channels", {})[str(value.id)] = value.to_partial_payload(member)
            opt["value"] = str(value.id)
        elif otype == ATTACHMENT:
            if isinstance(value, tuple):
                value = Upload(*value)
            if not isinstance(value, Upload):
                raise TypeError(f"option {spec['name']!r} wants an Upload(filename, data)")
            att = self._store_upload(channel.id, value, ephemeral=True)
            resolved.setdefault("attachments", {})[str(att.id)] = att.to_payload()
            opt["value"] = str(att.id)
        else:
            raise ValueError(f"unsupported option type {otype}")
        return opt

    def slash(
        self,
        command: str,
        options: dict[str, Any] | None = None,
        *,
        guild: Guild,
        channel: Channel | None = None,
        member: Member | None = None,
        locale: str = "en-US",
        attachment_size_limit: int | None = None,
        app_permissions: int | None = None,
        focused: str | None = None,
    ) -> InteractionRecord:
        """Send a slash command (``"name"``, ``"name sub"`` or ``"name group sub"``) as INTERACTION_CREATE.

        ``options`` maps option names to values: str/int/bool/float, Member/User (USER,
        MENTIONABLE), Role, Channel, or :class:`Upload` / ``(filename, bytes)`` for ATTACHMENT
        (served from the fake CDN). Option types come from the synced command definition.
        With ``focused="name"`` it is an autocomplete request (interaction type 4) instead, with
        that option's partial text as its value.
        """
        channel = channel or next(iter(guild.channels.values()))
        if member is None:
            member = (
                next(m for m in guild.members.values() if not m.user.bot and m.id != guild.owner_id)
                if len(guild.members) > 2
                else guild.members[guild.owner_id]
            )
        path = command.split()
        cmd, scope = self.find_command(path[0], guild.id)
        resolved: dict[str, dict[str, Any]] = {}
        options = dict(options or {})

        def leaf(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
            by_name = {s["name"]: s for s in specs}
            unknown = set(options) - set(by_name)
            if unknown:
                raise ValueError(f"unknown options {sorted(unknown)} for /{command}")
            missing = [s["name"] for s in specs if s.get("required") and s["name"] not in options]
            if missing and focused is None:
                raise ValueError(f"missing required options {missing} for /{command}")
            encoded = []
            for name, value in options.items():
                spec = by_name[name]
                if name == focused:
                    encoded.append(
                        {"name": name, "type": spec["type"], "value": str(value), "focused": True}
                    )
                else:
                    encoded.append(self._encode_option(spec, value, resolved, guild, channel))
            return encoded

        def walk(specs: list[dict[str, Any]], rest: list[str]) -> list[dict[str, Any]]:
            if not rest:
                return leaf(specs)
            spec = next((s for s in specs if s["name"] == rest[0] and s["type"] in (1, 2)), None)
            if spec is None:
                raise LookupError(f"no subcommand {rest[0]!r} in /{command}")
            return [
                {
                    "name": spec["name"],
                    "type": spec["type"],
                    "options": walk(spec.get("options", []), rest[1:]),
                }
            ]

        data: dict[str, Any] = {
            "id": cmd["id"],
            "name": cmd["name"],
            "type": 1,
            "options": walk(cmd.get("options", []), path[1:]),
        }
        if resolved:
            data["resolved"] = resolved
        if scope is not None:
            data["guild_id"] = str(scope)
        rec = self._interaction_payload(
            2 if focused is None else 4,
            guild=guild,
            channel=channel,
            member=member,
            data=data,
            locale=locale,
            attachment_size_limit=attachment_size_limit,
            app_permissions=app_permissions,
        )
        return self._deliver(rec)

    def click(
        self,
        message: Message | int,
        custom_id: str | None = None,
        *,
        member: Member | None = None,
        component_type: int = 2,
        values: list[str] | None = None,
        locale: str = "en-US",
        attachment_size_limit: int | None = None,
    ) -> InteractionRecord:
        """Click a button (or choose ``values`` in a select) on a stored message: interaction type 3."""
        msg = self._live_message(message)
        ids = msg.custom_ids()
        if custom_id is None:
            if not ids:
                raise LookupError("message has no components")
            custom_id = ids[0]
        elif custom_id not in ids:
            raise LookupError(f"no component {custom_id!r} on message (has {ids})")
        assert msg.guild_id is not None
        guild = self.guilds[msg.guild_id]
        channel = guild.channels[msg.channel_id]
        if member is None:
            humans = [m for m in guild.members.values() if not m.user.bot]
            member = humans[-1]
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = values
        rec = self._interaction_payload(
            3,
            guild=guild,
            channel=channel,
            member=member,
            data=data,
            locale=locale,
            attachment_size_limit=attachment_size_limit,
            app_permissions=None,
            message=msg,
        )
        return self._deliver(rec)

    def _live_message(self, message: Message | int) -> Message:
        """The stored message (by id or itself) a member acts on; LookupError once deleted."""
        msg = self.messages[message] if isinstance(message, int) else message
        if msg.deleted:
            raise LookupError("message was deleted")
        return msg

    def submit_modal(
        self,
        shown_by: InteractionRecord,
        values: Mapping[str, str | Sequence[str]],
        *,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """Submit the modal the bot showed (response type 9): type 5.

        ``values`` maps a custom_id to the text of a text input or the list of values chosen
        in a select; what is left out keeps its default (see ``modals.fill``).
        """
        modal = shown_by.modal
        if modal is None:
            raise LookupError("that interaction did not open a modal")
        guild = self.guilds[shown_by.guild_id]  # type: ignore[index]
        channel = guild.channels[shown_by.channel_id]  # type: ignore[index]
        member = guild.members[shown_by.user_id]
        data = {
            "custom_id": modal["custom_id"],
            "components": modals.fill(modal.get("components", []), values),
        }
        rec = self._interaction_payload(
            5,
            guild=guild,
            channel=channel,
            member=member,
            data=data,
            locale=locale,
            attachment_size_limit=None,
            app_permissions=None,
        )
        source = shown_by.source_message_id
        if source is not None:
            rec.payload["message"] = self.messages[source].to_payload()
            rec.source_message_id = source
        return self._deliver(rec)

    # ------------------------------------------------------------------ scenario: message commands

    def cdn_file(self, channel: Channel, upload: Upload | tuple[str, bytes]) -> StoredAttachment:
        """Serve ``upload`` from the fake CDN (e.g. for an embed's image); not on any message."""
        if isinstance(upload, tuple):
            upload = Upload(*upload)
        return self._store_upload(channel.id, upload)

    def post_message(
        self,
        channel: Channel,
        author: Member | User,
        content: str = "",
        *,
        files: list[Upload] | tuple[Upload, ...] = (),
        embed_images: list[Upload] | tuple[Upload, ...] = (),
        embed_thumbnails: list[Upload] | tuple[Upload, ...] = (),
        embeds: list[dict[str, Any]] | None = None,
    ) -> Message:
        """Post a message as a member or another bot: ``files`` become its attachments,
        ``embed_images`` / ``embed_thumbnails`` embeds whose image / thumbnail the CDN serves.

        Dispatched as MESSAGE_CREATE like the bot's own posts; a message command can then
        target it (``message_command``).
        """
        user = author.user if isinstance(author, Member) else author
        out_embeds = list(embeds or [])
        for key, uploads in (("image", embed_images), ("thumbnail", embed_thumbnails)):
            for upload in uploads:
                att = self.cdn_file(channel, upload)
                media = {"url": att.url, "proxy_url": att.proxy_url}
                if att.width is not None:
                    media |= {"width": att.width, "height": att.height}
                out_embeds.append({"type": "rich", key: media})
        msg = Message(
            id=self.ids.next(),
            channel_id=channel.id,
            guild_id=channel.guild.id,
            author=user,
            created_at=self.clock.now(),
            content=content,
            embeds=out_embeds,
        )
        msg.attachments = [self._store_upload(channel.id, f) for f in files]
        msg.history.append({"payload": {"content": content}, "files": [], "at": msg.created_at})
        self.messages[msg.id] = msg
        channel.last_message_id = msg.id
        self._dispatch_message("MESSAGE_CREATE", msg)
        return msg

    def message_command(
        self,
        name: str,
        target: Message | int,
        *,
        guild: Guild | None = None,
        channel: Channel | None = None,
        member: Member | None = None,
        locale: str = "en-US",
        attachment_size_limit: int | None = None,
        app_permissions: int | None = None,
    ) -> InteractionRecord:
        """Run the message context-menu command ``name`` (its English name) on ``target``.

        Sends what Discord sends: an APPLICATION_COMMAND interaction whose ``data`` has
        ``type`` 3, ``target_id`` and the whole message under ``resolved.messages``.
        """
        msg = self._live_message(target)
        if msg.ephemeral:
            raise LookupError("ephemeral messages have no context menu")
        assert msg.guild_id is not None
        guild = guild or self.guilds[msg.guild_id]
        if guild.id != msg.guild_id:
            raise ValueError("the message is in another guild")
        channel = channel or guild.channels[msg.channel_id]
        if channel.id != msg.channel_id:
            raise ValueError("the message is in another channel")
        if member is None:
            member = next(m for m in guild.members.values() if not m.user.bot)
        cmd, scope = self.find_command(name, guild.id, MESSAGE_COMMAND)
        data: dict[str, Any] = {
            "id": cmd["id"],
            "name": cmd["name"],
            "type": MESSAGE_COMMAND,
            "target_id": str(msg.id),
            "resolved": {"messages": {str(msg.id): msg.to_payload()}},
        }
        if scope is not None:
            data["guild_id"] = str(scope)
        rec = self._interaction_payload(
            2,
            guild=guild,
            channel=channel,
            member=member,
            data=data,
            locale=locale,
            attachment_size_limit=attachment_size_limit,
            app_permissions=app_permissions,
        )
        return self._deliver(rec)

    # ------------------------------------------------------------------ HTTP plumbing

    def _routes(self, app: web.Application) -> None:
        a = API_PREFIX
        r = app.router
        wrap = self._wrap
        r.add_get(a + "/users/@me", wrap("login", self._h_me))
        r.add_get(a + "/oauth2/applications/@me", wrap("application", self._h_application))
        r.add_get(a + "/gateway", wrap("gateway.url", self._h_gateway, auth=False))
        r.add_get(a + "/gateway/bot", wrap("gateway.url", self._h_gateway))
        r.add_get(a + "/applications/{app}/commands", wrap("commands.get", self._h_get_commands))
        r.add_put(a + "/applications/{app}/commands", wrap("commands.sync", self._h_sync))
        r.add_post(a + "/applications/{app}/commands", wrap("commands.upsert", self._h_upsert))
        r.add_get(
            a + "/applications/{app}/guilds/{guild}/commands",
            wrap("commands.get", self._h_get_commands),
        )
        r.add_put(
            a + "/applications/{app}/guilds/{guild}/commands", wrap("commands.sync", self._h_sync)
        )
        r.add_post(
            a + "/applications/{app}/guilds/{guild}/commands",
            wrap("commands.upsert", self._h_upsert),
        )
        r.add_post(
            a + "/interactions/{iid}/{token}/callback",
            wrap("interaction.callback", self._h_callback, auth=False),
        )
        wh = a + "/webhooks/{app}/{token}"
        r.add_post(wh, wrap("webhook.followup", self._h_followup, auth=False))
        for verb, kind, handler in (
            ("GET", "webhook.get", self._h_webhook_get),
            ("PATCH", "webhook.edit", self._h_webhook_edit),
            ("DELETE", "webhook.delete", self._h_webhook_delete),
        ):
            r.add_route(verb, wh + "/messages/@original", wrap(kind, handler, auth=False))
            r.add_route(verb, wh + "/messages/{mid}", wrap(kind, handler, auth=False))
        r.add_get(a + "/guilds/{gid}", wrap("guild.get", self._h_guild_get))
        ch = a + "/channels/{cid}"
        r.add_get(ch, wrap("channel.get", self._h_channel_get))
        r.add_get(ch + "/messages", wrap("message.history", self._h_history))
        r.add_post(ch + "/messages", wrap("message.create", self._h_message_create))
        r.add_get(ch + "/messages/{mid}", wrap("message.get", self._h_message_get))
        r.add_patch(ch + "/messages/{mid}", wrap("message.edit", self._h_message_edit))
        r.add_delete(ch + "/messages/{mid}", wrap("message.delete", self._h_message_delete))
        r.add_get("/cdn/attachments/{cid}/{aid}/{name}", self._h_cdn)
        r.add_get("/media/attachments/{cid}/{aid}/{name}", self._h_cdn)
        r.add_get(GATEWAY_PATH + "/", self._h_gateway_ws)
        r.add_get(GATEWAY_PATH, self._h_gateway_ws)
        r.add_route("*", a + "/{tail:.*}", wrap("unhandled", self._h_unhandled, auth=False))

    def _wrap(
        self,
        kind: str,
        handler: Callable[[web.Request, _Ctx], Awaitable[Any]],
        *,
        auth: bool = True,
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def run(request: web.Request) -> web.StreamResponse:
            ctx = _Ctx(kind)
            error: dict[str, Any] | None = None
            headers: dict[str, str] = {}
            try:
                if auth and request.headers.get("Authorization") != f"Bot {self.token}":
                    raise ApiError(401, 0, "401: Unauthorized")
                body = await handler(request, ctx)
                status = ctx.status
                if body is None:
                    status = 204
                    resp: web.StreamResponse = web.Response(status=204)
                else:
                    resp = _json(body, status)
            except RateLimited as rl:
                status = 429
                now = time.time()
                error = {
                    "message": "You are being rate limited.",
                    "retry_after": round(rl.retry_after, 3),
                    "global": False,
                }
                headers = {
                    "Retry-After": str(max(1, math.ceil(rl.retry_after))),
                    "X-RateLimit-Limit": str(rl.limit),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": f"{now + rl.retry_after:.3f}",
                    "X-RateLimit-Reset-After": f"{rl.retry_after:.3f}",
                    "X-RateLimit-Bucket": rl.bucket,
                    "X-RateLimit-Scope": "user",
                    "Via": "1.1 google",
                }
                resp = _json(error, 429, headers)
            except ApiError as exc:
                status = exc.status
                error = exc.body()
                resp = _json(error, status)
            ev = Event(
                seq=0,
                kind=ctx.kind,
                at=self.clock.now(),
                monotonic=time.monotonic(),
                method=request.method,
                path=request.path,
                status=status,
                payload=ctx.payload,
                files=ctx.files,
                error=error,
                interaction=ctx.interaction,
                message=ctx.message,
                headers=headers,
                meta=ctx.meta,
            )
            rule = next((r for r in self._withholds if r.matches(ev)), None)
            if rule is not None:
                rule.times -= 1
                rule.hits.append(ev)
                ev.meta["withheld"] = rule.mode
            self._record(ev)
            if rule is not None:
                await self._withhold(request, rule)
            return resp

        return run

    @staticmethod
    async def _withhold(request: web.Request, rule: Withhold) -> None:
        if rule.mode == "drop":
            transport = request.transport
            if transport is not None:
                transport.abort()  # the answer written after this goes nowhere
            return
        await rule.released.wait()

    @staticmethod
    async def _read_body(request: web.Request) -> tuple[Any, dict[int, Upload]]:
        files: dict[int, Upload] = {}
        if request.content_type.startswith("multipart/"):
            payload: Any = None
            reader = await request.multipart()
            async for part in reader:
                name = part.name or ""  # type: ignore[union-attr]
                if name == "payload_json":
                    payload = json.loads(await part.text())  # type: ignore[union-attr]
                    continue
                m = re.fullmatch(r"files\[(\d+)\]", name) or re.fullmatch(r"file(\d*)", name)
                if m is None:
                    continue
                index = int(m.group(1) or 0)
                data = bytes(await part.read())  # type: ignore[union-attr]
                files[index] = Upload(
                    part.filename or f"file{index}",  # type: ignore[union-attr]
                    data,
                    part.headers.get("Content-Type"),  # type: ignore[union-attr]
                )
            return payload or {}, files
        raw = await request.read()
        if not raw:
            return None, files
        try:
            return json.loads(raw), files
        except ValueError:
            raise ApiError(400, 50109, "The request body contains invalid JSON.") from None

    async def _h_unhandled(self, request: web.Request, ctx: _Ctx) -> Any:
        ctx.payload = {"method": request.method, "path": request.path}
        raise ApiError(
            404, 0, f"404: Not Found (the fake does not model {request.method} {request.path})"
        )

    # ------------------------------------------------------------------ login / gateway info

    async def _h_me(self, request: web.Request, ctx: _Ctx) -> Any:
        data = self.bot_user.to_payload()
        data.update(verified=True, mfa_enabled=False, locale="en-US", email=None)
        return data

    async def _h_application(self, request: web.Request, ctx: _Ctx) -> Any:
        return {
            "id": str(self.application_id),
            "name": self.bot_user.username,
            "description": "",
            "icon": None,
            "rpc_origins": [],
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.owner.to_payload(),
            "team": None,
            "verify_key": "0" * 64,
            "flags": 0,
            "summary": "",
            "bot": self.bot_user.to_payload(),
            "tags": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": len(self.guilds),
        }

    async def _h_gateway(self, request: web.Request, ctx: _Ctx) -> Any:
        url = self.gateway_url.rstrip("/")
        if request.path.endswith("/bot"):
            return {
                "url": url,
                "shards": self.recommended_shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 0,
                    "max_concurrency": self.max_concurrency,
                },
            }
        return {"url": url}

    # ------------------------------------------------------------------ application commands

    def _check_app(self, request: web.Request) -> int | None:
        if request.match_info["app"] != str(self.application_id):
            raise ApiError(403, 50001, "Missing Access")
        guild = request.match_info.get("guild")
        if guild is None:
            return None
        if int(guild) not in self.guilds:
            raise ApiError(403, 50001, "Missing Access")
        return int(guild)

    def _normalise_command(
        self, raw: dict[str, Any], scope: int | None, index: int
    ) -> dict[str, Any]:
        ctype = raw.get("type", 1)
        name = raw.get("name", "")
        problems: list[tuple[list[str | int], str, str]] = []
        if not _valid_command_name(name, ctype):
            problems.append(
                ([index, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
            )
        for loc, localized in (raw.get("name_localizations") or {}).items():
            if not isinstance(localized, str) or not _valid_command_name(localized, ctype):
                problems.append(
                    (
                        [index, "name_localizations", loc],
                        "APPLICATION_COMMAND_INVALID_NAME",
                        "Command name is invalid",
                    )
                )
        if ctype in (USER_COMMAND, MESSAGE_COMMAND) and raw.get("options"):
            problems.append(
                (
                    [index, "options"],
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Context menu commands cannot have options",
                )
            )
        if ctype == 1 and not 1 <= len(raw.get("description", "")) <= 100:
            problems.append(
                (
                    [index, "description"],
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 100 in length.",
                )
            )
        if len(raw.get("options", [])) > 25:
            problems.append(
                ([index, "options"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
            )
        if problems:
            raise limits.form_error(problems)
        old = self.commands.get(scope, {}).get((name, ctype))
        cmd = {
            "id": old["id"] if old else str(self.ids.next()),
            "application_id": str(self.application_id),
            "version": str(self.ids.next()),
            "type": ctype,
            "name": name,
            "description": raw.get("description", ""),
            "options": raw.get("options", []),
            "default_member_permissions": raw.get("default_member_permissions"),
            "dm_permission": raw.get("dm_permission", True),
            "contexts": raw.get("contexts"),
            "integration_types": raw.get("integration_types", [0]),
            "nsfw": raw.get("nsfw", False),
            "name_localizations": raw.get("name_localizations"),
            "description_localizations": raw.get("description_localizations"),
        }
        if scope is not None:
            cmd["guild_id"] = str(scope)
        return cmd

    async def _h_get_commands(self, request: web.Request, ctx: _Ctx) -> Any:
        scope = self._check_app(request)
        return list(self.commands.get(scope, {}).values())

    async def _h_sync(self, request: web.Request, ctx: _Ctx) -> Any:
        scope = self._check_app(request)
        body, _ = await self._read_body(request)
        ctx.payload = body
        ctx.meta["guild_id"] = scope
        if not isinstance(body, list) or len(body) > 110:
            raise ApiError(400, 50035, "Invalid Form Body")
        cmds = [self._normalise_command(raw, scope, i) for i, raw in enumerate(body)]
        self.commands[scope] = {(c["name"], c["type"]): c for c in cmds}
        return cmds

    async def _h_upsert(self, request: web.Request, ctx: _Ctx) -> Any:
        scope = self._check_app(request)
        body, _ = await self._read_body(request)
        ctx.payload = body
        ctx.meta["guild_id"] = scope
        cmd = self._normalise_command(body, scope, 0)
        existed = (cmd["name"], cmd["type"]) in self.commands.get(scope, {})
        self.commands.setdefault(scope, {})[(cmd["name"], cmd["type"])] = cmd
        ctx.status = 200 if existed else 201
        return cmd

    # ------------------------------------------------------------------ messages (shared)

    def _attachments_for(
        self,
        channel_id: int,
        data: dict[str, Any],
        files: dict[int, Upload],
        existing: list[StoredAttachment],
        *,
        ephemeral: bool,
    ) -> list[StoredAttachment]:
        """Resolve the ``attachments`` array: kept ones by id, new ones by ``files[n]`` index."""
        spec = data.get("attachments")
        by_id = {a.id: a for a in existing}
        if spec is None:
            kept = list(existing)
            new = [
                self._store_upload(channel_id, files[i], ephemeral=ephemeral) for i in sorted(files)
            ]
            return kept + new
        result: list[StoredAttachment] = []
        used: set[int] = set()
        for entry in spec:
            aid = int(entry["id"])
            if aid in files and aid not in used:
                up = files[aid]
                up = Upload(
                    entry.get("filename") or up.filename,
                    up.data,
                    up.content_type,
                    entry.get("description"),
                )
                result.append(self._store_upload(channel_id, up, ephemeral=ephemeral))
                used.add(aid)
            elif aid in by_id:
                result.append(by_id[aid])
            else:
                raise limits.form_error(
                    [
                        (
                            ["attachments", len(result), "id"],
                            "ATTACHMENT_NOT_FOUND",
                            "Unknown attachment",
                        )
                    ]
                )
        for i in sorted(set(files) - used):
            result.append(self._store_upload(channel_id, files[i], ephemeral=ephemeral))
        return result

    @staticmethod
    def _check_sizes(files: dict[int, Upload], limit: int) -> None:
        if any(len(f.data) > limit for f in files.values()):
            raise limits.too_large()

    def _new_message(
        self,
        channel: Channel,
        data: dict[str, Any],
        files: dict[int, Upload],
        *,
        interaction: InteractionRecord | None = None,
        flags: int = 0,
        nonce: str | int | None = None,
    ) -> Message:
        flags |= int(data.get("flags") or 0) & (EPHEMERAL | (1 << 2) | (1 << 12) | (1 << 15))
        msg = Message(
            id=self.ids.next(),
            channel_id=channel.id,
            guild_id=channel.guild.id,
            author=self.bot_user,
            created_at=self.clock.now(),
            content=str(data.get("content") or ""),
            embeds=list(data.get("embeds") or []),
            components=list(data.get("components") or []),
            flags=flags,
            tts=bool(data.get("tts", False)),
            allowed_mentions=data.get("allowed_mentions"),
            application_id=self.application_id if interaction else None,
            webhook_id=self.application_id if interaction else None,
            interaction_id=interaction.id if interaction else None,
            nonce=nonce,
        )
        msg.attachments = self._attachments_for(
            channel.id, data, files, [], ephemeral=msg.ephemeral
        )
        msg.history.append(
            {"payload": data, "files": [f.filename for f in files.values()], "at": msg.created_at}
        )
        self.messages[msg.id] = msg
        if not msg.ephemeral and not msg.loading:
            channel.last_message_id = msg.id
            self._dispatch_message("MESSAGE_CREATE", msg)
        return msg

    def _dispatch_message(self, event: str, msg: Message) -> None:
        if msg.ephemeral or msg.guild_id is None:
            return
        guild = self.guilds.get(msg.guild_id)
        if guild is None:
            return
        if event == "MESSAGE_DELETE":
            data: dict[str, Any] = {
                "id": str(msg.id),
                "channel_id": str(msg.channel_id),
                "guild_id": str(msg.guild_id),
            }
        else:
            data = msg.to_payload(with_nonce=event == "MESSAGE_CREATE")
            author = guild.members.get(msg.author.id, guild.bot_member)
            data["member"] = author.to_payload(with_user=False)
        self._dispatch_guild_event(guild, event, data)

    def _check_edit_limits(self, msg: Message) -> None:
        if self.edit_rate_limit is not None:
            count, per = self.edit_rate_limit
            now = time.monotonic()
            times = self._edit_times.setdefault(msg.id, deque())
            while times and times[0] <= now - per:
                times.popleft()
            if len(times) >= count:
                raise RateLimited(times[0] + per - now, count, f"edit-{msg.channel_id}")
            times.append(now)
        if self.old_message_edit_limit is not None and self.clock.now() - msg.created_at > 3600:
            if msg.edits_when_old >= self.old_message_edit_limit:
                raise limits.old_message_edits()
            msg.edits_when_old += 1

    def _edit_message(
        self, msg: Message, data: dict[str, Any], files: dict[int, Upload], size_limit: int
    ) -> None:
        limits.check_message(data, len(files), creating=False)
        self._check_sizes(files, size_limit)
        content = str(data["content"] or "") if "content" in data else msg.content
        embeds = list(data["embeds"] or []) if "embeds" in data else msg.embeds
        components = list(data["components"] or []) if "components" in data else msg.components
        attachments = self._attachments_for(
            msg.channel_id, data, files, msg.attachments, ephemeral=msg.ephemeral
        )
        if not content and not embeds and not attachments and not components:
            raise ApiError(400, 50006, "Cannot send an empty message")
        self._check_edit_limits(msg)
        msg.content, msg.embeds, msg.components, msg.attachments = (
            content,
            embeds,
            components,
            attachments,
        )
        if "flags" in data and data["flags"] is not None:
            keep = msg.flags & (EPHEMERAL | LOADING)
            msg.flags = (int(data["flags"]) & ~EPHEMERAL & ~LOADING) | keep
        if "allowed_mentions" in data:
            msg.allowed_mentions = data["allowed_mentions"]
        was_loading = msg.loading
        msg.flags &= ~LOADING
        msg.edited_at = None if was_loading else self.clock.now()
        msg.history.append(
            {"payload": data, "files": [f.filename for f in files.values()], "at": self.clock.now()}
        )
        if was_loading and not msg.ephemeral:
            self.guilds[msg.guild_id].channels[msg.channel_id].last_message_id = msg.id  # type: ignore[index]
            self._dispatch_message("MESSAGE_CREATE", msg)
        else:
            self._dispatch_message("MESSAGE_UPDATE", msg)

    # ------------------------------------------------------------------ interactions

    async def _h_callback(self, request: web.Request, ctx: _Ctx) -> Any:
        rec = (
            self.interactions.get(int(request.match_info["iid"]))
            if request.match_info["iid"].isdigit()
            else None
        )
        if rec is None or rec.token != request.match_info["token"]:
            raise limits.unknown_interaction()
        ctx.interaction = rec
        payload, files = await self._read_body(request)
        ctx.payload = payload
        ctx.files = list(files.values())
        age = self.clock.now() - rec.created_at
        ctx.meta["age"] = age
        if rec.responded:
            raise limits.already_acknowledged()
        if age > self.interaction_deadline:
            raise limits.unknown_interaction()
        if not isinstance(payload, dict) or "type" not in payload:
            raise limits.form_error([(["type"], "BASE_TYPE_REQUIRED", "This field is required")])
        cb = int(payload["type"])
        data = payload.get("data") or {}
        guild = self.guilds[rec.guild_id]  # type: ignore[index]
        channel = guild.channels[rec.channel_id]  # type: ignore[index]
        source_id = rec.source_message_id
        size_limit = int(rec.payload["attachment_size_limit"])
        msg: Message | None = None
        if cb == 4:
            limits.check_message(data, len(files), creating=True, path_prefix=("data",))
            self._check_sizes(files, size_limit)
            msg = self._new_message(channel, data, files, interaction=rec)
        elif cb == 5:
            msg = self._new_message(
                channel,
                {"content": "", "flags": data.get("flags", 0)},
                {},
                interaction=rec,
                flags=LOADING,
            )
        elif cb in (6, 7):
            if source_id is None:
                raise ApiError(
                    400, 40043, "Interaction response type is not valid for this interaction"
                )
            msg = self.messages[source_id]
            if cb == 7:
                self._edit_message(msg, data, files, size_limit)
        elif cb == 8:
            if rec.type != 4:
                raise ApiError(
                    400, 40043, "Interaction response type is not valid for this interaction"
                )
            choices = data.get("choices") or []
            if len(choices) > 25:
                raise limits.form_error(
                    [
                        (
                            ["data", "choices"],
                            "BASE_TYPE_MAX_LENGTH",
                            "Must be 25 or fewer in length.",
                        )
                    ]
                )
            rec.choices = choices
        elif cb == 9:
            if rec.type == 5:
                raise ApiError(
                    400, 40043, "Interaction response type is not valid for this interaction"
                )
            problems: list[tuple[list[str | int], str, str]] = []
            if not 1 <= len(data.get("custom_id", "")) <= limits.MAX_CUSTOM_ID:
                problems.append(
                    (
                        ["data", "custom_id"],
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 100 in length.",
                    )
                )
            if not 1 <= len(data.get("title", "")) <= 45:
                problems.append(
                    (
                        ["data", "title"],
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 45 in length.",
                    )
                )
            if not 1 <= len(data.get("components", [])) <= 5:
                problems.append(
                    (
                        ["data", "components"],
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 5 in length.",
                    )
                )
            problems += modals.modal_problems(data)
            if problems:
                raise limits.form_error(problems)
            limits.check_message(
                {"components": data.get("components", [])}, 0, creating=False, path_prefix=("data",)
            )
            rec.modal = data
        else:
            raise ApiError(
                400, 40043, f"Interaction response type {cb} is not supported by the fake"
            )
        rec.response_type = cb
        rec.responded_at = self.clock.now()
        if msg is not None:
            rec.original_message_id = msg.id
            ctx.message = msg
        body: dict[str, Any] = {
            "interaction": {
                "id": str(rec.id),
                "type": rec.type,
                "response_message_loading": cb == 5,
                "response_message_ephemeral": bool(msg and msg.ephemeral),
            },
            "resource": {"type": cb},
        }
        if msg is not None:
            body["interaction"]["response_message_id"] = str(msg.id)
            body["resource"]["message"] = msg.to_payload()
        return body

    def _webhook_record(self, request: web.Request, ctx: _Ctx) -> InteractionRecord:
        if request.match_info["app"] != str(self.application_id):
            raise limits.unknown_webhook()
        rec = self._by_token.get(request.match_info["token"])
        if rec is None:
            raise limits.invalid_webhook_token()
        ctx.interaction = rec
        age = self.clock.now() - rec.created_at
        ctx.meta["age"] = age
        if age > self.token_lifetime:
            raise limits.invalid_webhook_token()
        return rec

    def _webhook_message(self, request: web.Request, rec: InteractionRecord, ctx: _Ctx) -> Message:
        mid = request.match_info.get("mid")
        if mid is None:  # @original
            ctx.meta["target"] = "original"
            if rec.original_message_id is None:
                raise limits.unknown_message()
            msg = self.messages[rec.original_message_id]
        else:
            ctx.meta["target"] = "followup"
            if not mid.isdigit() or (
                int(mid) not in rec.followup_ids and int(mid) != rec.original_message_id
            ):
                raise limits.unknown_message()
            msg = self.messages[int(mid)]
        if msg.deleted:
            raise limits.unknown_message()
        ctx.message = msg
        return msg

    async def _h_followup(self, request: web.Request, ctx: _Ctx) -> Any:
        rec = self._webhook_record(request, ctx)
        payload, files = await self._read_body(request)
        ctx.payload = payload
        ctx.files = list(files.values())
        if not rec.responded:
            raise limits.unknown_webhook()
        data = payload or {}
        limits.check_message(data, len(files), creating=True)
        self._check_sizes(files, int(rec.payload["attachment_size_limit"]))
        guild = self.guilds[rec.guild_id]  # type: ignore[index]
        channel = guild.channels[rec.channel_id]  # type: ignore[index]
        original = rec.original
        if (
            original is not None
            and original.loading
            and not original.deleted
            and rec.response_type == 5
        ):
            # The first followup after a "thinking" defer replaces the loading message.
            self._edit_message(original, data, files, int(rec.payload["attachment_size_limit"]))
            ctx.message = original
            return original.to_payload()
        msg = self._new_message(channel, data, files, interaction=rec)
        rec.followup_ids.append(msg.id)
        ctx.message = msg
        if request.query.get("wait") in ("1", "true", "True"):
            return msg.to_payload()
        return None

    async def _h_webhook_get(self, request: web.Request, ctx: _Ctx) -> Any:
        rec = self._webhook_record(request, ctx)
        return self._webhook_message(request, rec, ctx).to_payload()

    async def _h_webhook_edit(self, request: web.Request, ctx: _Ctx) -> Any:
        rec = self._webhook_record(request, ctx)
        payload, files = await self._read_body(request)
        ctx.payload = payload
        ctx.files = list(files.values())
        msg = self._webhook_message(request, rec, ctx)
        self._edit_message(msg, payload or {}, files, int(rec.payload["attachment_size_limit"]))
        return msg.to_payload()

    async def _h_webhook_delete(self, request: web.Request, ctx: _Ctx) -> Any:
        rec = self._webhook_record(request, ctx)
        msg = self._webhook_message(request, rec, ctx)
        msg.deleted = True
        self._dispatch_message("MESSAGE_DELETE", msg)
        return None

    # ------------------------------------------------------------------ channels

    def _channel(self, request: web.Request) -> Channel:
        cid = request.match_info["cid"]
        if cid.isdigit():
            for guild in self.guilds.values():
                if int(cid) in guild.channels:
                    return guild.channels[int(cid)]
        raise limits.unknown_channel()

    def _bot_perms(self, channel: Channel) -> int:
        return channel.permissions_for(channel.guild.bot_member)

    def _channel_message(self, request: web.Request, channel: Channel, ctx: _Ctx) -> Message:
        mid = request.match_info["mid"]
        msg = self.messages.get(int(mid)) if mid.isdigit() else None
        if msg is None or msg.deleted or msg.channel_id != channel.id or msg.ephemeral:
            raise limits.unknown_message()
        ctx.message = msg
        return msg

    async def _h_guild_get(self, request: web.Request, ctx: _Ctx) -> Any:
        guild = self.guilds.get(int(request.match_info["gid"]))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild.to_rest_payload()

    async def _h_channel_get(self, request: web.Request, ctx: _Ctx) -> Any:
        channel = self._channel(request)
        if not self._bot_perms(channel) & VIEW_CHANNEL:
            raise limits.missing_access()
        return channel.to_payload()

    async def _h_history(self, request: web.Request, ctx: _Ctx) -> Any:
        channel = self._channel(request)
        perms = self._bot_perms(channel)
        if not perms & VIEW_CHANNEL:
            raise limits.missing_access()
        if not perms & READ_MESSAGE_HISTORY:
            return []
        limit = int(request.query.get("limit", 50))
        if not 1 <= limit <= 100:
            raise limits.form_error(
                [(["limit"], "NUMBER_TYPE_MAX", "int value should be between 1 and 100.")]
            )
        msgs = sorted(
            (m for m in self.channel_messages(channel) if not m.loading), key=lambda m: m.id
        )
        after, before = request.query.get("after"), request.query.get("before")
        if after is not None:
            # The ``limit`` messages right after ``after``; newest first, like every page.
            msgs = [m for m in msgs if m.id > int(after)][:limit]
            return [m.to_payload() for m in reversed(msgs)]
        if before is not None:
            msgs = [m for m in msgs if m.id < int(before)]
        return [m.to_payload() for m in reversed(msgs)][:limit]

    async def _h_message_create(self, request: web.Request, ctx: _Ctx) -> Any:
        channel = self._channel(request)
        payload, files = await self._read_body(request)
        ctx.payload = payload
        ctx.files = list(files.values())
        perms = self._bot_perms(channel)
        if not perms & VIEW_CHANNEL:
            raise limits.missing_access()
        if not perms & SEND_MESSAGES or (files and not perms & ATTACH_FILES):
            raise limits.missing_permissions()
        data = payload or {}
        limits.check_message(data, len(files), creating=True)
        nonce = data.get("nonce")
        enforced = nonce is not None and bool(data.get("enforce_nonce"))
        if enforced:
            earlier = self._message_for_nonce(self.bot_user.id, nonce)
            if earlier is not None:
                # Discord: the message created with this nonce is returned, none is created.
                ctx.message = earlier
                ctx.meta["nonce_reused"] = True
                return earlier.to_payload(with_nonce=True)
        self._check_sizes(files, channel.guild.upload_limit)
        msg = self._new_message(channel, data, files, nonce=nonce)
        if enforced:
            key = (self.bot_user.id, str(nonce))
            self._nonces.pop(key, None)  # re-insert at the end: the dict stays oldest first
            self._nonces[key] = (msg.id, msg.created_at)
        ctx.message = msg
        return msg.to_payload(with_nonce=True)

    def _message_for_nonce(self, author_id: int, nonce: str | int) -> Message | None:
        """The message this author created with ``nonce`` within ``nonce_window``, if any."""
        horizon = self.clock.now() - self.nonce_window
        for key, (_, at) in list(self._nonces.items()):
            if at >= horizon:
                break  # oldest first: the rest are recent
            del self._nonces[key]
        found = self._nonces.get((author_id, str(nonce)))
        if found is None:
            return None
        msg = self.messages.get(found[0])
        return msg if msg is not None and not msg.deleted else None

    async def _h_message_get(self, request: web.Request, ctx: _Ctx) -> Any:
        channel = self._channel(request)
        perms = self._bot_perms(channel)
        if not perms & VIEW_CHANNEL or not perms & READ_MESSAGE_HISTORY:
            raise limits.missing_access()
        return self._channel_message(request, channel, ctx).to_payload()

    async def _h_message_edit(self, request: web.Request, ctx: _Ctx) -> Any:
        channel = self._channel(request)
        payload, files = await self._read_body(request)
        ctx.payload = payload
        ctx.files = list(files.values())
        if not self._bot_perms(channel) & VIEW_CHANNEL:
            raise limits.missing_access()
        msg = self._channel_message(request, channel, ctx)
        if msg.author.id != self.bot_user.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._edit_message(msg, payload or {}, files, channel.guild.upload_limit)
        return msg.to_payload()

    async def _h_message_delete(self, request: web.Request, ctx: _Ctx) -> Any:
        channel = self._channel(request)
        perms = self._bot_perms(channel)
        if not perms & VIEW_CHANNEL:
            raise limits.missing_access()
        msg = self._channel_message(request, channel, ctx)
        if msg.author.id != self.bot_user.id and not perms & MANAGE_MESSAGES:
            raise limits.missing_permissions()
        msg.deleted = True
        self._dispatch_message("MESSAGE_DELETE", msg)
        return None

    # ------------------------------------------------------------------ CDN

    async def _h_cdn(self, request: web.Request) -> web.StreamResponse:
        aid = request.match_info["aid"]
        att = self.cdn.get(int(aid)) if aid.isdigit() else None
        status = 200
        if att is None:
            status = 404
        else:
            ex = request.query.get("ex")
            if ex is not None and int(ex, 16) < self.clock.now():
                status = 404
        self._new_event("cdn.get", method="GET", path=request.path, status=status)
        if att is None or status != 200:
            return web.Response(status=404, text="This content is no longer available.")
        return web.Response(body=att.data, content_type=att.content_type.split(";")[0])

    # ------------------------------------------------------------------ gateway

    async def _h_gateway_ws(self, request: web.Request) -> web.StreamResponse:
        if not self._gateway_open.is_set():
            self._new_event("gateway.held", method="GET", path=request.path)
            await self._gateway_open.wait()
        ws = web.WebSocketResponse(timeout=1.0, compress=False, max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        conn = _Connection(ws)
        self._connections.add(conn)
        writer = asyncio.create_task(self._writer(conn))
        conn.send({"op": 10, "d": {"heartbeat_interval": int(self.heartbeat_interval * 1000)}})
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_gateway_frame(conn, json.loads(msg.data))
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            self._connections.discard(conn)
            conn.queue.put_nowait(None)
            with contextlib.suppress(BaseException):
                await writer
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
            self._new_event(
                "gateway.disconnect",
                payload={"close_code": ws.close_code},
                meta={"session_id": session.id if session else None},
            )
        return ws

    @staticmethod
    async def _writer(conn: _Connection) -> None:
        while True:
            frame = await conn.queue.get()
            if frame is None or conn.ws.closed:
                return
            try:
                await conn.ws.send_str(json.dumps(frame))
            except (ConnectionError, RuntimeError):
                return

    @staticmethod
    def _on_shard(guild_id: int, session: _Session) -> bool:
        return shard_of(guild_id, session.shard[1]) == session.shard[0]

    async def _on_gateway_frame(self, conn: _Connection, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        d = frame.get("d")
        session = conn.session
        if op == 1:
            self._new_event(
                "gateway.heartbeat", payload=d, meta={"session_id": session.id if session else None}
            )
            conn.send({"op": 11})
        elif op == 2:
            if d.get("token") != self.token and d.get("token") != f"Bot {self.token}":
                await conn.ws.close(code=4004, message=b"Authentication failed.")
                return
            shard = tuple(d.get("shard") or (0, 1))
            session = _Session(
                id=secrets.token_hex(16),
                shard=(int(shard[0]), int(shard[1])),
                intents=int(d.get("intents", 0)),
            )
            self._sessions[session.id] = session
            self._current = session
            self._shards[session.shard[0]] = session
            session.conn = conn
            conn.session = session
            self._new_event(
                "gateway.identify",
                payload=d,
                meta={"session_id": session.id, "shard": session.shard, "connection": conn.number},
            )
            guilds = [g for g in self.guilds.values() if self._on_shard(g.id, session)]
            session.dispatch(
                "READY",
                {
                    "v": 10,
                    "user": {**self.bot_user.to_payload(), "verified": True, "mfa_enabled": False},
                    "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
                    "session_id": session.id,
                    "resume_gateway_url": self.gateway_url,
                    "application": {"id": str(self.application_id), "flags": 0},
                    "shard": list(session.shard),
                    "private_channels": [],
                    "relationships": [],
                    "presences": [],
                    "geo_ordered_rtc_regions": [],
                    "session_type": "normal",
                    "user_settings": {},
                },
            )
            for guild in guilds:
                session.dispatch(
                    "GUILD_CREATE", guild.to_payload(all_members=session.wants_members)
                )
            self._new_event(
                "gateway.ready",
                meta={"session_id": session.id, "guilds": len(guilds), "shard": session.shard},
            )
        elif op == 6:
            found = self._sessions.get(d.get("session_id", ""))
            if found is None or d.get("token") not in (self.token, f"Bot {self.token}"):
                self._new_event(
                    "gateway.resume",
                    status=400,
                    payload=d,
                    error={"code": 0, "message": "invalid session"},
                )
                conn.send({"op": 9, "d": False})
                return
            old = found.conn
            if old is not None and old is not conn:
                old.session = None
                old.queue.put_nowait(None)
                with contextlib.suppress(Exception):
                    await old.ws.close(code=4000)
            found.conn = conn
            conn.session = found
            self._current = found
            self._shards[found.shard[0]] = found
            seq = int(d.get("seq") or 0)
            replay = [f for f in found.frames if f["s"] > seq]
            for frame in replay:
                conn.send(frame)
            found.dispatch("RESUMED", {})
            self._new_event(
                "gateway.resume", payload=d, meta={"session_id": found.id, "replayed": len(replay)}
            )
        elif op == 8 and session is not None:
            guild = self.guilds.get(int(d["guild_id"]))
            if guild is not None:
                session.dispatch(
                    "GUILD_MEMBERS_CHUNK",
                    {
                        "guild_id": str(guild.id),
                        "members": [m.to_payload() for m in guild.members.values()],
                        "chunk_index": 0,
                        "chunk_count": 1,
                        "not_found": [],
                        "nonce": d.get("nonce"),
                    },
                )
        # presence (3) and voice (4) updates are accepted and ignored
