"""The one generation path: every command and button builds a request here, in two steps.

1. ``plan`` — before the interaction is acknowledged: fill in the server's defaults, validate
   the request against the capability catalog, check what Discord *declares* about the
   attachments (type, size, dimensions), and ask the ``GenerationPolicy``. Any refusal is a
   ``GenerationRefused`` / ``PolicyRefusal`` with a message for the member; nothing was
   downloaded, uploaded or charged.
2. ``start`` — after the public deferral and the download: verify the real bytes with Pillow,
   convert what the model does not take, check masks (or draw one from a region), keep the
   files content-addressed under ``<data_dir>/references`` and submit the job to the engine
   (which reserves the cost through the ``ChargeHook`` and uploads the references, each
   distinct file once while fresh).

This module does not import discord.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.app.store import JobDiscordInfo
from bot.clock import Clock, SystemClock
from bot.images import (
    ImageProblem,
    MaskRegion,
    draw_region_mask,
    extension_for,
    inspect_image,
    to_accepted_format,
)
from bot.jobs.engine import Engine
from bot.jobs.records import Job, NewJob, ReferenceImage
from bot.policy import GenerationPolicy, GuildDefaults, RequestContext
from bot.storage.base import Database
from bot.toapis.catalog import (
    CATALOG,
    GPT_IMAGE_15,
    ImageFacts,
    RequestValidationError,
    capabilities,
    validate_mask,
    validate_reference,
    validate_request,
)
from bot.toapis.models import GenerationRequest

log = logging.getLogger(__name__)

__all__ = [
    "DeclaredImage",
    "GenerationRefused",
    "GenerationService",
    "Options",
    "Plan",
    "nearest_size",
]

MB = 1024 * 1024
#: The upload endpoint takes at most 10 MB per file.
UPLOAD_MAX_BYTES = 10 * MB
#: Content types Discord may declare for something the bot can use (GIF and WebP get converted).
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/jpg", "image/webp", "image/gif"})
#: Reference files older than this (and not used meanwhile) are removed at start-up.
REFERENCE_KEEP_SECONDS = 3 * 24 * 3600.0


class GenerationRefused(Exception):
    """The request cannot run; ``message`` tells the member what to change."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Options:
    """What the member chose; ``None`` means "not given" (defaults apply)."""

    prompt: str
    model: str | None = None
    size: str | None = None
    resolution: str | None = None
    quality: str | None = None
    count: int | None = None
    output_format: str | None = None


@dataclass(frozen=True, slots=True)
class DeclaredImage:
    """An attachment as Discord describes it, before its bytes are fetched."""

    label: str  # how the member knows it: "Image 1", "The image", "The mask"
    filename: str
    content_type: str | None
    size: int
    url: str
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """A validated, allowed request waiting for its images' bytes."""

    ctx: RequestContext
    request: GenerationRequest  # without image URLs (the engine adds the uploaded ones)
    images: tuple[DeclaredImage, ...] = ()
    mask: DeclaredImage | None = None
    region: MaskRegion | None = None
    stored: tuple[ReferenceImage, ...] = ()  # references kept from an earlier job (re-roll)
    parent_job_id: int | None = None


@dataclass(frozen=True, slots=True)
class DiscordTarget:
    """Where the job's progress and result go (the deferred interaction response)."""

    interaction_token: str | None = field(default=None, repr=False)
    interaction_expires_at: float | None = None
    response_message_id: int | None = None
    filesize_limit: int | None = None
    requester_name: str = ""


def _ratio(size: str) -> float:
    w, h = size.split(":")
    return int(w) / int(h)


def nearest_size(width: int, height: int, sizes: Sequence[str]) -> str:
    """Return the aspect ratio in ``sizes`` closest to ``width``x``height`` (by log ratio)."""
    import math

    target = math.log(width / height)
    return min(sizes, key=lambda s: abs(math.log(_ratio(s)) - target))


def _placeholder_urls(n: int) -> list[str]:
    return [f"https://pending.invalid/{i}" for i in range(n)]


