"""The composition root: everything it opens is closed, also when opening fails half-way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest

import bot.app.services
from bot.app.services import build_services
from tests.app.plugin import atelier_env, atelier_settings
from tests.fakes.discord import FakeDiscord
from tests.fakes.toapis import FakeToAPIs


@pytest.fixture
def restores_discord_target(run_discord_bot: object) -> None:
    """build_services points discord.py at the fake; the runner fixture undoes it afterwards."""


@pytest.mark.usefixtures("restores_discord_target")
async def test_services_are_wired_and_all_closed_on_leaving(
    fake_discord: FakeDiscord, atelier_toapis: FakeToAPIs, tmp_path: Path
) -> None:
    settings = atelier_settings(atelier_env(fake_discord, atelier_toapis, tmp_path))
    async with build_services(settings) as services:
        # The delivery's client is logged in over REST only: no gateway session was opened.
        assert services.rest.user is not None and services.rest.application_id is not None
        assert not services.rest.is_ready()
        assert services.generation is not None and services.engine.delivery is not None
        assert await services.db.jobs.list_active() == []
    assert services.session.closed
    assert services.rest.is_closed()
    with pytest.raises(Exception):  # noqa: B017 - the closed database refuses any query
        await services.db.jobs.list_active()
    assert not [e for e in fake_discord.events if e.kind == "gateway.identify"]


@pytest.mark.usefixtures("restores_discord_target")
async def test_a_refused_login_closes_what_was_already_open(
    fake_discord: FakeDiscord,
    atelier_toapis: FakeToAPIs,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = atelier_env(fake_discord, atelier_toapis, tmp_path)
    env["DISCORD_TOKEN"] = "not-the-bot-token"
    settings = atelier_settings(env)
    sessions: list[aiohttp.ClientSession] = []
    real_session = aiohttp.ClientSession

    def recording_session(*args: Any, **kwargs: Any) -> aiohttp.ClientSession:
        session = real_session(*args, **kwargs)
        sessions.append(session)
        return session

    monkeypatch.setattr(bot.app.services.aiohttp, "ClientSession", recording_session)
    with pytest.raises(discord.LoginFailure):
        async with build_services(settings):
            raise AssertionError("services built with a wrong token")
    # Ours and the REST client's own (discord.py opens one to log in): all closed.
    assert len(sessions) == 2 and all(s.closed for s in sessions)
