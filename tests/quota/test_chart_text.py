"""The usage chart draws Chinese and emoji: the shipped font has CJK glyphs (Pillow's default
draws boxes), and what it lacks ("小明🎨") draws with the shipped emoji font, not as boxes."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFont

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


WHITE = (255, 255, 255)
#: A private-use character neither shipped font has: what a box (the notdef glyph) looks like.
NEITHER = "\U0010fffd"
REPORT = UsageReport(
    days=[("2026-01-01", 3), ("2026-01-02", 12)],
    top_members=[(7, 10), (8, 5)],
    by_model=[("gpt-image-1.5-official", 15)],
    in_flight=2,
)


@pytest.fixture(autouse=True)
def _fresh_fonts() -> Iterator[None]:
    """Each test loads the fonts itself (one test swaps the emoji font's path)."""
    cached = [getattr(chart, name, None) for name in ("_font", "_emoji_font", "_coverage")]
    for function in cached:
        getattr(function, "cache_clear", lambda: None)()
    yield
    for function in cached:
        getattr(function, "cache_clear", lambda: None)()


def _canvas(
    paint: Callable[[ImageDraw.ImageDraw], None], size: tuple[int, int] = (320, 48)
) -> Image.Image:
    image = Image.new("RGB", size)
    paint(ImageDraw.Draw(image))
    return image


def _label(text: str, size: int = 24, x: float = 4) -> Image.Image:
    """``text`` as the chart draws it, top-left at (x, 4)."""
    return _canvas(lambda d: chart._draw_text(d, (x, 4), text, fill=WHITE, size=size))


def _with(font: ImageFont.FreeTypeFont, text: str, size: int = 24) -> Image.Image:
    """``text`` drawn directly with ``font``, on the chart's baseline for ``size``."""
    baseline = 4 + chart._font(size).getmetrics()[0]  # type: ignore[union-attr]
    return _canvas(lambda d: d.text((4, baseline), text, fill=WHITE, font=font, anchor="ls"))


def _chart(names: dict[int, str], title: str = "Usage") -> Image.Image:
    with i18n.speaking("zh-CN"):
        png = chart.render_usage_chart(REPORT, title=title, names=names)
    with Image.open(io.BytesIO(png)) as image:
        return image.convert("RGB")


def test_an_emoji_draws_with_the_emoji_font_and_not_as_the_primary_fonts_box() -> None:
    primary, emoji = chart._font(24), chart._emoji_font(24)
    assert isinstance(primary, ImageFont.FreeTypeFont) and emoji is not None
    assert emoji.path == str(chart.EMOJI_FONT_PATH)
    box = _with(primary, NEITHER)
    drawn = {}
    for ch in "🦊🎨✨⭐😀":
        got = _label(ch)
        assert got.getbbox() is not None, f"{ch} drew nothing"
        assert got.tobytes() == _with(emoji, ch).tobytes(), f"{ch} is not the emoji font's glyph"
        assert got.tobytes() != box.tobytes(), f"{ch} drew as a box"
        # What the chart drew before: the primary font's box (the same for every emoji).
        assert _with(primary, ch).tobytes() == box.tobytes()
        drawn[ch] = got.tobytes()
    assert len(set(drawn.values())) == len(drawn)  # each emoji its own shape


def test_a_member_name_with_an_emoji_shows_that_emoji_in_the_chart() -> None:
    fox, palette = _chart({7: "小明🦊"}), _chart({7: "小明🎨"})
    tofu = _chart({7: f"小明{NEITHER}"})
    changed = ImageChops.difference(fox, palette).getbbox()
    # With boxes for emoji the three charts are the same picture; now the names differ, there only.
    assert changed is not None and ImageChops.difference(fox, tofu).getbbox() is not None
    left, top, right, bottom = changed
    assert left >= 680 and right <= chart.WIDTH and top >= 276 and bottom <= 296  # 1st member row


def test_chinese_emoji_and_latin_in_one_label_each_draw_with_their_font() -> None:
    primary, emoji = chart._font(24), chart._emoji_font(24)
    assert isinstance(primary, ImageFont.FreeTypeFont) and emoji is not None
    text = "Alice 小明 🦊✨ 1"
    assert chart._runs(text, 24) == [("Alice 小明 ", primary), ("🦊✨", emoji), (" 1", primary)]
    # Measured run by run, like it is drawn: the pieces side by side are the label.
    widths = [primary.getlength("Alice 小明 "), emoji.getlength("🦊✨"), primary.getlength(" 1")]
    image = _canvas(lambda d: None)
    assert chart._text_width(ImageDraw.Draw(image), text, 24) == pytest.approx(sum(widths))
    baseline = 4 + primary.getmetrics()[0]

    def pieces(d: ImageDraw.ImageDraw) -> None:
        d.text((4, baseline), "Alice 小明 ", fill=WHITE, font=primary, anchor="ls")
        d.text((4 + widths[0], baseline), "🦊✨", fill=WHITE, font=emoji, anchor="ls")
        d.text((4 + widths[0] + widths[1], baseline), " 1", fill=WHITE, font=primary, anchor="ls")

    assert _label(text).tobytes() == _canvas(pieces).tobytes()
    # Right-aligned with that width, the label ends at its right edge (no overhang, no gap).
    right = 300.0
    x = right - chart._text_width(ImageDraw.Draw(image), "🦊 12", 24)
    ink = _label("🦊 12", x=x).getbbox()
    assert ink is not None and right - 4 <= ink[2] <= right + 1


def test_joiners_and_presentation_selectors_are_dropped_so_parts_draw_side_by_side() -> None:
    emoji = chart._emoji_font(24)
    assert chart._runs("👩\u200d🎨", 24) == [("👩🎨", emoji)]
    assert chart._runs("❤\ufe0f", 24) == [("❤", emoji)]
    assert chart._runs("\ufe0f\u200d", 24) == []
    assert _label("👩\u200d🎨").tobytes() == _label("👩🎨").tobytes()
    assert _label("小明 ❤\ufe0f").tobytes() == _label("小明 ❤").tobytes()
    assert _label("\ufe0f").getbbox() is None  # nothing, not a box


def test_characters_the_primary_font_has_stay_with_it() -> None:
    primary = chart._font(24)
    # WenQuanYi has a star and the arrows of its CJK punctuation; Symbola has them too.
    assert chart._runs("★ ← ©", 24) == [("★ ← ©", primary)]
    assert chart._runs(f"a{NEITHER}b", 24) == [(f"a{NEITHER}b", primary)]  # neither: a box


@pytest.mark.parametrize("damage", ["missing", "not a font"])
def test_without_the_emoji_font_emoji_draw_as_boxes_and_nothing_breaks(
    damage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "symbola-emoji.ttf"
    if damage == "not a font":
        path.write_bytes(b"\x00\x01\x00\x00 this is not a font" * 20)
    monkeypatch.setattr(chart, "EMOJI_FONT_PATH", path)
    primary = chart._font(24)
    assert chart._emoji_font(24) is None
    assert chart._runs("小明🎨", 24) == [("小明🎨", primary)]
    assert _label("小明🎨").tobytes() == _with(primary, "小明🎨").tobytes()  # type: ignore[arg-type]
    image = _chart({7: "小明🎨", 8: "Alice 🦊✨"}, title="用量 🎨")
    assert image.size == (chart.WIDTH, chart.HEIGHT)
