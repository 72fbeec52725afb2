"""A deployment moved from SQLite to PostgreSQL with migrate-db: the bot starts on it and the
buttons of results posted before the move still work."""

from __future__ import annotations

import asyncio
import contextlib

from bot.__main__ import main as cli_main
from tests.app.helpers import field
from tests.app.plugin import Atelier, start_atelier
from tests.storage.backends import fresh_postgres_url, postgres_url


async def test_old_buttons_work_after_moving_to_postgres(atelier: Atelier) -> None:
    postgres_url()  # skip (fail under CI) before anything runs
    rec = atelier.slash("imagine", {"prompt": "a red fox", "count": 2})
    msg = await atelier.result(rec)
    await atelier.wait_job(1, "delivered")
    await atelier.runner.stop(atelier.bot)
    await atelier.stack.aclose()  # the SQLite database is closed: the move happens offline

    async with fresh_postgres_url() as url:
        argv = ["migrate-db", "--from", atelier.settings.database_url, "--to", url]
        assert await asyncio.to_thread(cli_main, argv) == 0
        atelier.settings = atelier.settings.model_copy(update={"database_url": url})
        atelier.stack = contextlib.AsyncExitStack()
        try:
            atelier.bot = await start_atelier(atelier.runner, atelier.settings, atelier.stack)
            old = await atelier.job(1)
            assert old.state.value == "delivered" and old.member_id == atelier.studio.alice.id

            click = atelier.discord.click(msg, "atelier:vary:1:2", member=atelier.studio.bob)  # type: ignore[arg-type]
            second = await atelier.result(click)
            assert field(second, "Requested by") == f"<@{atelier.studio.bob.id}>"
            body = atelier.toapis.requests_to("submit")[1].json
            assert body["prompt"] == "a red fox"  # the pre-move job's request, read from PG
            new = await atelier.wait_job(2, "delivered")  # the next id after the copied one
            assert new.member_id == atelier.studio.bob.id
        finally:
            await atelier.stack.aclose()  # before the schema is dropped
