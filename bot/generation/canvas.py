"""Canvas edits on a result: repaint areas, zoom out, pan — the pixel geometry, with Pillow.

Everything here is pure and blocking (callers run it in a worker thread with
``asyncio.to_thread``). A mask is a PNG at the exact pixel size of the image it goes with:
alpha 0 where the model repaints, 255 where it keeps the pixels.

* ``Repaint``: the image as is, a mask that is transparent exactly over the chosen areas (the
  nine ``MaskRegion`` presets and the cells of a 3×3 grid, any union of them).
* ``ZoomOut``: the image centred on a larger canvas whose ratio is the model's supported size
  nearest the image's, at least ``factor`` times the image on the binding axis; the new area
  is transparent in the mask.
* ``Pan``: the canvas extended on one side by (at least) half the image, snapped to a
  supported ratio; the image sits against the opposite side, centred across.

A canvas larger than the model can use is scaled down (the image pasted at a whole-pixel box
that the mask's opaque area matches exactly), and again until both PNGs fit their byte limits.
This module does not import discord.
"""

from __future__ import annotations

import enum
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from bot.images import MaskRegion, draw_boxes_mask, png_bytes
from bot.messages import say
from bot.refusal import Refusal
from bot.toapis.catalog import ModelCapabilities, output_pixels

__all__ = [
    "CANVAS_FILL",
    "Built",
    "CanvasEdit",
    "Direction",
    "GridCell",
    "Pan",
    "Placement",
    "Repaint",
    "ZoomOut",
    "build_canvas",
    "canvas_ratio",
    "limits_for",
    "parse_area",
    "place",
]

#: What the new area of a canvas holds before the model paints it (it is repainted anyway).
CANVAS_FILL = (128, 128, 128)
#: Each downscale step when the PNGs do not fit their byte limits.
SHRINK_STEP = 0.8


class Direction(enum.StrEnum):
    """Where a pan extends the picture."""

    LEFT = "left"
    RIGHT = "right"
    UP = "up"
    DOWN = "down"


class GridCell(enum.StrEnum):
    """The cells of a 3×3 grid over the image, row by row (``cell-<row>-<column>``)."""

    TOP_LEFT = "cell-0-0"
    TOP = "cell-0-1"
    TOP_RIGHT = "cell-0-2"
    LEFT = "cell-1-0"
    CENTRE = "cell-1-1"
    RIGHT = "cell-1-2"
    BOTTOM_LEFT = "cell-2-0"
    BOTTOM = "cell-2-1"
    BOTTOM_RIGHT = "cell-2-2"

    def box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Return the cell's (left, top, right, bottom) pixel box, right/bottom exclusive."""
        _, row, column = self.value.split("-")
        r, c = int(row), int(column)
        # Rounded edges: the cells tile the image exactly, whatever its size.
        return (
            round(c * width / 3),
            round(r * height / 3),
            round((c + 1) * width / 3),
            round((r + 1) * height / 3),
        )


Area = MaskRegion | GridCell


def parse_area(value: str) -> Area:
    """Return the preset or grid cell a select value names; ``ValueError`` for anything else."""
    try:
        return GridCell(value)
    except ValueError:
        return MaskRegion(value)


@dataclass(frozen=True, slots=True)
class Repaint:
    """Repaint the union of these areas of the image (presets and grid cells)."""

    areas: tuple[Area, ...]


@dataclass(frozen=True, slots=True)
class ZoomOut:
    """Show more around the image: a canvas ``factor`` times as large, the image centred."""

    factor: float


@dataclass(frozen=True, slots=True)
class Pan:
    """Extend the picture by half of it towards ``direction``."""

    direction: Direction


CanvasEdit = Repaint | ZoomOut | Pan


def _units(ratio: str) -> tuple[int, int]:
    a, b = ratio.split(":")
    return int(a), int(b)


def _target(edit: ZoomOut | Pan, width: int, height: int) -> tuple[float, float]:
    """Return the smallest canvas (width, height) the edit needs, before snapping."""
    if isinstance(edit, ZoomOut):
        return width * edit.factor, height * edit.factor
    if edit.direction in (Direction.LEFT, Direction.RIGHT):
        return width * 1.5, float(height)
    return float(width), height * 1.5


def canvas_ratio(edit: ZoomOut | Pan, width: int, height: int, sizes: Sequence[str]) -> str:
    """Return the supported ratio (of ``sizes``, e.g. ``"3:2"``) nearest the canvas the edit needs."""
    tw, th = _target(edit, width, height)
    goal = math.log(tw / th)
    ratios = [s for s in sizes if ":" in s]
    return min(ratios, key=lambda s: abs(math.log(_units(s)[0] / _units(s)[1]) - goal))


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the image goes on a canvas, in the canvas's pixels."""

    width: int  # the canvas
    height: int
    box: tuple[int, int, int, int]  # the image on it: left, top, right, bottom (exclusive)


