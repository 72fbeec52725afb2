"""Render a usage report to a PNG chart with Pillow: credits per day as bars, by model as a
stacked strip, and the top members listed. No Discord, no matplotlib."""

from __future__ import annotations

import io
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bot.i18n import format_number
from bot.messages import say
from bot.quota.records import UsageReport

__all__ = ["render_usage_chart"]

WIDTH, HEIGHT = 960, 480
BG = (30, 31, 34)
FG = (230, 230, 235)
MUTED = (150, 152, 160)
GRID = (60, 62, 68)
BAR = (88, 101, 242)
MODEL_COLOURS = [(88, 101, 242), (235, 69, 158), (87, 242, 135), (254, 231, 92), (237, 66, 69)]


#: WenQuanYi Micro Hei (Apache-2.0, bot/fonts/wqy-microhei.LICENSE): Latin and CJK glyphs in one
#: font, so Chinese labels and member names draw as text, not boxes (Pillow's default cannot).
FONT_PATH = Path(__file__).resolve().parent.parent / "fonts" / "wqy-microhei.ttc"


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(str(FONT_PATH), size=size)
    except OSError:  # the font file is missing: Pillow's own (no CJK glyphs)
        pass
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _text_width(draw: ImageDraw.ImageDraw, text: str, font: object) -> float:
    return float(draw.textlength(text, font=font))  # type: ignore[arg-type]


def render_usage_chart(
    report: UsageReport, *, title: str, names: Mapping[int, str] | None = None
) -> bytes:
    """Return PNG bytes: a bar per day (left), by model and the top members (right)."""
    names = names or {}
    img = Image.new("RGB", (WIDTH, HEIGHT), BG)
    draw = ImageDraw.Draw(img)
    big, small, tiny = _font(22), _font(15), _font(12)
    draw.text((24, 16), title[:80], fill=FG, font=big)
    draw.text(
        (24, 46),
        say("chart.summary", total=report.total, in_flight=report.in_flight),
        fill=MUTED,
        font=small,
    )

    # Bars: credits per day.
    left, top, right, bottom = 70, 90, 640, HEIGHT - 50
    peak = max((c for _, c in report.days), default=0)
    scale_max = max(1, peak)
    for i in range(5):
        y = bottom - (bottom - top) * i / 4
        draw.line((left, y, right, y), fill=GRID, width=1)
        label = format_number(round(scale_max * i / 4))
        draw.text((left - 8 - _text_width(draw, label, tiny), y - 7), label, fill=MUTED, font=tiny)
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
            w = _text_width(draw, label, tiny)
            draw.text((x0 + bar_w / 2 - w / 2, bottom + 6), label, fill=MUTED, font=tiny)
    draw.line((left, bottom, right, bottom), fill=MUTED, width=1)

    # Right panel: by model (stacked strip with legend), then top members.
    px = 680
    draw.text((px, 90), say("chart.by_model"), fill=FG, font=small)
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
        draw.text((px + 16, y), f"{model[:24]}  {format_number(credits)}", fill=FG, font=tiny)
        y += 20
    y = max(y + 16, 250)
    draw.text((px, y), say("chart.top_members"), fill=FG, font=small)
    y += 26
    if not report.top_members:
        draw.text((px, y), say("chart.nothing_spent"), fill=MUTED, font=tiny)
    for rank, (member, credits) in enumerate(report.top_members[:5], start=1):
        name = names.get(member) or say("chart.member", member=str(member))
        draw.text((px, y), f"{rank}. {name[:22]}  {format_number(credits)}", fill=FG, font=tiny)
        y += 20

    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
