"""Image checks and conversions with Pillow: real formats, masks drawn from regions, results fitted to Discord."""

from __future__ import annotations

import enum
import io
from collections.abc import Iterable
from dataclasses import dataclass

from PIL import Image, ImageDraw, UnidentifiedImageError

from bot.messages import say
from bot.refusal import Refusal
from bot.toapis.catalog import ImageFacts

__all__ = [
    "FittedImage",
    "ImageProblem",
    "MaskRegion",
    "draw_boxes_mask",
    "draw_region_mask",
    "fit_for_upload",
    "fit_reference",
    "inspect_image",
    "png_bytes",
    "to_accepted_format",
]

# Decompression bombs: refuse images with more pixels than any sane reference (8K x 8K).
MAX_PIXELS = 8192 * 8192

_FORMAT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
_TYPE_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


class ImageProblem(Refusal):
    """The bytes are not an image the bot can use; ``message`` says what to do."""


def inspect_image(data: bytes, *, label: str = "The file") -> ImageFacts:
    """Decode ``data`` fully and report its real type, size, dimensions and transparency."""
    if not data:
        raise ImageProblem(say("images.empty", label=label))
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or ""
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise ImageProblem(
                    say("images.too_many_pixels", label=label, width=width, height=height)
                )
            img.load()  # catches truncated or corrupt files that open() alone accepts
            has_alpha = _has_alpha(img)
    except ImageProblem:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ImageProblem(say("images.unreadable", label=label)) from None
    content_type = _FORMAT_TYPES.get(fmt)
    if content_type is None:
        raise ImageProblem(say("images.wrong_format", label=label, format=fmt or "unknown"))
    return ImageFacts(
        content_type=content_type,
        size_bytes=len(data),
        width=width,
        height=height,
        has_alpha=has_alpha,
    )


def _has_alpha(img: Image.Image) -> bool:
    if img.mode in ("RGBA", "LA", "PA"):
        return True
    return img.mode == "P" and "transparency" in img.info


def extension_for(content_type: str) -> str:
    """Return the usual file extension of an image MIME type."""
    return _TYPE_EXT.get(content_type, "bin")


def to_accepted_format(
    data: bytes, facts: ImageFacts, accepted: frozenset[str]
) -> tuple[bytes, ImageFacts]:
    """Convert an image the model does not take (e.g. WebP, GIF) to PNG; return it unchanged otherwise."""
    if facts.content_type in accepted:
        return data, facts
    if "image/png" not in accepted:
        raise ImageProblem(say("images.cannot_convert"))
    with Image.open(io.BytesIO(data)) as img:
        img.seek(0)  # first frame of an animation
        frame = img.convert("RGBA" if facts.has_alpha else "RGB")
    out = io.BytesIO()
    frame.save(out, format="PNG", optimize=False)
    converted = out.getvalue()
    return converted, inspect_image(converted)


#: JPEG qualities tried, best first, when a reference must shrink to fit the upload limit.
REFERENCE_JPEG_QUALITIES = (92, 85, 75, 65)


def fit_reference(
    data: bytes, facts: ImageFacts, accepted: frozenset[str], limit: int, *, label: str
) -> tuple[bytes, ImageFacts]:
    """Return a reference that fits ``limit`` bytes: as is, or re-encoded as JPEG.

    Only an opaque image (or one whose alpha channel is fully opaque) is re-encoded (JPEG
    has no transparency, and transparent pixels mean something to the edit models), and only for a model that takes JPEG references;
    the quality steps down until it fits. Otherwise the member is told what to attach.
    """
    if len(data) <= limit:
        return data, facts
    refused = ImageProblem(
        say("images.too_large_converted", label=label, size=_mb(len(data)), limit=_mb(limit))
    )
    if "image/jpeg" not in accepted:
        raise refused
    with Image.open(io.BytesIO(data)) as img:
        img.seek(0)
        if facts.has_alpha and not _fully_opaque(img):
            raise refused
        rgb = img.convert("RGB")
    for quality in REFERENCE_JPEG_QUALITIES:
        encoded = _encode_jpeg(rgb, quality)
        if len(encoded) <= limit:
            return encoded, inspect_image(encoded, label=label)
    raise ImageProblem(say("images.too_large_reencoded", label=label, limit=_mb(limit)))