class GenerationService:
    """Validate, check policy and submit generations for every command and button."""

    def __init__(
        self,
        engine: Engine,
        db: Database,
        policy: GenerationPolicy,
        *,
        data_dir: Path,
        clock: Clock | None = None,
    ) -> None:
        self.engine = engine
        self.db = db
        self.policy = policy
        self.references_dir = data_dir / "references"
        self.clock = clock or SystemClock()

    # -- step 1: before acknowledging ----------------------------------------------------------

    async def plan(
        self,
        ctx: RequestContext,
        options: Options,
        *,
        images: Sequence[DeclaredImage] = (),
        mask: DeclaredImage | None = None,
        region: MaskRegion | None = None,
        stored: Sequence[ReferenceImage] = (),
        parent_job_id: int | None = None,
    ) -> Plan:
        """Validate everything knowable before downloading, then ask the policy."""
        if mask is not None and region is not None:
            raise GenerationRefused(
                "Give either a mask or a region, not both — the region draws the mask for you."
            )
        defaults = await self.policy.defaults(ctx.guild_id)
        first = images[0] if images else None
        request = self._resolve(options, defaults, first, ctx.origin)
        stored_images = [r for r in stored if r.role == "image"]
        stored_mask = any(r.role == "mask" for r in stored)
        refs = len(images) + len(stored_images)
        has_mask = mask is not None or region is not None or stored_mask
        try:
            checked = validate_request(
                request.model_copy(
                    update={
                        "image_urls": _placeholder_urls(refs) or None,
                        "mask_url": "https://pending.invalid/mask" if has_mask else None,
                    }
                ),
                max_images=defaults.max_count,
            )
        except RequestValidationError as exc:
            raise GenerationRefused(exc.message) from None
        request = checked.model_copy(update={"image_urls": None, "mask_url": None})
        caps = capabilities(request.model)
        for image in images:
            self._check_declared_reference(image, caps.max_reference_bytes)
        if mask is not None:
            self._check_declared_mask(mask, first, caps.max_mask_bytes)
        for ref in stored:
            if ref.path is None or not await asyncio.to_thread(Path(ref.path).is_file):
                raise GenerationRefused(
                    "The images of that request are no longer kept — run the command again "
                    "with the images attached."
                )
        ctx = replace(ctx, reference_count=refs, has_mask=has_mask)
        await self.policy.check(ctx, request)
        return Plan(
            ctx=ctx,
            request=request,
            images=tuple(images),
            mask=mask,
            region=region,
            stored=tuple(stored),
            parent_job_id=parent_job_id,
        )

    @staticmethod
    def _resolve(
        options: Options, defaults: GuildDefaults, first: DeclaredImage | None, origin: str
    ) -> GenerationRequest:
        model = options.model or defaults.model
        if model not in CATALOG:
            model = GPT_IMAGE_15
        caps = CATALOG[model]
        size = options.size
        if size is None and first is not None and first.width and first.height:
            if origin in ("edit", "vary", "upscale"):
                size = nearest_size(first.width, first.height, caps.sizes)
        if size is None:
            size = defaults.size if defaults.size in caps.sizes else caps.default_size
            if defaults.size == "auto" and caps.allows_auto_size:
                size = "auto"
        resolution = options.resolution
        if resolution is None and caps.resolutions is not None:
            resolution = defaults.resolution if defaults.resolution in caps.resolutions else None
            if resolution == "4k" and size not in caps.resolution_4k_sizes:
                resolution = "2k"  # a default that does not fit the size is quietly lowered
        quality = options.quality
        if quality is None and caps.qualities is not None:
            quality = defaults.quality if defaults.quality in caps.qualities else None
        return GenerationRequest(
            model=model,
            prompt=options.prompt.strip(),
            size=size,
            resolution=resolution,
            quality=quality,
            output_format=options.output_format,
            n=options.count if options.count is not None else 1,
        )

    @staticmethod
    def _check_declared_reference(image: DeclaredImage, model_max: int) -> None:
        ctype = (image.content_type or "").split(";")[0].strip().lower()
        if ctype and ctype not in IMAGE_TYPES:
            raise GenerationRefused(
                f"{image.label} (`{_short(image.filename)}`) is not an image Atelier can use "
                f"({_short(ctype)}) — attach a PNG, JPEG or WebP file."
            )
        limit = min(model_max, UPLOAD_MAX_BYTES)
        if image.size > limit:
            raise GenerationRefused(
                f"{image.label} is {_mb(image.size)}; the most the image service takes is "
                f"{_mb(limit)} — attach a smaller file (e.g. a JPEG)."
            )

    @staticmethod
    def _check_declared_mask(
        mask: DeclaredImage, first: DeclaredImage | None, model_max: int | None
    ) -> None:
        ctype = (mask.content_type or "").split(";")[0].strip().lower()
        if ctype and ctype != "image/png":
            raise GenerationRefused(
                "The mask must be a PNG with transparency (erase the parts to repaint) — "
                f"`{_short(mask.filename)}` is {_short(ctype)}."
            )
        limit = min(model_max or UPLOAD_MAX_BYTES, UPLOAD_MAX_BYTES)
        if mask.size > limit:
            raise GenerationRefused(
                f"The mask is {_mb(mask.size)}; the most allowed is {_mb(limit)}."
            )
        if (
            first is not None
            and mask.width
            and mask.height
            and first.width
            and first.height
            and (mask.width, mask.height) != (first.width, first.height)
        ):
            raise GenerationRefused(
                f"The mask is {mask.width}x{mask.height} but the image is "
                f"{first.width}x{first.height} — they must be the same size "
                "(or use `region` instead of a mask)."
            )

    # -- step 2: after deferring and downloading -----------------------------------------------

    async def start(
        self,
        plan: Plan,
        *,
        images: Sequence[bytes] = (),
        mask: bytes | None = None,
        target: DiscordTarget | None = None,
    ) -> Job:
        """Verify the downloaded bytes, keep them, and submit the job; returns the stored job."""
        target = target or DiscordTarget()
        refs, first = await self._prepare_images(plan, images)
        mask_ref = await self._prepare_mask(plan, mask, first)
        if mask_ref is not None:
            refs.append(mask_ref)
        new = NewJob(
            member_id=plan.ctx.member_id,
            request=plan.request,
            role_ids=tuple(plan.ctx.role_ids),
            moderator=plan.ctx.can_manage_guild,
            guild_id=plan.ctx.guild_id,
            channel_id=plan.ctx.channel_id,
            interaction_token=target.interaction_token,
            interaction_expires_at=target.interaction_expires_at,
            response_message_id=target.response_message_id,
            references=(*plan.stored, *refs),
        )
        job = await self.engine.submit(new)
        await self.db.job_discord.put(
            JobDiscordInfo(
                job_id=job.id,
                command=plan.ctx.origin,
                requester_name=target.requester_name,
                filesize_limit=target.filesize_limit,
                parent_job_id=plan.parent_job_id,
            ),
            now=self.clock.now(),
        )
        log.info("job %d started by %s (%s)", job.id, plan.ctx.origin, plan.request.model)
        return job

    async def _prepare_images(
        self, plan: Plan, images: Sequence[bytes]
    ) -> tuple[list[ReferenceImage], ImageFacts | None]:
        if len(images) != len(plan.images):
            raise ValueError("one downloaded file per declared image is needed")
        caps = capabilities(plan.request.model)
        refs: list[ReferenceImage] = []
        first: ImageFacts | None = None
        for declared, data in zip(plan.images, images, strict=True):
            try:
                facts = inspect_image(data, label=declared.label)
                data, facts = to_accepted_format(data, facts, caps.reference_types)
                validate_reference(plan.request.model, facts, label=declared.label)
            except (ImageProblem, RequestValidationError) as exc:
                raise GenerationRefused(str(exc)) from None
            if len(data) > UPLOAD_MAX_BYTES:
                raise GenerationRefused(
                    f"{declared.label} is {_mb(len(data))} once converted; the most the image "
                    f"service takes is {_mb(UPLOAD_MAX_BYTES)} — attach a smaller file."
                )
            first = first or facts
            refs.append(await self._keep(data, facts, "image", declared.label))
        if first is None and plan.stored:
            image = next((r for r in plan.stored if r.role == "image" and r.path), None)
            if image is not None and image.path is not None:
                first = inspect_image(await asyncio.to_thread(Path(image.path).read_bytes))
        return refs, first

    async def _prepare_mask(
        self, plan: Plan, mask: bytes | None, first: ImageFacts | None
    ) -> ReferenceImage | None:
        if plan.mask is None and plan.region is None:
            return None
        if first is None:
            raise GenerationRefused("A mask needs the image it edits — attach the image too.")
        if plan.region is not None:
            data = draw_region_mask(plan.region, first.width, first.height)
            facts = inspect_image(data)
            return await self._keep(data, facts, "mask", "mask")
        if mask is None:
            raise ValueError("the declared mask was not downloaded")
        try:
            facts = inspect_image(mask, label="The mask")
            validate_mask(plan.request.model, facts, first)
        except (ImageProblem, RequestValidationError) as exc:
            raise GenerationRefused(str(exc)) from None
        return await self._keep(mask, facts, "mask", "mask")

    async def _keep(self, data: bytes, facts: ImageFacts, role: str, label: str) -> ReferenceImage:
        """Store the bytes under their SHA-256 (so identical files share one path)."""
        digest = hashlib.sha256(data).hexdigest()
        ext = extension_for(facts.content_type)
        path = self.references_dir / f"{digest}.{ext}"

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_file():
                os.utime(path)  # used again: keep it longer
                return
            part = path.with_name(path.name + ".part")
            part.write_bytes(data)
            os.replace(part, path)

        await asyncio.to_thread(write)
        name = "mask" if role == "mask" else label.lower().replace(" ", "-")
        return ReferenceImage(
            filename=f"{name}.{ext}",
            content_type=facts.content_type,
            path=str(path),
            role="mask" if role == "mask" else "image",
        )

    def prune_references(self, *, older_than: float = REFERENCE_KEEP_SECONDS) -> int:
        """Remove kept reference files unused for ``older_than`` seconds; return how many."""
        if not self.references_dir.is_dir():
            return 0
        cutoff = time.time() - older_than
        removed = 0
        for entry in self.references_dir.iterdir():
            try:
                if entry.is_file() and entry.stat().st_mtime < cutoff:
                    entry.unlink()
                    removed += 1
            except OSError:
                continue
        return removed


