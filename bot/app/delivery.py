"""The engine's ``Delivery`` on Discord: progress edits, the result, failures, the fallback.

* Progress edits the deferred response: at most one edit per ``progress_interval`` seconds per
  message, none to a message older than an hour, and none after Discord answers 30046.
* The result (or a failure) is an edit of the same response while its interaction token is
  valid. When the token has expired, or Discord refuses it (401 / 50027 Invalid Webhook Token —
  the clock alone is not trusted), or the response is gone, a new channel message is posted
  that mentions only the member who asked.
* Every file is fitted to the size limit of where it goes (the interaction's
  ``attachment_size_limit``, or the server's limit for a channel message): re-encoded, or a
  downscaled preview, and the embed says so.
* Everything goes out with mentions disabled, except that one requester mention.

Times that Discord enforces (token lifetime, message age) are read from the real clock, as
Discord and discord.py do.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import discord

from bot.app.render import (
    eta_seconds,
    failure_text,
    format_duration,
    progress_bar,
    state_label,
    truncate,
)
from bot.app.store import JobDiscordInfo
from bot.app.views import failure_view, result_view
from bot.images import FittedImage, ImageProblem, fit_for_upload
from bot.jobs.hooks import DeliveryFailed
from bot.jobs.records import Job
from bot.jobs.states import JobState
from bot.storage.base import Database

log = logging.getLogger(__name__)

__all__ = ["DiscordDelivery"]

MIB = 1024 * 1024
DEFAULT_FILE_LIMIT = 10 * MIB
#: Discord refuses edits to messages older than an hour past a small allowance (30046).
MESSAGE_EDIT_AGE = 3600.0
#: Treat a token as expired this long before Discord does.
TOKEN_MARGIN = 20.0
#: Ahead of the queue: jobs not yet running at the image service.
WAITING_STATES = (
    JobState.PENDING,
    JobState.UPLOADING,
    JobState.SUBMITTING,
    JobState.SUBMITTED,
)
COLOUR_WORKING = discord.Colour.blurple()
COLOUR_DONE = discord.Colour.green()
COLOUR_FAILED = discord.Colour.red()
COLOUR_CANCELLED = discord.Colour.light_grey()

# Discord error codes
INVALID_WEBHOOK_TOKEN = 50027
UNKNOWN_MESSAGE = 10008
UNKNOWN_WEBHOOK = 10015
UNKNOWN_CHANNEL = 10003
OLD_MESSAGE_EDITS = 30046
MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013
FILE_TOO_LARGE = 40005


def _token_refused(exc: discord.HTTPException) -> bool:
    return exc.status == 401 or exc.code in (INVALID_WEBHOOK_TOKEN, UNKNOWN_WEBHOOK)


def _retryable(exc: discord.HTTPException) -> bool:
    return exc.status >= 500 or exc.status == 429


class _NotFitted(Exception):
    pass


class DiscordDelivery:
    """Show a job's progress and result on its Discord message."""

    def __init__(
        self,
        client: discord.Client,
        db: Database,
        *,
        progress_interval: float = 3.0,
        engine: Any = None,
    ) -> None:
        self.client = client
        self.db = db
        self.engine = engine  # set after the engine exists: queue positions and typical durations
        self.progress_interval = progress_interval
        self._locks: dict[int, asyncio.Lock] = {}
        self._last_edit: dict[int, float] = {}
        self._done: set[int] = set()
        self._quiet: set[int] = set()  # progress edits stopped (old message, 30046, gone)
        self._token_dead: set[int] = set()

    # -- helpers ------------------------------------------------------------------------------

    def _lock(self, job_id: int) -> asyncio.Lock:
        return self._locks.setdefault(job_id, asyncio.Lock())

    def _forget(self, job_id: int) -> None:
        self._last_edit.pop(job_id, None)
        self._quiet.discard(job_id)
        self._token_dead.discard(job_id)
        lock = self._locks.get(job_id)
        if lock is not None and not lock.locked():
            self._locks.pop(job_id, None)

    def token_valid(self, job: Job) -> bool:
        """Tell whether the interaction token may still be used (by our clock; Discord decides)."""
        return (
            job.interaction_token is not None
            and job.response_message_id is not None
            and job.id not in self._token_dead
            and job.interaction_expires_at is not None
            and job.interaction_expires_at - TOKEN_MARGIN > time.time()
        )

    @staticmethod
    def message_age(job: Job) -> float | None:
        if job.response_message_id is None:
            return None
        created = discord.utils.snowflake_time(job.response_message_id).timestamp()
        return time.time() - created

    def _webhook(self, job: Job) -> discord.Webhook:
        assert job.interaction_token is not None
        app_id = self.client.application_id
        assert app_id is not None
        return discord.Webhook.partial(app_id, job.interaction_token, client=self.client)

    async def _channel(self, job: Job) -> discord.abc.Messageable:
        if job.channel_id is None:
            raise DeliveryFailed("the job has no channel", permanent=True)
        channel = self.client.get_channel(job.channel_id)
        if channel is None:
            try:
                channel = await self.client.fetch_channel(job.channel_id)
            except (discord.NotFound, discord.Forbidden) as exc:
                raise DeliveryFailed(f"the channel is gone ({exc.code})", permanent=True) from None
            except discord.HTTPException as exc:
                raise DeliveryFailed(
                    f"could not look up the channel ({exc.status})", permanent=False
                ) from None
        if not isinstance(channel, discord.abc.Messageable):
            raise DeliveryFailed("the channel cannot take messages", permanent=True)
        return channel

    async def _edit_response(self, job: Job, **fields: Any) -> None:
        """Edit the response by token while valid, else through the channel (bot token)."""
        assert job.response_message_id is not None
        if self.token_valid(job):
            try:
                await self._webhook(job).edit_message(job.response_message_id, **fields)
                return
            except discord.HTTPException as exc:
                if not _token_refused(exc):
                    raise
                self._token_dead.add(job.id)
        channel = await self._channel(job)
        message = channel.get_partial_message(job.response_message_id)  # type: ignore[attr-defined]
        await message.edit(**fields)

    async def _queue_position(self, job: Job) -> tuple[int, int] | None:
        if job.state not in WAITING_STATES:
            return None
        try:
            # Counted in the database: no list of every active job is loaded per edit.
            return await self.db.jobs.queue_position(job.id, WAITING_STATES)
        except Exception:
            log.debug("could not read the queue position of job %d", job.id, exc_info=True)
            return None

    def _typical(self, job: Job) -> float | None:
        if self.engine is None:
            return None
        mu, _ = self.engine.durations.prior(job.profile)
        return float(math.exp(mu))

    def _now(self) -> float:
        clock = getattr(self.engine, "clock", None)
        return clock.now() if clock is not None else time.time()

    # -- embeds -------------------------------------------------------------------------------

    @staticmethod
    def _details(job: Job) -> dict[str, Any]:

        return job.request.model_dump()

    def progress_embed(self, job: Job, position: tuple[int, int] | None) -> discord.Embed:
        data = self._details(job)
        now = self._now()
        lines = [f"**{state_label(job.state)}**"]
        if position is not None:
            lines[0] += f" · position {position[0]} of {position[1]} in the queue"
        percent: float | None = job.progress
        if job.state in WAITING_STATES and percent is None:
            percent = 0
        lines.append(progress_bar(percent))
        eta = eta_seconds(job, now, self._typical(job))
        timing = f"Elapsed {format_duration(now - job.created_at)}"
        if eta is not None:
            timing += f" · about {format_duration(eta)} left"
        lines.append(timing)
        embed = discord.Embed(
            title="Working on it…",
            description=truncate(str(data.get("prompt", "")), 1000) + "\n\n" + "\n".join(lines),
            colour=COLOUR_WORKING,
        )
        embed.set_footer(text=f"Job #{job.id} · {data.get('model', job.model)}")
        return embed

    def result_embed(
        self,
        job: Job,
        info: JobDiscordInfo | None,
        fitted: Sequence[FittedImage],
        originals: Sequence[int],
    ) -> discord.Embed:
        data = self._details(job)
        count = len(fitted)
        title = "Here is your image" if count == 1 else f"Here are your {count} images"
        embed = discord.Embed(
            title=title,
            description=truncate(str(data.get("prompt", "")), 2000),
            colour=COLOUR_DONE,
        )
        embed.add_field(name="Model", value=str(data.get("model", job.model)), inline=True)
        embed.add_field(name="Size", value=str(data.get("size") or "default"), inline=True)
        embed.add_field(name="Resolution", value=str(data.get("resolution") or "—"), inline=True)
        embed.add_field(name="Quality", value=str(data.get("quality") or "—"), inline=True)
        embed.add_field(name="Count", value=str(data.get("n", count)), inline=True)
        embed.add_field(name="Requested by", value=f"<@{job.member_id}>", inline=True)
        cost = "—" if job.cost is None else f"{job.cost:g} credit" + ("" if job.cost == 1 else "s")
        embed.add_field(name="Cost", value=cost, inline=True)
        embed.add_field(name="Job", value=f"#{job.id}", inline=True)
        notes = []
        for i, (image, size) in enumerate(zip(fitted, originals, strict=True), start=1):
            label = "The image" if count == 1 else f"Image {i}"
            if image.treatment == "reencoded":
                notes.append(
                    f"{label} ({size / MIB:.1f} MB) was larger than this channel allows, so it was "
                    "re-encoded as a high-quality JPEG."
                )
            elif image.treatment == "preview":
                notes.append(
                    f"{label} ({size / MIB:.1f} MB) could not fit this channel's upload limit even "
                    f"re-encoded, so this is a downscaled preview ({image.width}x{image.height})."
                )
        if notes:
            embed.add_field(name="Note", value=truncate(" ".join(notes), 1024), inline=False)
        if (
            info is not None
            and info.command in ("reroll", "vary", "upscale")
            and info.parent_job_id
        ):
            verb = {"reroll": "Re-roll", "vary": "Variation", "upscale": "Upscale"}[info.command]
            embed.set_footer(text=f"{verb} of job #{info.parent_job_id}")
        return embed

    def failure_embed(self, job: Job) -> discord.Embed:
        data = self._details(job)
        what, charged, advice = failure_text(job)
        embed = discord.Embed(
            title="This image could not be made",
            description=truncate(str(data.get("prompt", "")), 1000),
            colour=COLOUR_FAILED,
        )
        embed.add_field(name="What happened", value=truncate(what, 1024), inline=False)
        embed.add_field(name="Charged?", value=charged, inline=False)
        embed.add_field(name="What to try", value=advice, inline=False)
        embed.set_footer(text=f"Job #{job.id}")
        return embed

    # -- Delivery protocol --------------------------------------------------------------------

    async def progress(self, job: Job) -> None:
        """Edit the response with the job's state (throttled; never over a final message)."""
        if job.id in self._done or job.id in self._quiet or job.response_message_id is None:
            return
        wait = self._last_edit.get(job.id, -math.inf) + self.progress_interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        async with self._lock(job.id):
            if job.id in self._done or job.id in self._quiet:
                return
            age = self.message_age(job)
            if age is not None and age > MESSAGE_EDIT_AGE - 60:
                self._quiet.add(job.id)
                return
            position = await self._queue_position(job)
            try:
                await self._edit_response(job, embed=self.progress_embed(job, position))
            except discord.HTTPException as exc:
                if exc.code in (
                    OLD_MESSAGE_EDITS,
                    UNKNOWN_MESSAGE,
                    MISSING_ACCESS,
                ) or exc.status in (401, 403, 404):
                    self._quiet.add(job.id)
                log.info(
                    "progress edit of job %d refused (HTTP %s, code %s)",
                    job.id,
                    exc.status,
                    exc.code,
                )
            except DeliveryFailed:
                self._quiet.add(job.id)
            finally:
                self._last_edit[job.id] = time.monotonic()

    async def deliver(self, job: Job, files: list[Path]) -> None:
        """Post the result: edit the response, or fall back to a channel message."""
        self._done.add(job.id)
        async with self._lock(job.id):
            try:
                info = await self.db.job_discord.get(job.id)
                datas = [await asyncio.to_thread(p.read_bytes) for p in files]
                if not datas:
                    raise DeliveryFailed("no result files", permanent=True)
                if self.token_valid(job):
                    limit = (info.filesize_limit if info else None) or DEFAULT_FILE_LIMIT
                    try:
                        await self._deliver_by_edit(job, info, datas, limit)
                        return
                    except discord.HTTPException as exc:
                        if _retryable(exc):
                            raise DeliveryFailed(
                                f"Discord answered {exc.status}", permanent=False
                            ) from None
                        if not (
                            _token_refused(exc) or exc.code in (UNKNOWN_MESSAGE, OLD_MESSAGE_EDITS)
                        ):
                            raise DeliveryFailed(
                                f"Discord refused the result (HTTP {exc.status}, code {exc.code})",
                                permanent=True,
                            ) from None
                        log.info(
                            "job %d: the response cannot be edited (HTTP %s, code %s); posting a message",
                            job.id,
                            exc.status,
                            exc.code,
                        )
                        self._token_dead.add(job.id)
                await self._deliver_by_message(job, info, datas)
            finally:
                self._forget(job.id)

    async def _fit(self, job: Job, datas: Sequence[bytes], limit: int) -> list[FittedImage]:
        fitted = []
        for i, data in enumerate(datas, start=1):
            try:
                fitted.append(
                    await asyncio.to_thread(fit_for_upload, data, f"atelier-{job.id}-{i}", limit)
                )
            except ImageProblem as exc:
                raise DeliveryFailed(str(exc), permanent=True) from None
        return fitted

    async def _deliver_by_edit(
        self, job: Job, info: JobDiscordInfo | None, datas: Sequence[bytes], limit: int
    ) -> None:
        assert job.response_message_id is not None
        fitted = await self._fit(job, datas, limit)
        await self._webhook(job).edit_message(
            job.response_message_id,
            content=None,
            embed=self.result_embed(job, info, fitted, [len(d) for d in datas]),
            attachments=[discord.File(io.BytesIO(f.data), filename=f.filename) for f in fitted],
            view=result_view(job.id, len(fitted)),
            allowed_mentions=discord.AllowedMentions.none(),
        )

    async def _deliver_by_message(
        self, job: Job, info: JobDiscordInfo | None, datas: Sequence[bytes]
    ) -> None:
        channel = await self._channel(job)
        guild = getattr(channel, "guild", None)
        limit = int(getattr(guild, "filesize_limit", DEFAULT_FILE_LIMIT) or DEFAULT_FILE_LIMIT)
        fitted = await self._fit(job, datas, limit)
        message = await _post(
            channel,
            "the result",
            content=f"<@{job.member_id}> your image is ready.",
            embed=self.result_embed(job, info, fitted, [len(d) for d in datas]),
            files=[discord.File(io.BytesIO(f.data), filename=f.filename) for f in fitted],
            view=result_view(job.id, len(fitted)),
            allowed_mentions=_requester_only(job.member_id),
            # A repeat after a crash mid-post returns the message Discord already created.
            nonce=f"atelier-r-{job.id}"[:25],
        )
        await self._point_to(job, message)

    async def _point_to(self, job: Job, message: discord.Message) -> None:
        """Best effort: turn the old progress message into a pointer to the posted result."""
        if job.response_message_id is None:
            return
        age = self.message_age(job)
        if age is not None and age > MESSAGE_EDIT_AGE - 60:
            return
        try:
            await self._edit_response(
                job,
                content=f"Finished — the result is posted here: {message.jump_url}",
                embed=None,
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except (discord.HTTPException, DeliveryFailed):
            log.debug("could not point job %d's old message to its result", job.id)

    async def failed(self, job: Job) -> None:
        """Explain the failure on the response, or in a channel message mentioning the requester."""
        self._done.add(job.id)
        async with self._lock(job.id):
            try:
                if self.token_valid(job):
                    try:
                        assert job.response_message_id is not None
                        await self._webhook(job).edit_message(
                            job.response_message_id,
                            content=None,
                            embed=self.failure_embed(job),
                            view=failure_view(job.id),
                            allowed_mentions=discord.AllowedMentions.none(),
                        )
                        return
                    except discord.HTTPException as exc:
                        if _retryable(exc):
                            raise DeliveryFailed(
                                f"Discord answered {exc.status}", permanent=False
                            ) from None
                        self._token_dead.add(job.id)
                await _post(
                    await self._channel(job),
                    "the failure",
                    content=f"<@{job.member_id}> your request could not be completed.",
                    embed=self.failure_embed(job),
                    view=failure_view(job.id),
                    allowed_mentions=_requester_only(job.member_id),
                    nonce=f"atelier-f-{job.id}"[:25],
                )
            finally:
                self._forget(job.id)

    async def cancelled(self, job: Job, by: str) -> None:
        """Show on the response that the job was cancelled (best effort)."""
        self._done.add(job.id)
        async with self._lock(job.id):
            try:
                if job.response_message_id is None:
                    return
                data = self._details(job)
                embed = discord.Embed(
                    title="Cancelled",
                    description=truncate(str(data.get("prompt", "")), 1000)
                    + f"\n\nCancelled by {truncate(by, 80)}. Nothing was charged.",
                    colour=COLOUR_CANCELLED,
                )
                embed.set_footer(text=f"Job #{job.id}")
                await self._edit_response(
                    job,
                    content=None,
                    embed=embed,
                    view=None,
                    allowed_mentions=discord.AllowedMentions.none(),
                )
            except (discord.HTTPException, DeliveryFailed) as exc:
                log.info("could not show that job %d was cancelled: %s", job.id, exc)
            finally:
                self._forget(job.id)


# Transitional (issue 9): the engine stores a FailureCode and a neutral detail now; until the
# per-code sentences land in bot.messages, these say what happened (the detail is shown only
# where it is the service's own words or a file name).
async def _post(channel: Any, what: str, **message: Any) -> discord.Message:
    """Send a channel message; a refusal becomes ``DeliveryFailed`` (permanent unless retryable)."""
    try:
        return await channel.send(**message)
    except discord.HTTPException as exc:
        raise DeliveryFailed(
            f"could not post {what} (HTTP {exc.status}, code {exc.code})",
            permanent=not _retryable(exc),
        ) from None


def _requester_only(member_id: int) -> discord.AllowedMentions:
    return discord.AllowedMentions(
        everyone=False, roles=False, replied_user=False, users=[discord.Object(member_id)]
    )
