"""Discord's limits, enforced by the fake and seen by discord.py as the right exceptions."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.http import Route

from .conftest import build_bot
from .model import ATTACH_FILES, SEND_MESSAGES, Guild, wait_until
from .server import FakeDiscord

Action = Callable[[discord.Interaction], Awaitable[Any]]


def gated_command(
    name: str, before: Action | None, after: Action
) -> tuple[app_commands.Command, dict[str, Any]]:
    """A command that runs ``before``, waits for the test to open ``gate``, then runs ``after``.

    ``state["error"]`` gets what ``after`` raised (or ``None``)."""
    state: dict[str, Any] = {"gate": asyncio.Event(), "done": asyncio.Event()}

    async def body(interaction: discord.Interaction) -> None:
        if before is not None:
            await before(interaction)
        state["interaction"] = interaction
        await state["gate"].wait()
        try:
            await after(interaction)
            state["error"] = None
        except Exception as exc:
            state["error"] = exc
        state["done"].set()

    return app_commands.Command(name=name, description="gated", callback=body), state


async def run_gated(
    fake: FakeDiscord,
    guild: Guild,
    state: dict[str, Any],
    name: str,
    advance: float = 0.0,
    **kw: Any,
) -> Any:
    """Send /name, wait until the command reached its gate, advance the clock, open the gate."""
    rec = fake.slash(name, guild=guild, **kw)
    await wait_until(lambda: "interaction" in state)
    fake.clock.advance(advance)
    state["gate"].set()
    await asyncio.wait_for(state["done"].wait(), 5)
    return rec


async def test_first_response_after_3_seconds_is_unknown_interaction(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    cmd, state = gated_command("slow", None, lambda i: i.response.send_message("too late"))
    await run_discord_bot(build_bot(cmd))
    rec = await run_gated(fake_discord, studio, state, "slow", advance=3.5)
    err = state["error"]
    assert isinstance(err, discord.NotFound) and err.code == 10062
    assert not rec.responded and rec.original is None
    ev = fake_discord.events_of("interaction.callback")[-1]
    assert ev.status == 404 and ev.code == 10062 and ev.meta["age"] >= 3.5


async def test_deadline_counts_real_elapsed_time(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    fake_discord.interaction_deadline = 0.2  # the clock runs at real speed by default
    cmd, state = gated_command("slow", None, lambda i: i.response.defer())
    await run_discord_bot(build_bot(cmd))
    rec = fake_discord.slash("slow", guild=studio)
    await asyncio.sleep(0.3)  # real time passes (what this test is about), no event awaited
    state["gate"].set()
    await asyncio.wait_for(state["done"].wait(), 5)
    assert isinstance(state["error"], discord.NotFound) and state["error"].code == 10062
    assert not rec.responded
    # in time is fine
    state["gate"].set()
    state["done"].clear()
    rec = fake_discord.slash("slow", guild=studio)
    await asyncio.wait_for(state["done"].wait(), 5)
    assert state["error"] is None and rec.deferred


async def test_token_expires_after_15_minutes(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    async def late(interaction: discord.Interaction) -> None:
        errors = []
        for call in (
            lambda: interaction.edit_original_response(content="late"),
            lambda: interaction.followup.send("late followup"),
        ):
            try:
                await call()
            except discord.HTTPException as exc:
                errors.append(exc)
        raise ExceptionGroup("late", errors) if errors else AssertionError("no error")

    cmd, state = gated_command("long", lambda i: i.response.defer(thinking=True), late)
    await run_discord_bot(build_bot(cmd))
    rec = await run_gated(fake_discord, studio, state, "long", advance=15 * 60 + 1)
    errors = state["error"].exceptions
    assert [(e.status, e.code) for e in errors] == [(401, 50027), (401, 50027)]
    assert state["interaction"].is_expired() is False  # discord.py's own clock is not the fake's
    assert rec.original is not None and rec.original.loading


async def test_token_still_valid_before_15_minutes(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    cmd, state = gated_command(
        "long",
        lambda i: i.response.defer(thinking=True),
        lambda i: i.edit_original_response(content="ok"),
    )
    await run_discord_bot(build_bot(cmd))
    rec = await run_gated(fake_discord, studio, state, "long", advance=14 * 60)
    assert state["error"] is None and rec.original.content == "ok"


async def test_file_over_attachment_size_limit_is_413(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    async def send_big(interaction: discord.Interaction) -> None:
        assert interaction.filesize_limit == 1000
        await interaction.response.send_message(
            file=discord.File(io.BytesIO(b"x" * 1001), "big.bin")
        )

    async def send_ok(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            file=discord.File(io.BytesIO(b"x" * 1000), "ok.bin")
        )

    big, state = gated_command("big", None, send_big)
    ok, state_ok = gated_command("ok", None, send_ok)
    await run_discord_bot(build_bot(big, ok))
    await run_gated(fake_discord, studio, state, "big", attachment_size_limit=1000)
    err = state["error"]
    assert isinstance(err, discord.HTTPException) and (err.status, err.code) == (413, 40005)
    rec = await run_gated(fake_discord, studio, state_ok, "ok", attachment_size_limit=1000)
    assert state_ok["error"] is None and rec.original.attachments[0].size == 1000


async def test_default_limit_is_10_mib_for_channel_messages(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    bot = await run_discord_bot(build_bot())
    channel = bot.get_channel(studio.channel("general").id)
    with pytest.raises(discord.HTTPException) as info:
        await channel.send(
            file=discord.File(io.BytesIO(b"\0" * (10 * 1024 * 1024 + 1)), "huge.bin")
        )
    assert (info.value.status, info.value.code) == (413, 40005)


def _channel(bot: discord.Client, guild: Guild, name: str = "general") -> discord.TextChannel:
    channel = bot.get_channel(guild.channel(name).id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_more_than_10_files_rejected(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    async def eleven(interaction: discord.Interaction) -> None:
        files = [discord.File(io.BytesIO(b"f"), f"{i}.txt") for i in range(11)]
        await interaction.response.send_message(files=files)

    cmd, state = gated_command("eleven", None, eleven)
    bot = await run_discord_bot(build_bot(cmd))
    with pytest.raises(discord.HTTPException) as info:
        await _channel(bot, studio).send(
            files=[discord.File(io.BytesIO(b"f"), f"{i}.txt") for i in range(11)]
        )
    assert (info.value.status, info.value.code) == (400, 50035)
    await run_gated(fake_discord, studio, state, "eleven")
    assert state["error"].code == 50035
    ten = await _channel(bot, studio).send(
        files=[discord.File(io.BytesIO(b"f"), f"{i}.txt") for i in range(10)]
    )
    assert len(ten.attachments) == 10


async def test_content_over_2000_rejected(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    bot = await run_discord_bot(build_bot())
    channel = _channel(bot, studio)
    with pytest.raises(discord.HTTPException) as info:
        await channel.send("x" * 2001)
    assert info.value.code == 50035 and "content" in info.value.text
    msg = await channel.send("x" * 2000)
    with pytest.raises(discord.HTTPException) as info:
        await msg.edit(content="y" * 2001)
    assert info.value.code == 50035
    assert fake_discord.messages[msg.id].content == "x" * 2000


def _embed(**kw: Any) -> discord.Embed:
    embed = discord.Embed(title=kw.get("title"), description=kw.get("description"))
    for i in range(kw.get("fields", 0)):
        embed.add_field(name=kw.get("field_name", f"f{i}"), value=kw.get("field_value", "v"))
    if "footer" in kw:
        embed.set_footer(text=kw["footer"])
    return embed


@pytest.mark.parametrize(
    ("embeds", "where"),
    [
        ([_embed(title="t" * 257)], "title"),
        ([_embed(description="d" * 4097)], "description"),
        ([_embed(fields=26)], "fields"),
        ([_embed(fields=1, field_name="n" * 257)], "name"),
        ([_embed(fields=1, field_value="v" * 1025)], "value"),
        ([_embed(footer="f" * 2049)], "footer"),
        ([_embed(description="d" * 4000), _embed(description="d" * 2001)], "6000"),
    ],
    ids=["title", "description", "fields", "field-name", "field-value", "footer", "total"],
)
async def test_embed_limits(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild, embeds, where
) -> None:
    bot = await run_discord_bot(build_bot())
    with pytest.raises(discord.HTTPException) as info:
        await _channel(bot, studio).send(embeds=embeds)
    assert info.value.code == 50035 and where in info.value.text
    assert not fake_discord.channel_messages(studio.channel("general"))


async def test_embed_limits_at_the_boundary_pass(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    bot = await run_discord_bot(build_bot())
    ok = [
        _embed(
            title="t" * 256,
            description="d" * 1000,
            fields=25,
            field_value="v" * 100,
            footer="f" * 100,
        ),
        *[_embed(title="x") for _ in range(9)],
    ]
    msg = await _channel(bot, studio).send(embeds=ok)
    assert len(fake_discord.messages[msg.id].embeds) == 10


async def test_more_than_10_embeds_rejected_by_the_fake(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    # discord.py refuses 11 embeds itself, so go through its HTTP client directly.
    bot = await run_discord_bot(build_bot())
    route = Route(
        "POST", "/channels/{channel_id}/messages", channel_id=studio.channel("general").id
    )
    with pytest.raises(discord.HTTPException) as info:
        await bot.http.request(route, json={"embeds": [{"title": str(i)} for i in range(11)]})
    assert info.value.code == 50035 and "embeds" in info.value.text


async def test_custom_id_over_100_rejected(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    bot = await run_discord_bot(build_bot())
    view = discord.ui.View()
    view.add_item(discord.ui.Button(label="x", custom_id="c" * 101))
    with pytest.raises(discord.HTTPException) as info:
        await _channel(bot, studio).send("buttons", view=view)
    assert info.value.code == 50035 and "custom_id" in info.value.text
    view = discord.ui.View()
    view.add_item(discord.ui.Button(label="x", custom_id="c" * 100))
    await _channel(bot, studio).send("buttons", view=view)


async def test_edit_rate_limit_429_is_honoured_by_discord_py(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    fake_discord.edit_rate_limit = (2, 0.3)
    bot = await run_discord_bot(build_bot())
    msg = await _channel(bot, studio).send("0")
    started = time.monotonic()
    for i in range(1, 5):
        msg = await msg.edit(content=str(i))
    elapsed = time.monotonic() - started
    assert fake_discord.messages[msg.id].content == "4"
    limited = fake_discord.events_of("message.edit", ok=False)
    assert limited and all(e.status == 429 for e in limited)
    ev = limited[0]
    assert ev.error["global"] is False and 0 < ev.error["retry_after"] <= 0.3
    assert {
        "Retry-After",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset-After",
    } <= set(ev.headers)
    assert len(fake_discord.events_of("message.edit", ok=True)) == 4
    assert elapsed >= 0.25  # discord.py slept for retry_after before retrying


async def test_edit_rate_limit_applies_to_interaction_edits(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    fake_discord.edit_rate_limit = (1, 0.2)

    async def progress(interaction: discord.Interaction) -> None:
        for i in range(3):
            await interaction.edit_original_response(content=f"step {i}")

    cmd, state = gated_command("progress", lambda i: i.response.defer(thinking=True), progress)
    await run_discord_bot(build_bot(cmd))
    rec = await run_gated(fake_discord, studio, state, "progress")
    assert state["error"] is None and rec.original.content == "step 2"
    assert any(e.status == 429 for e in rec.events)


async def test_missing_send_permission_is_50013(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    general, gallery = studio.channel("general"), studio.channel("gallery")
    general.set_permissions(studio.bot_role, deny=SEND_MESSAGES)
    gallery.set_permissions(studio.bot_role, deny=ATTACH_FILES)
    bot = await run_discord_bot(build_bot())
    channel = _channel(bot, studio, "general")
    assert not channel.permissions_for(
        channel.guild.me
    ).send_messages  # discord.py sees the overwrite
    with pytest.raises(discord.Forbidden) as info:
        await channel.send("hi")
    assert info.value.code == 50013
    gallery_ch = _channel(bot, studio, "gallery")
    await gallery_ch.send("text is fine")
    with pytest.raises(discord.Forbidden) as info:
        await gallery_ch.send(file=discord.File(io.BytesIO(b"x"), "x.txt"))
    assert info.value.code == 50013
    general.set_permissions(studio.bot_role, allow=SEND_MESSAGES)
    await wait_until(lambda: channel.permissions_for(channel.guild.me).send_messages)
    await channel.send("allowed again")


async def test_app_permissions_reflect_channel_overwrites(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    studio.channel("gallery").set_permissions(studio.bot_role, deny=ATTACH_FILES)
    seen: dict[str, discord.Permissions] = {}

    @app_commands.command(description="perms")
    async def perms(interaction: discord.Interaction) -> None:
        seen[interaction.channel.name] = interaction.app_permissions
        await interaction.response.send_message("ok", ephemeral=True)

    await run_discord_bot(build_bot(perms))
    for name in ("general", "gallery"):
        await fake_discord.slash(
            "perms", guild=studio, channel=studio.channel(name)
        ).wait_original()
    assert seen["general"].attach_files and not seen["gallery"].attach_files


async def test_edits_of_messages_older_than_an_hour_hit_30046(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    fake_discord.old_message_edit_limit = 2
    bot = await run_discord_bot(build_bot())
    msg = await _channel(bot, studio).send("old")
    for i in range(3):
        msg = await msg.edit(content=f"young {i}")  # young messages: unlimited
    fake_discord.clock.advance(3601)
    msg = await msg.edit(content="a")
    msg = await msg.edit(content="b")
    with pytest.raises(discord.HTTPException) as info:
        await msg.edit(content="c")
    assert info.value.code == 30046
    assert fake_discord.messages[msg.id].content == "b"


async def test_allowed_mentions_recorded_on_every_message(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    @app_commands.command(description="mention")
    async def mention(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            "<@1>", allowed_mentions=discord.AllowedMentions(users=False)
        )
        await interaction.followup.send("<@2>")

    bot_default = discord.AllowedMentions(everyone=False, roles=False, users=True)
    bot = await run_discord_bot(build_bot(mention))
    bot.allowed_mentions = bot_default
    rec = fake_discord.slash("mention", guild=studio)
    await rec.wait_event(lambda e: e.kind == "webhook.followup")
    merged = bot_default.merge(discord.AllowedMentions(users=False)).to_dict()
    assert rec.original.allowed_mentions == merged
    assert "users" not in merged["parse"]
    assert rec.followups[0].allowed_mentions == bot_default.to_dict()
    msg = await _channel(bot, studio).send("plain")
    assert fake_discord.messages[msg.id].allowed_mentions == bot_default.to_dict()
    none = await _channel(bot, studio).send("none", allowed_mentions=discord.AllowedMentions.none())
    assert fake_discord.messages[none.id].allowed_mentions == {"parse": []}


async def test_second_callback_is_already_acknowledged(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    # discord.py refuses a second response itself, so post the callback directly.
    @app_commands.command(description="once")
    async def once(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("once")

    await run_discord_bot(build_bot(once))
    rec = fake_discord.slash("once", guild=studio)
    await rec.wait_original()
    url = f"{fake_discord.api_base}/interactions/{rec.id}/{rec.token}/callback"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"type": 4, "data": {"content": "twice"}}) as resp:
            assert resp.status == 400 and (await resp.json())["code"] == 40060
        async with http.post(url.replace(rec.token, "wrong"), json={"type": 5}) as resp:
            assert resp.status == 404 and (await resp.json())["code"] == 10062
    assert rec.original.content == "once"
