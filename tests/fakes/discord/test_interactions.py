"""Slash commands, responses, followups, components and modals through the real discord.py."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import aiohttp
import discord
from discord import app_commands

from .conftest import build_bot, png_bytes
from .model import EPHEMERAL, Guild, Upload, wait_until
from .server import FakeDiscord


async def test_slash_command_with_every_option_type(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    seen: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    @app_commands.command(description="All the option types")
    async def everything(
        interaction: discord.Interaction,
        text: str,
        count: int,
        flag: bool,
        who: discord.Member,
        where: discord.TextChannel,
        role: discord.Role,
        mention: discord.Member | discord.Role,
        ratio: float,
        image: discord.Attachment,
    ) -> None:
        await interaction.response.defer(thinking=True)
        data = await image.read()
        seen.set_result(
            {
                "values": (text, count, flag, who.id, where.id, role.id, mention.id, ratio),
                "who_roles": [r.id for r in who.roles],
                "image": (
                    image.filename,
                    image.content_type,
                    image.size,
                    image.width,
                    image.height,
                ),
                "bytes": data,
                "locale": interaction.locale,
                "filesize_limit": interaction.filesize_limit,
                "app_permissions": interaction.app_permissions,
                "user_permissions": interaction.permissions,
                "user": interaction.user.id,
            }
        )
        await interaction.followup.send(f"read {len(data)} bytes")

    await run_discord_bot(build_bot(everything))
    alice = studio.member("alice")
    general, gallery = studio.channel("general"), studio.channel("gallery")
    artists = studio.role("artists")
    picture = png_bytes(8, 6)
    rec = fake_discord.slash(
        "everything",
        {
            "text": "a red fox",
            "count": 3,
            "flag": True,
            "who": alice,
            "where": gallery,
            "role": artists,
            "mention": artists,
            "ratio": 1.5,
            "image": Upload("fox.png", picture),
        },
        guild=studio,
        channel=general,
        member=alice,
        locale="fr",
        attachment_size_limit=25 * 1024 * 1024,
    )
    original = await rec.wait_original(timeout=5)
    got = await asyncio.wait_for(seen, 1)
    assert got["values"] == (
        "a red fox",
        3,
        True,
        alice.id,
        gallery.id,
        artists.id,
        artists.id,
        1.5,
    )
    assert got["who_roles"] == [studio.everyone.id, artists.id]
    assert got["image"] == ("fox.png", "image/png", len(picture), 8, 6)
    assert got["bytes"] == picture
    assert got["locale"] is discord.Locale.french
    assert got["filesize_limit"] == 25 * 1024 * 1024
    assert got["app_permissions"].send_messages and got["app_permissions"].attach_files
    assert got["user_permissions"].view_channel and not got["user_permissions"].administrator
    assert got["user"] == alice.id
    # resolved attachment as Discord sends it
    att = next(iter(rec.data["resolved"]["attachments"].values()))
    assert {"content_type", "size", "url", "proxy_url", "width", "height"} <= set(att)
    # the bot downloaded it from the fake CDN; the first followup replaced the "thinking" message
    assert fake_discord.events_of("cdn.get", ok=True)
    assert rec.response_type == 5 and original.content == f"read {len(picture)} bytes"
    assert rec.followups == []


async def test_subcommand_groups(fake_discord: FakeDiscord, run_discord_bot, studio: Guild) -> None:
    settings = app_commands.Group(name="settings", description="Settings")
    image = app_commands.Group(name="image", description="Image settings", parent=settings)

    @image.command(description="Set the size")
    async def size(interaction: discord.Interaction, pixels: int) -> None:
        await interaction.response.send_message(f"size={pixels}", ephemeral=True)

    @settings.command(description="Show")
    async def show(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("shown")

    await run_discord_bot(build_bot(settings))
    synced = fake_discord.commands[None][("settings", 1)]
    assert [o["name"] for o in synced["options"]] == ["image", "show"]

    rec = fake_discord.slash("settings image size", {"pixels": 1024}, guild=studio)
    msg = await rec.wait_original()
    assert msg.content == "size=1024" and msg.ephemeral and rec.ephemeral
    rec2 = fake_discord.slash("settings show", guild=studio)
    assert (await rec2.wait_original()).content == "shown"


async def test_global_and_guild_command_sync(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    @app_commands.command(description="Global one")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("global pong")

    @app_commands.command(name="ping", description="Guild one")
    async def guild_ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("guild pong")

    def setup(bot: discord.ext.commands.Bot) -> None:
        bot.tree.add_command(guild_ping, guild=discord.Object(studio.id))

    bot = await run_discord_bot(build_bot(ping, setup=setup))
    syncs = fake_discord.events_of("commands.sync", ok=True)
    assert {e.meta["guild_id"] for e in syncs} == {None, studio.id}
    assert fake_discord.commands[None][("ping", 1)]["description"] == "Global one"
    assert fake_discord.commands[studio.id][("ping", 1)]["guild_id"] == str(studio.id)
    # echoed back: discord.py can fetch them
    fetched = await bot.tree.fetch_commands(guild=discord.Object(studio.id))
    assert [c.name for c in fetched] == ["ping"] and fetched[0].guild_id == studio.id
    # ids are stable across re-syncs
    first_id = fake_discord.commands[None][("ping", 1)]["id"]
    await bot.tree.sync()
    assert fake_discord.commands[None][("ping", 1)]["id"] == first_id
    # the guild command shadows the global one (matched by name and guild, not id)
    rec = fake_discord.slash("ping", guild=studio)
    assert (await rec.wait_original()).content == "guild pong"
    other = fake_discord.add_guild("Other")
    await wait_until(lambda: bot.get_guild(other.id) is not None)  # GUILD_CREATE arrived
    rec = fake_discord.slash("ping", guild=other)
    assert (await rec.wait_original()).content == "global pong"


async def test_defer_then_edit_original_with_files(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    pictures = [png_bytes(4, 4, (i * 40, 0, 0)) for i in range(3)]

    @app_commands.command(description="Render")
    async def render(interaction: discord.Interaction, ephemeral: bool = False) -> None:
        await interaction.response.defer(thinking=True, ephemeral=ephemeral)
        await interaction.edit_original_response(content="working…")
        files = [discord.File(io.BytesIO(p), filename=f"r{i}.png") for i, p in enumerate(pictures)]
        await interaction.edit_original_response(content="done", attachments=files)

    await run_discord_bot(build_bot(render))
    rec = fake_discord.slash("render", guild=studio)
    msg = await rec.wait_original(lambda m: m.content == "done")
    assert rec.deferred and rec.response_type == 5
    assert [a.filename for a in msg.attachments] == ["r0.png", "r1.png", "r2.png"]
    assert [a.data for a in msg.attachments] == pictures
    assert msg.attachments[0].width == 4 and msg.attachments[0].content_type == "image/png"
    assert not msg.ephemeral and msg.edit_count == 2
    kinds = [(e.kind, e.status) for e in rec.events]
    assert kinds == [
        ("gateway.interaction", 200),
        ("interaction.callback", 200),
        ("webhook.edit", 200),
        ("webhook.edit", 200),
    ]
    assert rec.events[0].at <= rec.events[1].at <= rec.events[3].at
    assert [f.data for f in rec.events[3].files] == pictures
    async with aiohttp.ClientSession() as http, http.get(msg.attachments[1].url) as resp:
        assert resp.status == 200 and await resp.read() == pictures[1]

    rec = fake_discord.slash("render", {"ephemeral": True}, guild=studio)
    msg = await rec.wait_original(lambda m: m.content == "done")
    assert msg.ephemeral and msg.flags & EPHEMERAL and rec.ephemeral
    assert msg not in fake_discord.channel_messages(studio.channel("general"))


async def test_send_message_followups_edit_and_delete(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    done: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    @app_commands.command(description="Chat")
    async def chat(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            "first", embed=discord.Embed(title="T", description="D")
        )
        f1 = await interaction.followup.send("f1", wait=True)
        f2 = await interaction.followup.send(
            "secret", ephemeral=True, file=discord.File(io.BytesIO(b"abc"), "a.txt"), wait=True
        )
        await f1.edit(content="f1 edited")
        fetched = await interaction.followup.fetch_message(f2.id)
        await f2.delete()
        await interaction.edit_original_response(content="first edited")
        original = await interaction.original_response()
        await interaction.delete_original_response()
        done.set_result(
            {
                "fetched": fetched.content,
                "original": original.content,
                "f2_files": fetched.attachments,
            }
        )

    await run_discord_bot(build_bot(chat))
    rec = fake_discord.slash("chat", guild=studio)
    got = await asyncio.wait_for(done, 5)
    assert rec.response_type == 4
    assert got["fetched"] == "secret" and got["original"] == "first edited"
    assert got["f2_files"][0].filename == "a.txt"
    f1, f2 = rec.followups
    assert f1.content == "f1 edited" and not f1.deleted and f1.edit_count == 1
    assert f2.ephemeral and f2.deleted and f2.attachments[0].data == b"abc"
    original = rec.original
    assert original is not None and original.deleted and original.content == "first edited"
    assert [(e["title"], e["description"]) for e in original.embeds] == [("T", "D")]
    kinds = [e.kind for e in rec.events if e.kind != "gateway.interaction"]
    assert kinds == [
        "interaction.callback",
        "webhook.followup",
        "webhook.followup",
        "webhook.edit",
        "webhook.get",
        "webhook.delete",
        "webhook.edit",
        "webhook.get",
        "webhook.delete",
    ]
    assert [e.meta.get("target") for e in rec.events[-3:]] == ["original"] * 3


async def test_channel_messages_create_get_edit_delete(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    bot = await run_discord_bot(build_bot())
    channel = bot.get_channel(studio.channel("gallery").id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send(
        "hello <@123>",
        file=discord.File(io.BytesIO(b"\x00\x01binary"), "blob.bin"),
        allowed_mentions=discord.AllowedMentions.none(),
    )
    stored = fake_discord.messages[sent.id]
    assert stored.attachments[0].data == b"\x00\x01binary"
    assert stored.allowed_mentions == {"parse": []}
    assert sent.attachments[0].filename == "blob.bin"
    assert await sent.attachments[0].read() == b"\x00\x01binary"

    fetched = await channel.fetch_message(sent.id)
    assert fetched.content == "hello <@123>" and fetched.author.id == bot.user.id
    edited = await sent.edit(content="edited", attachments=[])
    assert edited.content == "edited" and edited.attachments == [] and edited.edited_at is not None
    assert stored.content == "edited" and stored.attachments == []
    await sent.delete()
    assert stored.deleted
    try:
        await channel.fetch_message(sent.id)
    except discord.NotFound as exc:
        assert exc.code == 10008
    else:
        raise AssertionError("deleted message still fetchable")
    assert [e.kind for e in fake_discord.events if e.kind.startswith("message.")] == [
        "message.create",
        "message.get",
        "message.edit",
        "message.delete",
        "message.get",
    ]


class Panel(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Ack", custom_id="panel:ack")
    async def ack(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.defer()  # type 6
        await interaction.edit_original_response(content=f"acked by {interaction.user.name}")

    @discord.ui.button(label="Edit", custom_id="panel:edit")
    async def edit(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.edit_message(content="edited via type 7", view=None)


async def test_component_clicks_type_6_and_7(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    @app_commands.command(description="Panel")
    async def panel(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("panel", view=Panel())

    await run_discord_bot(build_bot(panel))
    rec = fake_discord.slash("panel", guild=studio)
    msg = await rec.wait_original()
    assert msg.custom_ids() == ["panel:ack", "panel:edit"]

    click = fake_discord.click(msg, "panel:ack", member=studio.member("alice"))
    assert click.payload["message"]["id"] == str(msg.id) and click.type == 3
    await click.wait_event(lambda e: e.kind == "webhook.edit")
    assert click.response_type == 6 and click.original is msg
    assert msg.content == "acked by alice"

    click = fake_discord.click(msg, "panel:edit")
    await click.wait_response()
    assert click.response_type == 7
    assert msg.content == "edited via type 7" and msg.components == [] and msg.edit_count == 2


class PromptModal(discord.ui.Modal, title="Describe it"):
    prompt = discord.ui.TextInput(label="Prompt", custom_id="modal:prompt")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"modal said {self.prompt.value}")


async def test_modal_shown_and_submitted(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    @app_commands.command(description="Form")
    async def form(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(PromptModal())

    await run_discord_bot(build_bot(form))
    rec = fake_discord.slash("form", guild=studio)
    await rec.wait_response()
    assert rec.response_type == 9 and rec.modal is not None
    assert rec.modal["title"] == "Describe it" and rec.original is None
    submit = fake_discord.submit_modal(rec, {"modal:prompt": "a blue whale"})
    assert submit.type == 5
    assert (await submit.wait_original()).content == "modal said a blue whale"


async def test_autocomplete_choices(
    fake_discord: FakeDiscord, run_discord_bot, studio: Guild
) -> None:
    async def styles(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=s, value=s)
            for s in ("vivid", "natural", "vintage")
            if s.startswith(current)
        ]

    @app_commands.command(description="Style")
    @app_commands.autocomplete(style=styles)
    async def style(interaction: discord.Interaction, style: str, strength: int) -> None:
        await interaction.response.send_message(style)

    await run_discord_bot(build_bot(style))
    rec = fake_discord.slash("style", {"style": "vi"}, guild=studio, focused="style")
    await rec.wait_response()
    assert rec.type == 4 and rec.response_type == 8
    assert [c["value"] for c in rec.choices] == ["vivid", "vintage"]
