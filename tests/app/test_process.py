"""The real bot as a process: killed mid-job and restarted, stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from tests.app.helpers import result_messages
from tests.app.plugin import AtelierProcess


def _db(proc: AtelierProcess) -> Path:
    return Path(proc.env["DATABASE_URL"].removeprefix("sqlite:///"))


def _states(proc: AtelierProcess) -> list[str]:
    with sqlite3.connect(_db(proc)) as conn:
        return [row[0] for row in conn.execute("SELECT state FROM jobs ORDER BY id")]


async def _wait_state(proc: AtelierProcess, *states: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not (_states(proc) and _states(proc)[-1] in states):
        assert time.monotonic() < deadline, _states(proc)
        await asyncio.sleep(0.02)


async def test_killed_mid_job_and_restarted_delivers_exactly_once(
    atelier_process: AtelierProcess,
) -> None:
    fake, toapis, studio = atelier_process.discord, atelier_process.toapis, atelier_process.studio
    toapis.script(queue_s=0.5, run_s=2.5)
    rec = fake.slash(
        "imagine",
        {"prompt": "survive a crash"},
        guild=studio.guild,
        channel=studio.art,
        member=studio.alice,
    )
    await rec.wait_response()
    await _wait_state(atelier_process, "submitted", "running")
    assert len(toapis.requests_to("submit")) == 1
    await atelier_process.proc.kill()
    assert _states(atelier_process)[0] in ("submitted", "running")
    await atelier_process.proc.start()
    msg = await rec.wait_original(lambda m: bool(m.attachments), timeout=30)
    assert len(toapis.requests_to("submit")) == 1  # resumed by polling, never resubmitted
    posted = [
        e
        for e in fake.events
        if e.kind in ("webhook.edit", "message.create", "webhook.followup") and e.ok and e.files
    ]
    assert len(posted) == 1
    assert posted[0].kind == "webhook.edit"  # the token was still valid: the original was edited
    assert result_messages(fake) == [msg]
    assert "atelier:reroll:1" in msg.custom_ids()

    # Buttons on a result from before a restart work in the new process.
    await atelier_process.proc.restart(kill=True)
    click = fake.click(msg, "atelier:vary:1:1", member=studio.bob)
    second = await click.wait_original(lambda m: bool(m.attachments), timeout=30)
    assert second.id != msg.id
    assert len(toapis.requests_to("submit")) == 2
    assert toapis.requests_to("upload")[0].files["file"].data == msg.attachments[0].data


async def test_sigterm_stops_cleanly_and_the_job_resumes(atelier_process: AtelierProcess) -> None:
    fake, toapis, studio = atelier_process.discord, atelier_process.toapis, atelier_process.studio
    toapis.script(queue_s=0.5, run_s=2.0)
    rec = fake.slash(
        "imagine",
        {"prompt": "graceful"},
        guild=studio.guild,
        channel=studio.art,
        member=studio.alice,
    )
    await fake.wait_for(
        lambda ev: ev.interaction is rec and ev.kind == "webhook.edit" and ev.ok, timeout=15
    )
    # SIGTERM now: the job may still be sending its request; it gets a moment to be answered.
    code = await atelier_process.proc.terminate()
    assert code == 0, atelier_process.proc.output()
    output = atelier_process.proc.output()
    assert "Atelier stopped" in output
    assert fake.token not in output and toapis.api_key not in output and rec.token not in output
    await atelier_process.proc.start()
    await rec.wait_original(lambda m: bool(m.attachments), timeout=30)
    assert len(toapis.requests_to("submit")) == 1
    # The command tree did not change: no second global sync.
    syncs = [e for e in fake.events if e.kind == "commands.sync" and e.meta.get("guild_id") is None]
    assert len(syncs) == 1
