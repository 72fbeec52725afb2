"""The engine's ``Delivery`` on Discord: progress edits, the result, failures, the fallback.

* Progress edits the deferred response, paced by ``throttle.ProgressThrottle``.
* The result (or a failure) is an edit of the same response while its interaction token is
  valid. When the token has expired, or Discord refuses it (the clock alone is not trusted), or
  the response is gone or takes no more edits, a new channel message is posted that mentions
  only the member who asked — exactly once: it carries a deterministic nonce, and when an
  earlier attempt may lie outside Discord's nonce window the channel's history is searched for
  it first (``transport``).
* Every file is fitted to the size limit of where it goes (off the event loop): re-encoded, or
  a downscaled preview, and the embed says so.
* Everything goes out with mentions disabled, except that one requester mention.

The layout: ``embeds`` (pure: what a message says), ``transport`` (every REST call and the one
table of what Discord's errors mean), ``throttle`` (progress pacing). What is remembered per
job is dropped when the job ends.

Times that Discord enforces (token lifetime, message age) are read from the real clock, as
Discord and discord.py do; the job's own times (elapsed, ETA, the nonce window) from ``clock``.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import discord

from bot import i18n
from bot.app.delivery.embeds import (
    WAITING_STATES,
    cancelled_embed,
    failure_embed,
    progress_embed,
    result_embed,
)
from bot.app.delivery.throttle import ProgressThrottle
from bot.app.delivery.transport import (
    DEFAULT_FILE_LIMIT,
    DiscordRefused,
    Meaning,
    Transport,
    carries_failure_of,
    carries_result_of,
    jump_url,
    nonce_for,
    result_stem,
)
from bot.app.languages import ServerLanguages
from bot.app.views import failure_view, result_view
from bot.clock import Clock, SystemClock
from bot.generation.store import JobDiscordInfo, JobDiscordStore
from bot.images import FittedImage, ImageProblem, fit_for_upload
from bot.jobs.hooks import DeliveryFailed
from bot.jobs.records import Job
from bot.jobs.states import JobState
from bot.messages import say

log = logging.getLogger(__name__)

__all__ = ["NONCE_TRUST", "DiscordDelivery", "QueuePositions", "TypicalDurations"]

#: Treat a token as expired this long before Discord does.
TOKEN_MARGIN = 20.0
#: How long after a job reached a stage Discord's nonce alone is trusted to catch a repeated
#: post of that stage. Discord keeps nonces "for a few minutes" (undocumented exactly); past
#: this, the channel's history is searched before posting.
NONCE_TRUST = 60.0
#: How long an ended job is remembered, so that a progress update still on its way is dropped
#: instead of painting over the final message.
ENDED_MEMORY = 600.0
#: A job nothing happened to for this long is forgotten even if its end was never seen.
IDLE_MEMORY = 2 * 3600.0


class QueuePositions(Protocol):
    """Where a job stands among waiting jobs (``JobStore.queue_position``)."""

    async def queue_position(
        self, job_id: int, states: Collection[JobState]
    ) -> tuple[int, int] | None:
        """Return (1-based position, total) of the job among jobs in ``states``, or None."""
        ...


class TypicalDurations(Protocol):
    """Learned task durations (the engine's ``DurationModel``)."""

    def prior(self, profile: str) -> tuple[float, float]:
        """Return (mean, sigma) of the log-duration of tasks of ``profile``."""
        ...


@dataclass
class _Conversation:
    """What delivery knows about one job's messages while the job runs."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    token_dead: bool = False  # Discord refused the interaction token
    frozen: bool = False  # the response takes no more edits (gone, or 30046)
    ended: bool = False
    touched: float = 0.0


class DiscordDelivery:
    """Show a job's progress and result on its Discord message."""

    def __init__(
        self,
        client: discord.Client,
        *,
        extras: JobDiscordStore,
        queue: QueuePositions,
        durations: TypicalDurations,
        clock: Clock | None = None,
        progress_interval: float = 3.0,
        monotonic: Callable[[], float] = time.monotonic,
        discord_now: Callable[[], float] = time.time,
        languages: ServerLanguages | None = None,
    ) -> None:
        self.transport = Transport(client)
        self.languages = languages
        self.extras = extras
        self.queue = queue
        self.durations = durations
        self.clock: Clock = clock or SystemClock()
        self.throttle = ProgressThrottle(
            progress_interval, monotonic=monotonic, discord_now=discord_now
        )
        self._monotonic = monotonic
        self._discord_now = discord_now
        self._open: dict[int, _Conversation] = {}
        self._ended: dict[int, float] = {}  # job id -> when it ended (monotonic), oldest first

    async def _language(self, job: Job) -> str:
        """Public posts speak the server's language (``bot.app.languages``)."""
        if self.languages is None:
            return i18n.SOURCE
        return await self.languages.of(job.guild_id)

    # -- what is remembered per job ---------------------------------------------------------

    def _conversation(self, job_id: int) -> _Conversation:
        conv = self._open.get(job_id)
        if conv is None:
            self._prune()
            conv = self._open[job_id] = _Conversation()
        conv.touched = self._monotonic()
        return conv

    def _end(self, job_id: int) -> None:
        conv = self._open.pop(job_id, None)
        if conv is not None:
            conv.ended = True
        self.throttle.forget(job_id)
        self._ended.pop(job_id, None)
        self._ended[job_id] = self._monotonic()
        self._prune()

    def _prune(self) -> None:
        now = self._monotonic()
        for job_id, at in list(self._ended.items()):
            if now - at <= ENDED_MEMORY:
                break  # oldest first: the rest are younger
            del self._ended[job_id]
        for job_id, conv in list(self._open.items()):
            if now - conv.touched > IDLE_MEMORY and not conv.lock.locked():
                del self._open[job_id]
                self.throttle.forget(job_id)

    def remembered(self) -> dict[str, int]:
        """How many jobs each per-job structure holds (all drop to 0 once jobs end and age)."""
        return {
            "open": len(self._open),
            "throttle": len(self.throttle),
            "ended": len(self._ended),
        }

    # -- small helpers ----------------------------------------------------------------------

    def _token_usable(self, job: Job, conv: _Conversation) -> bool:
        """Tell whether the interaction token may still be used (by our clock; Discord decides)."""
        return (
            job.interaction_token is not None
            and job.response_message_id is not None
            and not conv.token_dead
            and job.interaction_expires_at is not None
            and job.interaction_expires_at - TOKEN_MARGIN > self._discord_now()
        )

    def _may_have_posted_long_ago(self, since: float | None) -> bool:
        """Tell whether an earlier post made after ``since`` could be past the nonce window."""
        return since is None or self.clock.now() - since > NONCE_TRUST

    async def _edit_response(self, job: Job, conv: _Conversation, **fields: Any) -> None:
        """Edit the response by token while valid, else with the bot token."""
        assert job.response_message_id is not None
        if self._token_usable(job, conv):
            assert job.interaction_token is not None
            try:
                await self.transport.edit_by_token(
                    job.interaction_token, job.response_message_id, **fields
                )
                return
            except DiscordRefused as exc:
                if exc.meaning is not Meaning.TOKEN_DEAD:
                    raise
                conv.token_dead = True
        if job.channel_id is None:
            raise DiscordRefused("edit by bot", Meaning.PERMANENT)
        await self.transport.edit_by_bot(job.channel_id, job.response_message_id, **fields)

    async def _queue_position(self, job: Job) -> tuple[int, int] | None:
        if job.state not in WAITING_STATES:
            return None
        try:
            return await self.queue.queue_position(job.id, WAITING_STATES)
        except Exception:
            log.warning("could not read job %d's queue position", job.id, exc_info=True)
            return None

    def _typical(self, job: Job) -> float | None:
        try:
            mu, _ = self.durations.prior(job.profile)
        except Exception:
            return None
        return float(math.exp(mu))

    async def _fit(self, job: Job, datas: Sequence[bytes], limit: int) -> list[FittedImage]:
        fitted = []
        for i, data in enumerate(datas, start=1):
            try:
                fitted.append(
                    await asyncio.to_thread(fit_for_upload, data, result_stem(job.id, i), limit)
                )
            except ImageProblem as exc:
                raise DeliveryFailed(str(exc), permanent=True) from None
        return fitted

    async def _find(
        self, job: Job, channel_id: int, matches: Callable[[discord.Message], bool]
    ) -> discord.Message | None:
        """Look for this job's own message; not knowing (Discord trouble) is not "absent"."""
        try:
            return await self.transport.find_own(channel_id, matches, after=job.response_message_id)
        except DiscordRefused as exc:
            if exc.meaning is Meaning.RETRY_LATER:
                raise DeliveryFailed(str(exc), permanent=False) from None
            log.info("job %d: could not search the channel (%s); posting", job.id, exc)
            return None

    # -- Delivery protocol ------------------------------------------------------------------

    async def progress(self, job: Job) -> None:
        """Edit the response with the job's state (paced; never over a final message)."""
        with i18n.speaking(await self._language(job)):
            await self._progress(job)

    async def _progress(self, job: Job) -> None:
        """Edit the response with the job's state (paced; never over a final message)."""
        if job.is_final or job.response_message_id is None or job.id in self._ended:
            return
        conv = self._conversation(job.id)
        if self.throttle.silenced(job.id):
            return
        wait = self.throttle.delay(job.id)
        if wait > 0:
            await asyncio.sleep(wait)
        async with conv.lock:
            if conv.ended or self.throttle.silenced(job.id):
                return
            if self.throttle.too_old(job.response_message_id):
                self.throttle.silence(job.id)
                return
            embed = progress_embed(
                job,
                now=self.clock.now(),
                position=await self._queue_position(job),
                typical=self._typical(job),
            )
            try:
                await self._edit_response(
                    job, conv, embed=embed, allowed_mentions=discord.AllowedMentions.none()
                )
            except DiscordRefused as exc:
                if exc.meaning is not Meaning.RETRY_LATER:
                    self.throttle.silence(job.id)
                if exc.meaning in (Meaning.STOP_EDITS, Meaning.MESSAGE_GONE):
                    conv.frozen = True
                log.info("progress edit of job %d refused: %s", job.id, exc)
            finally:
                self.throttle.sent(job.id)

    async def deliver(self, job: Job, files: list[Path]) -> None:
        """Post the result: edit the response, or fall back to a channel message (once)."""
        with i18n.speaking(await self._language(job)):
            await self._deliver(job, files)

    async def _deliver(self, job: Job, files: list[Path]) -> None:
        """Post the result: edit the response, or fall back to a channel message (once)."""
        conv = self._conversation(job.id)
        ended = False
        try:
            async with conv.lock:
                info = await self.extras.get(job.id)
                datas = [await asyncio.to_thread(p.read_bytes) for p in files]
                if not datas:
                    raise DeliveryFailed("no result files", permanent=True)
                if not (
                    self._token_usable(job, conv)
                    and await self._deliver_by_edit(job, conv, info, datas)
                ):
                    await self._deliver_by_post(job, conv, info, datas)
                ended = True
        except DeliveryFailed as exc:
            ended = exc.permanent
            raise
        finally:
            if ended:
                self._end(job.id)

    async def _deliver_by_edit(
        self, job: Job, conv: _Conversation, info: JobDiscordInfo | None, datas: Sequence[bytes]
    ) -> bool:
        """Edit the response into the result; False if a channel post must be made instead."""
        assert job.interaction_token is not None and job.response_message_id is not None
        limit = (info.filesize_limit if info else None) or DEFAULT_FILE_LIMIT
        fitted = await self._fit(job, datas, limit)
        try:
            await self.transport.edit_by_token(
                job.interaction_token,
                job.response_message_id,
                content=None,
                embed=result_embed(job, info, fitted, [len(d) for d in datas]),
                attachments=_files(fitted),
                view=result_view(job.id, len(fitted)),
                allowed_mentions=discord.AllowedMentions.none(),
            )
            return True
        except DiscordRefused as exc:
            if exc.meaning is Meaning.RETRY_LATER:
                raise DeliveryFailed(str(exc), permanent=False) from None
            if exc.meaning is Meaning.PERMANENT:
                raise DeliveryFailed(f"Discord refused the result: {exc}", permanent=True) from None
            conv.token_dead = conv.token_dead or exc.meaning is Meaning.TOKEN_DEAD
            conv.frozen = conv.frozen or exc.meaning is not Meaning.TOKEN_DEAD
            log.info("job %d: the response cannot take the result (%s); posting it", job.id, exc)
            return False

    async def _deliver_by_post(
        self, job: Job, conv: _Conversation, info: JobDiscordInfo | None, datas: Sequence[bytes]
    ) -> None:
        if job.channel_id is None:
            raise DeliveryFailed("the job has no channel", permanent=True)
        # An earlier attempt (before a crash, or a lost answer) may have posted it already.
        if self._may_have_posted_long_ago(job.completed_at):
            found = await self._find(job, job.channel_id, carries_result_of(job.id))
            if found is not None:
                log.info(
                    "job %d: its result is already in the channel (message %d)", job.id, found.id
                )
                await self._point_to(job, conv, found.id)
                return
        fitted = await self._fit(job, datas, self.transport.upload_limit(job.channel_id))
        try:
            message = await self.transport.post(
                job.channel_id,
                guild_id=job.guild_id,
                nonce=nonce_for("r", job.id),
                content=say("delivery.fallback.result", mention=f"<@{job.member_id}>"),
                embed=result_embed(job, info, fitted, [len(d) for d in datas]),
                files=_files(fitted),
                view=result_view(job.id, len(fitted)),
                allowed_mentions=_requester_only(job.member_id),
            )
        except DiscordRefused as exc:
            raise DeliveryFailed(
                f"could not post the result: {exc}",
                permanent=exc.meaning is not Meaning.RETRY_LATER,
            ) from None
        await self._point_to(job, conv, message.id)

    async def _point_to(self, job: Job, conv: _Conversation, message_id: int) -> None:
        """Best effort: turn the old progress message into a pointer to the posted result."""
        if (
            job.response_message_id is None
            or job.channel_id is None
            or message_id == job.response_message_id
            or conv.frozen
            or self.throttle.too_old(job.response_message_id)
        ):
            return
        url = jump_url(job.guild_id, job.channel_id, message_id)
        try:
            await self._edit_response(
                job,
                conv,
                content=say("delivery.pointer", url=url),
                embed=None,
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except DiscordRefused as exc:
            log.debug("could not point job %d's old message to its result: %s", job.id, exc)

    async def failed(self, job: Job) -> None:
        """Explain the failure on the response, or in a channel message mentioning the requester."""
        with i18n.speaking(await self._language(job)):
            await self._failed(job)

    async def _failed(self, job: Job) -> None:
        """Explain the failure on the response, or in a channel message mentioning the requester."""
        conv = self._conversation(job.id)
        try:
            async with conv.lock:
                if self._token_usable(job, conv):
                    assert job.interaction_token is not None
                    assert job.response_message_id is not None
                    try:
                        await self.transport.edit_by_token(
                            job.interaction_token,
                            job.response_message_id,
                            content=None,
                            embed=failure_embed(job),
                            view=failure_view(job.id),
                            allowed_mentions=discord.AllowedMentions.none(),
                        )
                        return
                    except DiscordRefused as exc:
                        if exc.meaning is Meaning.RETRY_LATER:
                            raise DeliveryFailed(str(exc), permanent=False) from None
                        conv.token_dead = True
                        log.info("job %d: the response cannot show the failure (%s)", job.id, exc)
                await self._post_failure(job)
        finally:
            self._end(job.id)

    async def _post_failure(self, job: Job) -> None:
        if job.channel_id is None:
            raise DeliveryFailed("the job has no channel", permanent=True)
        if self._may_have_posted_long_ago(job.finished_at):
            found = await self._find(job, job.channel_id, carries_failure_of(job.id))
            if found is not None:
                log.info("job %d: its failure notice is already in the channel", job.id)
                return
        try:
            await self.transport.post(
                job.channel_id,
                guild_id=job.guild_id,
                nonce=nonce_for("f", job.id),
                content=say("delivery.fallback.failure", mention=f"<@{job.member_id}>"),
                embed=failure_embed(job),
                view=failure_view(job.id),
                allowed_mentions=_requester_only(job.member_id),
            )
        except DiscordRefused as exc:
            raise DeliveryFailed(
                f"could not post the failure: {exc}",
                permanent=exc.meaning is not Meaning.RETRY_LATER,
            ) from None

    async def cancelled(self, job: Job, by: str) -> None:
        """Show on the response that the job was cancelled (best effort)."""
        with i18n.speaking(await self._language(job)):
            await self._cancelled(job, by)

    async def _cancelled(self, job: Job, by: str) -> None:
        """Show on the response that the job was cancelled (best effort)."""
        conv = self._conversation(job.id)
        try:
            async with conv.lock:
                if job.response_message_id is None:
                    return
                await self._edit_response(
                    job,
                    conv,
                    content=None,
                    embed=cancelled_embed(job, by),
                    view=None,
                    allowed_mentions=discord.AllowedMentions.none(),
                )
        except DiscordRefused as exc:
            log.info("could not show that job %d was cancelled: %s", job.id, exc)
        finally:
            self._end(job.id)


def _requester_only(member_id: int) -> discord.AllowedMentions:
    return discord.AllowedMentions(
        everyone=False, roles=False, replied_user=False, users=[discord.Object(member_id)]
    )


def _files(fitted: Sequence[FittedImage]) -> list[discord.File]:
    return [discord.File(io.BytesIO(f.data), filename=f.filename) for f in fitted]
