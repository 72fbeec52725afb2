"""Delivery's pieces without a Discord: the error table, nonces, own-message markers, pacing,
and what ``DiscordDelivery`` remembers per job (nothing, once the job ended)."""

from __future__ import annotations

import datetime
import io
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import discord
import pytest
from PIL import Image

from bot.app.delivery import ENDED_MEMORY, DiscordDelivery
from bot.app.delivery.throttle import MESSAGE_EDIT_AGE, ProgressThrottle
from bot.app.delivery.transport import (
    DiscordRefused,
    Meaning,
    carries_failure_of,
    carries_result_of,
    meaning,
    nonce_for,
)
from bot.clock import ManualClock
from bot.generation.store import JobDiscordInfo
from bot.jobs.hooks import DeliveryFailed
from bot.jobs.records import Job, decode_request
from bot.jobs.states import ChargeState, JobState


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (401, 50027, Meaning.TOKEN_DEAD),  # Invalid Webhook Token
        (404, 10015, Meaning.TOKEN_DEAD),  # Unknown Webhook
        (401, 0, Meaning.TOKEN_DEAD),
        (404, 10008, Meaning.MESSAGE_GONE),  # Unknown Message
        (400, 30046, Meaning.STOP_EDITS),  # old message, no more edits
        (429, 0, Meaning.RETRY_LATER),
        (500, 0, Meaning.RETRY_LATER),
        (503, 0, Meaning.RETRY_LATER),
        (404, 10003, Meaning.PERMANENT),  # Unknown Channel
        (403, 50001, Meaning.PERMANENT),  # Missing Access
        (403, 50013, Meaning.PERMANENT),  # Missing Permissions
        (413, 40005, Meaning.PERMANENT),  # too large
        (400, 50035, Meaning.PERMANENT),  # Invalid Form Body
        (400, 0, Meaning.PERMANENT),
    ],
)
def test_one_table_says_what_each_discord_answer_means(
    status: int, code: int, expected: Meaning
) -> None:
    assert meaning(status, code) is expected


def test_nonces_are_deterministic_distinct_and_fit_discord() -> None:
    assert nonce_for("r", 42) == nonce_for("r", 42)
    assert len({nonce_for(p, 42) for p in "rfg"}) == 3
    assert len(nonce_for("g", 10**15 - 1)) <= 25
    with pytest.raises(ValueError):
        nonce_for("g", 10**16)


@dataclass
class _Attachment:
    filename: str


@dataclass
class _Button:
    custom_id: str


@dataclass
class _Row:
    children: list[_Button]


@dataclass
class _Message:
    attachments: list[_Attachment] = field(default_factory=list)
    components: list[_Row] = field(default_factory=list)


def test_own_messages_are_recognised_by_their_files_and_buttons() -> None:
    result = _Message([_Attachment("atelier-12-1.png")], [_Row([_Button("atelier:reroll:12")])])
    failure = _Message([], [_Row([_Button("atelier:reroll:12")])])
    other_job = _Message(
        [_Attachment("atelier-123-1.png")], [_Row([_Button("atelier:reroll:123")])]
    )
    is_result, is_failure = carries_result_of(12), carries_failure_of(12)
    assert is_result(result) and not is_result(failure) and not is_result(other_job)  # type: ignore[arg-type]
    assert is_failure(failure) and not is_failure(result) and not is_failure(other_job)  # type: ignore[arg-type]


def test_progress_pacing_per_job() -> None:
    mono = [100.0]
    wall = [time.time()]
    throttle = ProgressThrottle(3.0, monotonic=lambda: mono[0], discord_now=lambda: wall[0])
    assert throttle.delay(1) == 0
    throttle.sent(1)
    assert throttle.delay(1) == pytest.approx(3.0) and throttle.delay(2) == 0
    mono[0] += 2.0
    assert throttle.delay(1) == pytest.approx(1.0)
    mono[0] += 1.0
    assert throttle.delay(1) == 0
    young = discord.utils.time_snowflake(datetime.datetime.fromtimestamp(wall[0], datetime.UTC))
    assert not throttle.too_old(young)
    wall[0] += MESSAGE_EDIT_AGE - 90
    assert not throttle.too_old(young)
    wall[0] += 40  # within a minute of the hour: no more progress edits
    assert throttle.too_old(young)
    throttle.silence(3)
    assert throttle.silenced(3) and len(throttle) == 2
    throttle.forget(1)
    throttle.forget(3)
    assert len(throttle) == 0 and not throttle.silenced(3)


# -- DiscordDelivery over a recording transport ------------------------------------------------


