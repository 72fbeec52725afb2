"""Render a usage report to a PNG chart with Pillow: credits per day as bars, by model as a
stacked strip, and the top members listed. No Discord, no matplotlib."""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bot.i18n import format_number
from bot.messages import say
from bot.quota.glyphs import Coverage, read_coverage
from bot.quota.records import UsageReport

__all__ = ["render_usage_chart"]

log = logging.getLogger(__name__)

WIDTH, HEIGHT = 960, 480
BG = (30, 31, 34)
FG = (230, 230, 235)
MUTED = (150, 152, 160)
GRID = (60, 62, 68)
BAR = (88, 101, 242)
MODEL_COLOURS = [(88, 101, 242), (235, 69, 158), (87, 242, 135), (254, 231, 92), (237, 66, 69)]
BIG, SMALL, TINY = 22, 15, 12  # text sizes in pixels: title, headings, labels


#: WenQuanYi Micro Hei (Apache-2.0, bot/fonts/wqy-microhei.LICENSE): Latin and CJK glyphs in one
#: font, so Chinese labels and member names draw as text, not boxes (Pillow's default cannot).
FONT_PATH = Path(__file__).resolve().parent.parent / "fonts" / "wqy-microhei.ttc"
#: A subset of Symbola (free for any use, bot/fonts/symbola-emoji.LICENSE; how it was cut:
#: bot/fonts/README.md): monochrome emoji and pictographic symbols, for the characters of member
#: and model names that WenQuanYi lacks ("小明🎨").
EMOJI_FONT_PATH = FONT_PATH.parent / "symbola-emoji.ttf"

#: Dropped before drawing: the zero-width joiner, the text/emoji presentation selectors and the
#: tag characters of subdivision flags. A monochrome font cannot compose an emoji sequence, so
#: its parts draw side by side ("👩‍🎨" as 👩🎨) instead of with boxes between them.
_UNDRAWN = frozenset({0x200D, 0xFE0E, 0xFE0F, *range(0xE0020, 0xE0080)})

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@lru_cache(maxsize=8)
def _font(size: int) -> Font:
    try:
        return ImageFont.truetype(str(FONT_PATH), size=size)
    except OSError:  # the font file is missing: Pillow's own (no CJK glyphs)
        pass
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


@lru_cache(maxsize=8)
def _emoji_font(size: int) -> ImageFont.FreeTypeFont | None:
    """Load the emoji fallback font at ``size`` pixels; None if it cannot be loaded."""
    try:
        return ImageFont.truetype(str(EMOJI_FONT_PATH), size=size)
    except OSError:  # missing or unreadable: every character goes to the primary font
        log.warning("no emoji font at %s; emoji draw as boxes", EMOJI_FONT_PATH)
        return None


@lru_cache(maxsize=4)
def _coverage(path: Path) -> Coverage:
    """The characters the font at ``path`` has; none if its character map cannot be read."""
    try:
        return read_coverage(path)
    except (OSError, ValueError) as exc:
        log.warning("cannot read the character map of %s: %s", path, exc)
        return Coverage([])


def _runs(text: str, size: int) -> list[tuple[str, Font]]:
    """Split ``text`` into runs, each with the font that draws it.

    A character goes to the emoji font when the primary font lacks it and the emoji font has
    it; everything else (Latin, CJK, and what neither has) stays with the primary font.
    """
    text = "".join(ch for ch in text if ord(ch) not in _UNDRAWN)
    primary = _font(size)
    emoji = _emoji_font(size)
    if emoji is None or not isinstance(primary, ImageFont.FreeTypeFont) or not text:
        return [(text, primary)] if text else []
    # Only the shipped primary font's map is known; Pillow's fallback font has no emoji anyway.
    has = _coverage(FONT_PATH) if primary.path == str(FONT_PATH) else Coverage([])
    spare = _coverage(EMOJI_FONT_PATH)
    runs: list[tuple[str, Font]] = []
    start = 0
    current: Font = primary
    for i, ch in enumerate(text):
        font: Font = emoji if not has.has(ch) and spare.has(ch) else primary
        if font is not current and i > start:
            runs.append((text[start:i], current))
            start = i
        current = font
    runs.append((text[start:], current))
    return runs