def _fully_opaque(img: Image.Image) -> bool:
    """Return whether an image with an alpha channel has no transparent pixel at all."""
    alpha = img.convert("RGBA").getchannel("A")
    return alpha.getextrema() == (255, 255)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


class MaskRegion(enum.StrEnum):
    """Parts of an image a member can ask to repaint without drawing a mask."""

    TOP_HALF = "top half"
    BOTTOM_HALF = "bottom half"
    LEFT_HALF = "left half"
    RIGHT_HALF = "right half"
    CENTRE = "centre"
    TOP_LEFT = "top-left quarter"
    TOP_RIGHT = "top-right quarter"
    BOTTOM_LEFT = "bottom-left quarter"
    BOTTOM_RIGHT = "bottom-right quarter"

    def box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Return the (left, top, right, bottom) pixel box to repaint, right/bottom exclusive."""
        hw, hh = width // 2, height // 2
        return {
            MaskRegion.TOP_HALF: (0, 0, width, hh),
            MaskRegion.BOTTOM_HALF: (0, hh, width, height),
            MaskRegion.LEFT_HALF: (0, 0, hw, height),
            MaskRegion.RIGHT_HALF: (hw, 0, width, height),
            MaskRegion.CENTRE: (width // 4, height // 4, width - width // 4, height - height // 4),
            MaskRegion.TOP_LEFT: (0, 0, hw, hh),
            MaskRegion.TOP_RIGHT: (hw, 0, width, hh),
            MaskRegion.BOTTOM_LEFT: (0, hh, hw, height),
            MaskRegion.BOTTOM_RIGHT: (hw, hh, width, height),
        }[self]


def draw_boxes_mask(
    width: int, height: int, boxes: Iterable[tuple[int, int, int, int]], *, keep: bool = False
) -> Image.Image:
    """Draw an RGBA mask: transparent over ``boxes`` and opaque elsewhere (``keep``: inverted)."""
    outside, inside = ((0, 0, 0, 0), (0, 0, 0, 255)) if keep else ((0, 0, 0, 255), (0, 0, 0, 0))
    mask = Image.new("RGBA", (width, height), outside)
    draw = ImageDraw.Draw(mask)
    for left, top, right, bottom in boxes:
        if right > left and bottom > top:
            draw.rectangle((left, top, right - 1, bottom - 1), fill=inside)
    return mask


def png_bytes(img: Image.Image) -> bytes:
    """Encode ``img`` as PNG."""
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def draw_region_mask(region: MaskRegion, width: int, height: int) -> bytes:
    """Draw a PNG mask: transparent (alpha 0) where the image is repainted, opaque elsewhere."""
    return png_bytes(draw_boxes_mask(width, height, [region.box(width, height)]))


@dataclass(frozen=True)
class FittedImage:
    """An image made to fit an upload limit, and what was done to it."""

    data: bytes
    filename: str
    content_type: str
    # "original", "reencoded" (same pixels, another format) or "preview" (downscaled).
    treatment: str
    width: int
    height: int


def fit_for_upload(data: bytes, filename_stem: str, limit: int) -> FittedImage:
    """Return the image as is if it fits ``limit`` bytes; else re-encode it; else downscale a preview."""
    facts = inspect_image(data, label=say("images.label_result"))
    if len(data) <= limit:
        ext = extension_for(facts.content_type)
        return FittedImage(
            data,
            f"{filename_stem}.{ext}",
            facts.content_type,
            "original",
            facts.width,
            facts.height,
        )
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        rgb = img.convert("RGB")
    for quality in (92, 85, 75):
        encoded = _encode_jpeg(rgb, quality)
        if len(encoded) <= limit:
            return FittedImage(
                encoded, f"{filename_stem}.jpg", "image/jpeg", "reencoded", rgb.width, rgb.height
            )
    scale = 0.75
    while scale > 0.05:
        size = (max(1, int(rgb.width * scale)), max(1, int(rgb.height * scale)))
        encoded = _encode_jpeg(rgb.resize(size, Image.Resampling.LANCZOS), 85)
        if len(encoded) <= limit:
            return FittedImage(
                encoded, f"{filename_stem}-preview.jpg", "image/jpeg", "preview", size[0], size[1]
            )
        scale *= 0.7
    raise ImageProblem(say("images.result_too_large"))


def _encode_jpeg(img: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()
