"""Modals with labels, selects and text displays, through the real discord.py."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import pytest
from discord import app_commands

from .conftest import build_bot
from .model import Guild
from .server import FakeDiscord


class Brief(discord.ui.Modal, title="Brief"):
    """A modal in today's layout: a text display, a select and a text input, both labelled."""

    note = discord.ui.TextDisplay("Costs 2 credits")

    def __init__(self, seen: asyncio.Future[dict[str, Any]]) -> None:
        super().__init__()
        self.seen = seen
        self.areas: discord.ui.Select[Any] = discord.ui.Select(
            custom_id="brief:areas",
            min_values=1,
            max_values=3,
            options=[
                discord.SelectOption(label="Top", value="top"),
                discord.SelectOption(label="Middle", value="middle", default=True),
                discord.SelectOption(label="Bottom", value="bottom"),
            ],
        )
        self.prompt: discord.ui.TextInput[Any] = discord.ui.TextInput(
            custom_id="brief:prompt", default="a fox", max_length=50
        )
        self.add_item(discord.ui.Label(text="Areas", component=self.areas))
        self.add_item(
            discord.ui.Label(text="Prompt", description="What to paint", component=self.prompt)
        )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        message = interaction.message
        self.seen.set_result(
            {
                "areas": list(self.areas.values),
                "prompt": self.prompt.value,
                "message": message.id if message else None,
            }
        )
        await interaction.response.send_message("thanks", ephemeral=True)


async def _shown(
    fake: FakeDiscord, run_discord_bot: Any, studio: Guild
) -> tuple[Any, asyncio.Future[dict[str, Any]]]:
    seen: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    @app_commands.command(description="Brief")
    async def brief(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(Brief(seen))

    await run_discord_bot(build_bot(brief))
    rec = fake.slash("brief", guild=studio)
    await rec.wait_response()
    return rec, seen


async def test_a_modal_with_labels_a_select_and_a_text_display(
    fake_discord: FakeDiscord, run_discord_bot: Any, studio: Guild
) -> None:
    rec, seen = await _shown(fake_discord, run_discord_bot, studio)
    assert rec.response_type == 9 and rec.modal is not None
    kinds = [c["type"] for c in rec.modal["components"]]
    assert kinds == [10, 18, 18]
    assert rec.modal["components"][1]["component"]["type"] == 3
    sub = fake_discord.submit_modal(
        rec, {"brief:areas": ["top", "bottom"], "brief:prompt": "an owl"}
    )
    assert sub.type == 5
    got = await asyncio.wait_for(seen, 5)
    assert got == {"areas": ["top", "bottom"], "prompt": "an owl", "message": None}
    assert [c["type"] for c in sub.data["components"]] == [10, 18, 18]


async def test_what_a_member_leaves_alone_keeps_its_default(
    fake_discord: FakeDiscord, run_discord_bot: Any, studio: Guild
) -> None:
    rec, seen = await _shown(fake_discord, run_discord_bot, studio)
    fake_discord.submit_modal(rec, {})
    got = await asyncio.wait_for(seen, 5)
    assert got["areas"] == ["middle"] and got["prompt"] == "a fox"


@pytest.mark.parametrize(
    "values",
    [
        {"brief:areas": []},  # one at least
        {"brief:areas": ["top", "middle", "bottom", "top"]},  # four, and twice
        {"brief:areas": ["left"]},  # no such option
        {"brief:prompt": "x" * 51},  # over max_length
        {"brief:prompt": ""},  # required
        {"brief:other": "x"},  # no such component
        {"brief:areas": "top"},  # a select takes a list
    ],
)
async def test_a_submission_the_client_would_not_send_is_refused(
    fake_discord: FakeDiscord, run_discord_bot: Any, studio: Guild, values: dict[str, Any]
) -> None:
    rec, _ = await _shown(fake_discord, run_discord_bot, studio)
    with pytest.raises(ValueError):
        fake_discord.submit_modal(rec, values)


async def test_a_modal_opened_from_a_button_submits_with_its_message(
    fake_discord: FakeDiscord, run_discord_bot: Any, studio: Guild
) -> None:
    seen: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    class Open(discord.ui.View):
        @discord.ui.button(label="Open", custom_id="brief:open")
        async def open(self, interaction: discord.Interaction, _: discord.ui.Button[Any]) -> None:
            await interaction.response.send_modal(Brief(seen))

    @app_commands.command(description="Panel")
    async def panel(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("panel", view=Open())

    await run_discord_bot(build_bot(panel))
    rec = fake_discord.slash("panel", guild=studio)
    msg = await rec.wait_original()
    click = fake_discord.click(msg, "brief:open")
    await click.wait_response()
    assert click.response_type == 9
    fake_discord.submit_modal(click, {"brief:prompt": "a heron"})
    got = await asyncio.wait_for(seen, 5)
    assert got["message"] == msg.id and got["prompt"] == "a heron"


@pytest.mark.parametrize(
    ("build", "path"),
    [
        (
            lambda m: m.add_item(discord.ui.Label(text="L" * 46, component=discord.ui.TextInput())),
            "label",
        ),
        (
            lambda m: m.add_item(
                discord.ui.Label(
                    text="Pick",
                    component=discord.ui.Select(
                        options=[discord.SelectOption(label=str(i)) for i in range(3)],
                        max_values=4,
                    ),
                )
            ),
            "max_values",
        ),
    ],
)
async def test_a_modal_discord_would_refuse_fails_with_50035(
    fake_discord: FakeDiscord, run_discord_bot: Any, studio: Guild, build: Any, path: str
) -> None:
    failed: asyncio.Future[discord.HTTPException] = asyncio.get_running_loop().create_future()

    @app_commands.command(description="Bad")
    async def bad(interaction: discord.Interaction) -> None:
        modal = discord.ui.Modal(title="Bad")
        build(modal)
        try:
            await interaction.response.send_modal(modal)
        except discord.HTTPException as exc:
            failed.set_result(exc)

    await run_discord_bot(build_bot(bad))
    fake_discord.slash("bad", guild=studio)
    exc = await asyncio.wait_for(failed, 5)
    assert exc.code == 50035 and path in str(exc)