class _Transport:
    """Records every call; answers as scripted (``refuse[kind]`` -> Meaning)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.refuse: dict[str, Meaning] = {}
        self.bot_user_id = 1

    def _call(self, kind: str, **fields: Any) -> None:
        self.calls.append((kind, fields))
        if kind in self.refuse:
            raise DiscordRefused(kind, self.refuse[kind], status=400, code=1)

    def upload_limit(self, channel_id: int) -> int:
        return 10 * 1024 * 1024

    async def edit_by_token(self, token: str, message_id: int, **fields: Any) -> None:
        self._call("edit_by_token", **fields)

    async def edit_by_bot(self, channel_id: int, message_id: int, **fields: Any) -> None:
        self._call("edit_by_bot", **fields)

    async def post(
        self, channel_id: int, *, guild_id: int | None, nonce: str, **fields: Any
    ) -> Any:
        self._call("post", nonce=nonce, **fields)
        return _Posted(discord.utils.time_snowflake(datetime.datetime.now(datetime.UTC)) + 1)

    async def find_own(self, channel_id: int, matches: Any, *, after: int | None) -> Any:
        self._call("find_own")
        return None


@dataclass
class _Posted:
    id: int


class _Extras:
    async def get(self, job_id: int) -> JobDiscordInfo | None:
        return None

    async def put(self, info: JobDiscordInfo, *, now: float) -> None:
        return None


class _Queue:
    async def queue_position(self, job_id: int, states: object) -> tuple[int, int] | None:
        return (1, 1)


class _Durations:
    def prior(self, profile: str) -> tuple[float, float]:
        return (3.0, 0.5)


def _job(job_id: int, **changes: Any) -> Job:
    now = time.time()
    job = Job(
        id=job_id,
        state=JobState.RUNNING,
        charge_state=ChargeState.RESERVED,
        member_id=5,
        request=decode_request('{"model": "gpt-image-1.5-official", "prompt": "p"}'),
        created_at=now,
        updated_at=now,
        guild_id=2,
        channel_id=3,
        interaction_token="token",
        interaction_expires_at=now + 900,
        response_message_id=discord.utils.time_snowflake(datetime.datetime.now(datetime.UTC)),
        completed_at=now,
    )
    return replace(job, **changes)


def _png(tmp_path: Path) -> Path:
    path = tmp_path / "result.png"
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, format="PNG")
    path.write_bytes(buf.getvalue())
    return path


def _delivery(mono: list[float]) -> tuple[DiscordDelivery, _Transport]:
    delivery = DiscordDelivery(
        discord.Client(intents=discord.Intents.none()),
        extras=_Extras(),
        queue=_Queue(),
        durations=_Durations(),
        clock=ManualClock(time.time()),
        progress_interval=0.0,
        monotonic=lambda: mono[0],
    )
    transport = _Transport()
    delivery.transport = transport  # type: ignore[assignment]
    return delivery, transport


async def test_nothing_is_remembered_about_jobs_that_ended(tmp_path: Path) -> None:
    mono = [0.0]
    delivery, transport = _delivery(mono)
    png = _png(tmp_path)
    for job_id in range(1, 31):
        job = _job(job_id)
        await delivery.progress(job)
        if job_id % 3 == 0:
            await delivery.deliver(job, [png])
        elif job_id % 3 == 1:
            await delivery.failed(replace(job, state=JobState.FAILED, error_code="no_result"))
        else:
            await delivery.cancelled(replace(job, state=JobState.CANCELLED), "alice")
    assert delivery.remembered() == {"open": 0, "throttle": 0, "ended": 30}
    # A progress update still on its way when the job ended paints nothing over the end.
    calls = len(transport.calls)
    await delivery.progress(_job(30))
    assert len(transport.calls) == calls
    # Ended jobs are forgotten after a while too.
    mono[0] += ENDED_MEMORY + 1
    await delivery.cancelled(replace(_job(31), state=JobState.CANCELLED), "bob")
    assert delivery.remembered() == {"open": 0, "throttle": 0, "ended": 1}


async def test_a_delivery_to_retry_keeps_what_was_learnt_until_it_ends(tmp_path: Path) -> None:
    mono = [0.0]
    delivery, transport = _delivery(mono)
    png = _png(tmp_path)
    job = _job(1)
    transport.refuse = {"edit_by_token": Meaning.TOKEN_DEAD, "post": Meaning.RETRY_LATER}
    with pytest.raises(DeliveryFailed) as info:
        await delivery.deliver(job, [png])
    assert not info.value.permanent
    assert delivery.remembered()["open"] == 1  # the token is known dead for the retry
    transport.refuse = {}
    transport.calls.clear()
    await delivery.deliver(job, [png])
    assert [kind for kind, _ in transport.calls][:1] == ["post"]  # no second try of the token
    assert delivery.remembered() == {"open": 0, "throttle": 0, "ended": 1}


async def test_a_progress_refusal_for_good_silences_that_job_only(tmp_path: Path) -> None:
    mono = [0.0]
    delivery, transport = _delivery(mono)
    transport.refuse = {"edit_by_token": Meaning.STOP_EDITS}
    await delivery.progress(_job(1))
    await delivery.progress(_job(1))
    assert [k for k, _ in transport.calls] == ["edit_by_token"]  # once, then quiet
    transport.refuse = {}
    await delivery.progress(_job(2))
    assert [k for k, _ in transport.calls] == ["edit_by_token", "edit_by_token"]
    # A passing hiccup (rate limit, Discord trouble) does not silence it.
    transport.refuse = {"edit_by_token": Meaning.RETRY_LATER}
    await delivery.progress(_job(3))
    await delivery.progress(_job(3))
    assert [k for k, _ in transport.calls].count("edit_by_token") == 4


async def test_the_fallback_post_carries_its_nonce_and_mentions_only_the_requester(
    tmp_path: Path,
) -> None:
    delivery, transport = _delivery([0.0])
    transport.refuse = {"edit_by_token": Meaning.TOKEN_DEAD}
    await delivery.deliver(_job(9), [_png(tmp_path)])
    _, fields = next(c for c in transport.calls if c[0] == "post")
    assert fields["nonce"] == "atelier:r:9"
    allowed = fields["allowed_mentions"].to_dict()
    assert allowed["parse"] == [] and allowed["users"] == [5]
    assert fields["content"] == "<@5> your image is ready."
    assert fields["files"][0].filename == "atelier-9-1.png"
    # Fresh job: within the nonce window nothing is searched first.
    assert "find_own" not in [k for k, _ in transport.calls]
    # An older one (a retry long after the result was ready): the channel is searched first.
    delivery2, transport2 = _delivery([0.0])
    transport2.refuse = {"edit_by_token": Meaning.TOKEN_DEAD}
    await delivery2.deliver(_job(10, completed_at=time.time() - 120), [_png(tmp_path)])
    assert [k for k, _ in transport2.calls][1:3] == ["find_own", "post"]


class _Settings:
    def __init__(self, gallery_channel_id: int | None) -> None:
        self.gallery_channel_id = gallery_channel_id

    async def get(self, guild_id: int) -> Any:
        return self


async def test_the_gallery_searches_its_history_only_past_the_nonce_window(
    tmp_path: Path,
) -> None:
    from bot.app.gallery import GalleryPoster

    clock = ManualClock(time.time())
    poster = GalleryPoster(
        discord.Client(intents=discord.Intents.none()),
        _Settings(44),  # type: ignore[arg-type]
        clock=clock,
    )
    transport = _Transport()
    poster.transport = transport  # type: ignore[assignment]
    png = _png(tmp_path)
    await poster.job_delivered(_job(1, state=JobState.DELIVERED, finished_at=clock.now()), [png])
    assert [k for k, _ in transport.calls] == ["post"]  # just delivered: the nonce suffices
    _, fields = transport.calls[0]
    assert fields["nonce"] == "atelier:g:1" and fields["allowed_mentions"].to_dict()["parse"] == []
    transport.calls.clear()
    clock.advance(61)  # a re-run long after: an earlier post may be past Discord's window
    await poster.job_delivered(
        _job(1, state=JobState.DELIVERED, finished_at=clock.now() - 61), [png]
    )
    assert [k for k, _ in transport.calls] == ["find_own", "post"]
    transport.calls.clear()
    poster.settings = _Settings(3)  # type: ignore[assignment]  # the job's own channel
    await poster.job_delivered(_job(2, state=JobState.DELIVERED, finished_at=clock.now()), [png])
    assert transport.calls == []


async def test_a_job_whose_end_never_comes_is_forgotten_after_a_while() -> None:
    mono = [0.0]
    delivery, _ = _delivery(mono)
    await delivery.progress(_job(1))  # e.g. the job was finished by another process
    assert delivery.remembered()["open"] == 1
    mono[0] += 2 * 3600 + 1
    await delivery.progress(_job(2))
    assert delivery.remembered() == {"open": 1, "throttle": 1, "ended": 0}  # only job 2