def _text_width(draw: ImageDraw.ImageDraw, text: str, size: int) -> float:
    """The advance of ``text`` as ``_draw_text`` draws it (run by run)."""
    return sum(
        float(draw.textlength(run, font=font))  # type: ignore[arg-type]
        for run, font in _runs(text, size)
    )


def _draw_text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    *,
    fill: tuple[int, int, int],
    size: int,
) -> None:
    """Draw ``text`` with its top-left at ``xy``: each run in its font, on one baseline."""
    x, y = xy
    primary = _font(size)
    if not isinstance(primary, ImageFont.FreeTypeFont):  # the bitmap font knows no anchors
        draw.text((x, y), "".join(run for run, _ in _runs(text, size)), fill=fill, font=primary)
        return
    baseline = y + primary.getmetrics()[0]
    for run, font in _runs(text, size):
        draw.text((x, baseline), run, fill=fill, font=font, anchor="ls")
        x += float(draw.textlength(run, font=font))  # type: ignore[arg-type]


def render_usage_chart(
    report: UsageReport, *, title: str, names: Mapping[int, str] | None = None
) -> bytes:
    """Return PNG bytes: a bar per day (left), by model and the top members (right)."""
    names = names or {}
    img = Image.new("RGB", (WIDTH, HEIGHT), BG)
    draw = ImageDraw.Draw(img)
    _draw_text(draw, (24, 16), title[:80], fill=FG, size=BIG)
    _draw_text(
        draw,
        (24, 46),
        say("chart.summary", total=report.total, in_flight=report.in_flight),
        fill=MUTED,
        size=SMALL,
    )

    # Bars: credits per day.
    left, top, right, bottom = 70, 90, 640, HEIGHT - 50
    peak = max((c for _, c in report.days), default=0)
    scale_max = max(1, peak)
    for i in range(5):
        y = bottom - (bottom - top) * i / 4
        draw.line((left, y, right, y), fill=GRID, width=1)
        label = format_number(round(scale_max * i / 4))
        x_label = left - 8 - _text_width(draw, label, TINY)
        _draw_text(draw, (x_label, y - 7), label, fill=MUTED, size=TINY)
    n = max(1, len(report.days))
    slot = (right - left) / n
    bar_w = max(1.0, slot * 0.7)
    every = max(1, round(n / 10))
    for i, (day, credits) in enumerate(report.days):
        x0 = left + i * slot + (slot - bar_w) / 2
        h = (bottom - top) * credits / scale_max
        if credits:
            draw.rectangle((x0, bottom - h, x0 + bar_w, bottom), fill=BAR)
        if i % every == 0 or i == n - 1:
            label = day[5:]  # MM-DD
            w = _text_width(draw, label, TINY)
            _draw_text(draw, (x0 + bar_w / 2 - w / 2, bottom + 6), label, fill=MUTED, size=TINY)
    draw.line((left, bottom, right, bottom), fill=MUTED, width=1)

    # Right panel: by model (stacked strip with legend), then top members.
    px = 680
    _draw_text(draw, (px, 90), say("chart.by_model"), fill=FG, size=SMALL)
    total_models = sum(c for _, c in report.by_model)
    x = float(px)
    for i, (_, credits) in enumerate(report.by_model):
        w = 250 * credits / total_models if total_models else 0
        draw.rectangle((x, 116, x + w, 132), fill=MODEL_COLOURS[i % len(MODEL_COLOURS)])
        x += w
    if not report.by_model:
        draw.rectangle((px, 116, px + 250, 132), outline=GRID)
    y = 142
    for i, (model, credits) in enumerate(report.by_model[:5]):
        draw.rectangle((px, y + 3, px + 10, y + 13), fill=MODEL_COLOURS[i % len(MODEL_COLOURS)])
        label = f"{model[:24]}  {format_number(credits)}"
        _draw_text(draw, (px + 16, y), label, fill=FG, size=TINY)
        y += 20
    y = max(y + 16, 250)
    _draw_text(draw, (px, y), say("chart.top_members"), fill=FG, size=SMALL)
    y += 26
    if not report.top_members:
        _draw_text(draw, (px, y), say("chart.nothing_spent"), fill=MUTED, size=TINY)
    for rank, (member, credits) in enumerate(report.top_members[:5], start=1):
        name = names.get(member) or say("chart.member", member=str(member))
        label = f"{rank}. {name[:22]}  {format_number(credits)}"
        _draw_text(draw, (px, y), label, fill=FG, size=TINY)
        y += 20

    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