def place(
    edit: ZoomOut | Pan, width: int, height: int, ratio: str, *, max_pixels: int | None = None
) -> Placement:
    """Return the canvas of exactly ``ratio`` that holds the edit's target, and the image's box.

    The canvas is ``k`` ratio units on each side, with the smallest ``k`` that covers the
    target on both axes (so the binding axis is at least the target); above ``max_pixels`` it
    is scaled down and the image with it, rounded to whole pixels.
    """
    a, b = _units(ratio)
    tw, th = _target(edit, width, height)
    k = max(math.ceil(tw / a - 1e-9), math.ceil(th / b - 1e-9), 1)
    scale = 1.0
    if max_pixels is not None and k * a * k * b > max_pixels:
        k_fit = max(1, math.floor(math.sqrt(max_pixels / (a * b))))
        scale = k_fit / k
        k = k_fit
    return _placement(edit, width, height, k * a, k * b, scale)


def _placement(
    edit: ZoomOut | Pan, width: int, height: int, cw: int, ch: int, scale: float
) -> Placement:
    w = max(1, min(cw, round(width * scale)))
    h = max(1, min(ch, round(height * scale)))
    left, top = (cw - w) // 2, (ch - h) // 2
    if isinstance(edit, Pan):
        if edit.direction is Direction.RIGHT:
            left = 0  # the new area is on the right: the image keeps the left edge
        elif edit.direction is Direction.LEFT:
            left = cw - w
        elif edit.direction is Direction.DOWN:
            top = 0
        else:
            top = ch - h
    return Placement(cw, ch, (left, top, left + w, top + h))


@dataclass(frozen=True, slots=True)
class Built:
    """The reference and the mask to send, and where the original went."""

    image: bytes  # PNG (or, for ``Repaint``, the image unchanged)
    mask: bytes  # PNG with alpha, the image's pixel size
    width: int
    height: int
    box: tuple[int, int, int, int]  # the original's pixels on ``image``


def build_canvas(
    edit: CanvasEdit,
    data: bytes,
    *,
    ratio: str | None = None,
    max_pixels: int,
    max_bytes: int,
    max_mask_bytes: int,
) -> Built:
    """Build the reference and mask for ``edit`` from the image bytes; blocking (Pillow).

    ``ratio`` (zoom and pan) is the size the request asks for, planned from the image's
    declared pixels. A ``Refusal`` says when no canvas fits the limits.
    """
    with Image.open(io.BytesIO(data)) as opened:
        opened.seek(0)
        source = opened.convert("RGBA" if "A" in opened.getbands() else "RGB")
    width, height = source.size
    if isinstance(edit, Repaint):
        boxes = [area.box(width, height) for area in edit.areas]
        mask = png_bytes(draw_boxes_mask(width, height, boxes))
        return Built(data, mask, width, height, (0, 0, width, height))
    if ratio is None:
        raise ValueError("zoom and pan need the ratio the request asks for")
    limit = max_pixels
    while True:
        spot = place(edit, width, height, ratio, max_pixels=limit)
        left, top, right, bottom = spot.box
        canvas = Image.new(
            source.mode, (spot.width, spot.height), (*CANVAS_FILL, 255)[: len(source.getbands())]
        )
        pasted = source
        if (right - left, bottom - top) != source.size:
            pasted = source.resize((right - left, bottom - top), Image.Resampling.LANCZOS)
        canvas.paste(pasted, (left, top))
        mask_img = draw_boxes_mask(spot.width, spot.height, [spot.box], keep=True)
        image_png, mask_png = png_bytes(canvas), png_bytes(mask_img)
        if len(image_png) <= max_bytes and len(mask_png) <= max_mask_bytes:
            return Built(image_png, mask_png, spot.width, spot.height, spot.box)
        limit = math.floor(spot.width * spot.height * SHRINK_STEP * SHRINK_STEP)
        if limit < 64 * 64:
            raise Refusal(say("canvas.too_large"))


def limits_for(caps: ModelCapabilities, upload_max: int) -> dict[str, int]:
    """Return ``build_canvas``'s limits for a model: its largest output, its file limits."""
    tiers: tuple[str | None, ...] = tuple(caps.resolutions or (None,))
    largest = max(
        w * h
        for size in caps.sizes
        for tier in tiers
        if (tier != "4k" or size in caps.resolution_4k_sizes)
        and (pixels := output_pixels(size, tier)) is not None
        for w, h in [pixels]
    )
    return {
        # No use sending a canvas larger than the largest picture the model paints.
        "max_pixels": largest,
        "max_bytes": min(upload_max, caps.max_reference_bytes),
        "max_mask_bytes": min(upload_max, caps.max_mask_bytes or upload_max),
    }
