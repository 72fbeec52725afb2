"""The usage chart draws Chinese: the shipped font has CJK glyphs (Pillow's default draws boxes)."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

from bot import i18n
from bot.quota import chart
from bot.quota.records import UsageReport


def _glyph(font: ImageFont.FreeTypeFont | ImageFont.ImageFont, ch: str) -> bytes:
    image = Image.new("L", (64, 64))

    ImageDraw.Draw(image).text((4, 4), ch, fill=255, font=font)
    return image.tobytes()


def test_the_shipped_font_has_distinct_cjk_glyphs_where_the_default_has_boxes() -> None:
    font = chart._font(24)
    assert isinstance(font, ImageFont.FreeTypeFont)
    assert font.path == str(chart.FONT_PATH)
    blank = bytes(64 * 64)
    shapes = {_glyph(font, ch) for ch in "你好额度用量"}
    assert len(shapes) == 6 and blank not in shapes  # six different, drawn characters
    # The check can fail: Pillow's default font draws every one of them as the same box.
    default = ImageFont.load_default(size=24)
    assert len({_glyph(default, ch) for ch in "你好额度用量"}) == 1


def test_a_chinese_chart_renders() -> None:
    report = UsageReport(
        days=[("2026-01-01", 3), ("2026-01-02", 12)],
        top_members=[(7, 10), (8, 5)],
        by_model=[("gpt-image-1.5-official", 15)],
        in_flight=2,
    )
    with i18n.speaking("zh-CN"):
        png = chart.render_usage_chart(report, title="最近 2 天每日额度", names={7: "小明"})
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (chart.WIDTH, chart.HEIGHT)
