"""Assertions shared by the Atelier end-to-end tests."""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

from PIL import Image

from tests.fakes.discord import FakeDiscord, InteractionRecord, Message


async def private_answer(
    fake: FakeDiscord, rec: InteractionRecord, timeout: float = 10.0
) -> Message:
    """Wait for the ephemeral answer to ``rec``: an ephemeral response or an ephemeral followup."""

    def found() -> Message | None:
        if rec.response_type == 4 and rec.original is not None and rec.original.ephemeral:
            return rec.original
        for msg in rec.followups:
            if msg.ephemeral:
                return msg
        return None

    if found() is None:
        await fake.wait_for(
            lambda ev: ev.interaction is rec and found() is not None, timeout=timeout
        )
    msg = found()
    assert msg is not None
    return msg


def text_of(msg: Message) -> str:
    """Content plus embed text, for asserting on what a member reads."""
    parts = [msg.content]
    for embed in msg.embeds:
        parts += [str(embed.get("title", "")), str(embed.get("description", ""))]
        for f in embed.get("fields", []):
            parts += [str(f.get("name", "")), str(f.get("value", ""))]
        parts.append(str(embed.get("footer", {}).get("text", "")))
    return "\n".join(p for p in parts if p)


def field(msg: Message, name: str) -> str | None:
    for embed in msg.embeds:
        for f in embed.get("fields", []):
            if f.get("name") == name:
                return str(f.get("value"))
    return None


def mentions_nothing(allowed: dict[str, Any] | None) -> bool:
    """True if ``allowed_mentions`` lets nothing ping (no parse entries, no users, no roles)."""
    return (
        allowed is not None
        and allowed.get("parse") == []
        and not allowed.get("users")
        and not allowed.get("roles")
    )


def alpha_of(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return img.convert("RGBA").getchannel("A")


def result_messages(fake: FakeDiscord) -> list[Message]:
    """Every live message that carries result images (edited responses or channel posts)."""
    return [
        m for m in fake.messages.values() if m.attachments and not m.deleted and not m.ephemeral
    ]


#: Charge states after which nothing more happens to a job's credits.
SETTLED_CHARGES = frozenset({"none", "committed", "released"})


async def wait_settled(atelier: Any, job_id: int, timeout: float = 20.0) -> Any:
    """Wait until the job has ended AND its charge decision was confirmed by the quota hook.

    The engine writes the final state together with the decision (``release_pending`` /
    ``commit_pending``) and only then calls the hook, so a test that reads the charge as soon as
    the state is final races the hook: wait for both instead.
    """
    deadline = time.monotonic() + timeout
    while True:
        job = await atelier.bot.engine.get(job_id)
        if job is not None and job.is_final and job.charge_state.value in SETTLED_CHARGES:
            return job
        if time.monotonic() > deadline:
            state = job and (job.state.value, job.charge_state.value)
            raise AssertionError(f"job {job_id} did not settle in {timeout}s: {state}")
        await asyncio.sleep(0.02)
