"""Step 1 of a generation, before the interaction is acknowledged: defaults, validation, policy.

Checks what Discord *declares* about the attachments (type, size, dimensions), validates the
request against the capability catalog and asks the ``GenerationPolicy``. A refusal is a
``bot.refusal.Refusal``; nothing was downloaded, uploaded or charged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.generation.canvas import CanvasEdit
from bot.images import MaskRegion
from bot.jobs.records import ReferenceImage
from bot.messages import say
from bot.policy import GuildDefaults, RequestContext
from bot.refusal import Refusal
from bot.toapis.catalog import CATALOG, active_catalog
from bot.toapis.models import GenerationRequest

__all__ = [
    "IMAGE_TYPES",
    "UPLOAD_MAX_BYTES",
    "DeclaredImage",
    "DiscordTarget",
    "Options",
    "Plan",
    "check_declared_mask",
    "check_declared_reference",
    "nearest_size",
    "resolve_request",
]

MB = 1024 * 1024
#: The upload endpoint takes at most 10 MB per file.
UPLOAD_MAX_BYTES = 10 * MB
#: Content types Discord may declare for something the bot can use (GIF and WebP get converted).
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/jpg", "image/webp", "image/gif"})


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
    canvas: CanvasEdit | None = None  # repaint areas, zoom out or pan the one image


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
    target = math.log(width / height)
    return min(sizes, key=lambda s: abs(math.log(_ratio(s)) - target))


def placeholder_urls(n: int) -> list[str]:
    """Return stand-in URLs so the catalog can count references before any upload."""
    return [f"https://pending.invalid/{i}" for i in range(n)]


def resolve_request(
    options: Options, defaults: GuildDefaults, first: DeclaredImage | None, origin: str
) -> GenerationRequest:
    """Fill in what the member left out from the server's defaults and the first image."""
    catalog = active_catalog()
    if options.model is not None and catalog.known(options.model) is None:
        # A model the catalog no longer lists: the validator refuses it, naming those it has.
        return GenerationRequest(
            model=options.model, prompt=options.prompt.strip(), n=options.count or 1
        )
    # A retired model (a Re-roll of an old job, a stale default) stands for its successor.
    model = catalog.current_name(options.model or defaults.model) or catalog.first.name
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


def check_declared_reference(image: DeclaredImage, model_max: int) -> None:
    """Refuse an attachment whose declared type or size the service cannot take."""
    ctype = (image.content_type or "").split(";")[0].strip().lower()
    if ctype and ctype not in IMAGE_TYPES:
        raise Refusal(
            say(
                "generation.not_an_image",
                label=image.label,
                filename=short(image.filename),
                content_type=short(ctype),
            )
        )
    limit = min(model_max, UPLOAD_MAX_BYTES)
    if image.size > limit:
        raise Refusal(
            say(
                "generation.reference_too_large",
                label=image.label,
                size=mb(image.size),
                limit=mb(limit),
            )
        )


def check_declared_mask(
    mask: DeclaredImage, first: DeclaredImage | None, model_max: int | None
) -> None:
    """Refuse a mask that is not a PNG, too large, or not the size of the image."""
    ctype = (mask.content_type or "").split(";")[0].strip().lower()
    if ctype and ctype != "image/png":
        raise Refusal(
            say(
                "generation.mask_not_png",
                filename=short(mask.filename),
                content_type=short(ctype),
            )
        )
    limit = min(model_max or UPLOAD_MAX_BYTES, UPLOAD_MAX_BYTES)
    if mask.size > limit:
        raise Refusal(say("generation.mask_too_large", size=mb(mask.size), limit=mb(limit)))
    if (
        first is not None
        and mask.width
        and mask.height
        and first.width
        and first.height
        and (mask.width, mask.height) != (first.width, first.height)
    ):
        raise Refusal(
            say(
                "generation.mask_size_mismatch",
                mask_width=mask.width,
                mask_height=mask.height,
                width=first.width,
                height=first.height,
            )
        )


def mb(n: int) -> str:
    """Format a byte count as megabytes for a member."""
    return f"{n / MB:.1f} MB"


def short(text: str, limit: int = 60) -> str:
    """Return ``text`` safe inside backticks and at most ``limit`` characters."""
    text = text.replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1] + "…"
