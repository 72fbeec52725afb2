"""The model catalog as data, over the loopback Discord and the fake ToAPIs: a model added in
MODELS_FILE is offered and validated with no code change; a retired one leaves the choices and
servers that chose it move to its successor, recorded once in the audit log."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest_asyncio

from bot.clock import ManualClock
from bot.toapis.catalog import GPT_4O_IMAGE, GPT_IMAGE_15
from tests.app.helpers import mentions_nothing, private_answer, text_of
from tests.app.plugin import FAST, Atelier, Studio, atelier_env, atelier_settings, start_atelier
from tests.catalogs import (
    NEW_MODEL,
    retiring,
    shipped_catalog_after,
    with_new_model,
    write_catalog,
)
from tests.fakes.discord import FakeDiscord, Member
from tests.fakes.discord.plugin import BotRunner
from tests.fakes.toapis import FakeToAPIs

__all__ = ["shipped_catalog_after"]

MANAGE_GUILD = 1 << 5
StartAtelier = Callable[[str | None], Awaitable[Atelier]]


@pytest_asyncio.fixture
async def atelier_toapis() -> AsyncIterator[FakeToAPIs]:
    """The fake ToAPIs; it also takes the new model (with gpt-4o-image's rules)."""
    fake = FakeToAPIs(
        clock=ManualClock(time.time(), speed=1.0),
        default_script=FAST,
        model_aliases={NEW_MODEL: GPT_4O_IMAGE},
    )
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


@pytest_asyncio.fixture
async def start_with_catalog(
    fake_discord: FakeDiscord,
    atelier_toapis: FakeToAPIs,
    atelier_studio: Studio,
    run_discord_bot: BotRunner,
    tmp_path: Path,
    shipped_catalog_after: None,
) -> AsyncIterator[StartAtelier]:
    """Start the real bot with a MODELS_FILE of the given text (None: the shipped catalog)."""
    stacks: list[contextlib.AsyncExitStack] = []
    started: list[Atelier] = []

    async def start(catalog_text: str | None) -> Atelier:
        env = atelier_env(fake_discord, atelier_toapis, tmp_path)
        if catalog_text is not None:
            env["MODELS_FILE"] = str(write_catalog(tmp_path, catalog_text))
        settings = atelier_settings(env)
        stack = contextlib.AsyncExitStack()
        stacks.append(stack)
        bot = await start_atelier(run_discord_bot, settings, stack)
        atelier = Atelier(
            fake_discord, atelier_toapis, atelier_studio, settings, run_discord_bot, bot, stack
        )
        started.append(atelier)
        return atelier

    try:
        yield start
    finally:
        for atelier in reversed(started):
            await atelier.stack.aclose()


def _manager(atelier: Atelier) -> Member:
    guild = atelier.studio.guild
    return guild.add_member("carol", roles=[guild.add_role("managers", permissions=MANAGE_GUILD)])


def _option(atelier: Atelier, path: str, option: str) -> dict[str, Any]:
    """An option of a synced command (``"settings defaults"``), as Discord received it."""
    names = path.split()
    command = next(c for (n, _), c in atelier.discord.commands[None].items() if n == names[0])
    for sub in names[1:]:
        command = next(o for o in command["options"] if o["name"] == sub)
    return next(o for o in command["options"] if o["name"] == option)


def _choices(atelier: Atelier, path: str, option: str) -> dict[str, dict[str, Any]]:
    return {c["value"]: c for c in _option(atelier, path, option)["choices"]}


async def test_a_model_added_in_models_file_is_offered_validated_and_sent(
    start_with_catalog: StartAtelier,
) -> None:
    atelier = await start_with_catalog(with_new_model())
    offered = _choices(atelier, "imagine", "model")
    assert list(offered) == [GPT_IMAGE_15, GPT_4O_IMAGE, NEW_MODEL]
    new = offered[NEW_MODEL]
    assert new["name"] == f"Sketch One ({NEW_MODEL})"
    assert new["name_localizations"]["zh-CN"] == f"素描一号 ({NEW_MODEL})"
    assert NEW_MODEL in _choices(atelier, "edit", "model")
    assert NEW_MODEL in _choices(atelier, "settings defaults", "model")

    rec = atelier.slash("imagine", {"prompt": "a heron", "model": NEW_MODEL, "size": "3:2"})
    await atelier.result(rec)
    (submit,) = atelier.toapis.requests_to("submit")
    assert submit.json["model"] == NEW_MODEL and submit.json["size"] == "3:2"
    # gpt-4o-image's rules apply to the new model at the fake: nothing it does not take is sent.
    assert "resolution" not in submit.json and "quality" not in submit.json

    # A size another model has but the new one does not: refused, nothing sent.
    refused = atelier.slash("imagine", {"prompt": "a heron", "model": NEW_MODEL, "size": "16:9"})
    answer = await private_answer(atelier.discord, refused)
    assert "16:9" in text_of(answer) and "1:1 or 3:2" in text_of(answer)
    assert mentions_nothing(answer.allowed_mentions)
    too_many = atelier.slash("imagine", {"prompt": "a heron", "model": NEW_MODEL, "count": 4})
    assert "1 or 2" in text_of(await private_answer(atelier.discord, too_many))
    assert len(atelier.toapis.requests_to("submit")) == 1

    # A server may make it its default; /imagine without a model then uses it.
    manager = _manager(atelier)
    chosen = atelier.slash("settings defaults", {"model": NEW_MODEL}, member=manager)
    assert NEW_MODEL in text_of(await private_answer(atelier.discord, chosen))
    await atelier.result(atelier.slash("imagine", {"prompt": "a crane"}))
    assert atelier.toapis.requests_to("submit")[-1].json["model"] == NEW_MODEL


async def test_a_retired_default_moves_to_its_successor_audited_once(
    start_with_catalog: StartAtelier,
) -> None:
    atelier = await start_with_catalog(None)
    manager = _manager(atelier)
    chosen = atelier.slash("settings defaults", {"model": GPT_4O_IMAGE}, member=manager)
    await private_answer(atelier.discord, chosen)
    await atelier.result(atelier.slash("imagine", {"prompt": "a fox"}))
    assert atelier.toapis.requests_to("submit")[-1].json["model"] == GPT_4O_IMAGE

    # The operator retires gpt-4o-image in MODELS_FILE and restarts the bot.
    await atelier.stack.aclose()
    atelier = await start_with_catalog(retiring(GPT_4O_IMAGE, GPT_IMAGE_15))
    assert list(_choices(atelier, "imagine", "model")) == [GPT_IMAGE_15]
    assert list(_choices(atelier, "settings defaults", "model")) == [GPT_IMAGE_15, "default"]

    for prompt in ("a fox", "a hare"):  # two reads of the defaults
        await atelier.result(atelier.slash("imagine", {"prompt": prompt}))
        assert atelier.toapis.requests_to("submit")[-1].json["model"] == GPT_IMAGE_15

    entries = await atelier.bot.moderation.audit.recent(atelier.studio.guild.id)
    by_atelier = [e for e in entries if e.actor_id == 0]
    assert [(e.before, e.after) for e in by_atelier] == [(GPT_4O_IMAGE, GPT_IMAGE_15)]
    audit = atelier.slash("settings audit", member=manager)
    text = text_of(await private_answer(atelier.discord, audit))
    assert "Atelier (retired model)" in text and f"{GPT_4O_IMAGE} → {GPT_IMAGE_15}" in text
    zh = atelier.slash("settings audit", member=manager, locale="zh-CN")
    assert "Atelier（模型已停用）" in text_of(await private_answer(atelier.discord, zh))
