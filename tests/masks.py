"""Pixel checks of masks and canvases shared by the geometry and the loopback tests."""

from __future__ import annotations

from PIL import Image

__all__ = ["assert_mask_keeps_exactly", "extrema"]


def extrema(img: Image.Image, box: tuple[int, int, int, int]) -> tuple[int, int] | None:
    """Return the (min, max) of a one-band image over ``box``; None for an empty box."""
    left, top, right, bottom = box
    if right <= left or bottom <= top:
        return None
    return img.crop(box).getextrema()  # type: ignore[return-value]


def assert_mask_keeps_exactly(mask: Image.Image, box: tuple[int, int, int, int]) -> None:
    """Alpha 255 over ``box`` (the original), 0 over every pixel outside it (the new area)."""
    w, h = mask.size
    left, top, right, bottom = box
    assert extrema(mask, box) == (255, 255)
    for outside in (
        (0, 0, w, top),
        (0, bottom, w, h),
        (0, top, left, bottom),
        (right, top, w, bottom),
    ):
        got = extrema(mask, outside)
        assert got in (None, (0, 0)), (outside, got)