def request_of(job: Job) -> GenerationRequest:
    """Return the request a job was made with."""
    return job.request


def options_of(job: Job) -> Options:
    """Return a job's request as explicit options (for Re-roll, Vary and Upscale)."""
    r = job.request
    return Options(
        prompt=r.prompt,
        model=r.model,
        size=r.size,
        resolution=r.resolution,
        quality=r.quality,
        count=r.n,
        output_format=r.output_format,
    )


def upscale_options(job: Job, width: int | None, height: int | None) -> Options:
    """Options to render one result again larger: 4K where the ratio allows, else 2K."""
    base = options_of(job)
    caps = CATALOG[GPT_IMAGE_15]
    size = base.size if base.size in caps.sizes else None
    if size is None:
        size = nearest_size(width or 1, height or 1, caps.sizes) if width and height else "1:1"
    target = "4k" if size in caps.resolution_4k_sizes else "2k"
    current = base.resolution if base.model == GPT_IMAGE_15 else "1k"
    order = {"1k": 1, "2k": 2, "4k": 3}
    if order.get(current or "1k", 1) >= order[target]:
        raise GenerationRefused(
            f"This image is already at {(current or '1k').upper()}, the highest resolution "
            f"for {size} — nothing to upscale."
        )
    return Options(
        prompt=base.prompt,
        model=GPT_IMAGE_15,
        size=size,
        resolution=target,
        quality=base.quality if base.model == GPT_IMAGE_15 else None,
        count=1,
        output_format=base.output_format if base.model == GPT_IMAGE_15 else None,
    )


def _mb(n: int) -> str:
    return f"{n / MB:.1f} MB"


def _short(text: str, limit: int = 60) -> str:
    text = text.replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1] + "…"
