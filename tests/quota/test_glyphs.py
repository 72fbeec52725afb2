"""The chart's character-map reader: which characters a font draws with a glyph of its own."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from bot.quota import chart
from bot.quota.glyphs import Coverage, read_coverage


def _format4(segments: list[tuple[int, int, int, list[int] | None]]) -> bytes:
    """A format 4 subtable: (start, end, delta, glyph ids or None for code + delta)."""
    segments = [*segments, (0xFFFF, 0xFFFF, 1, None)]
    count = len(segments)
    glyph_ids: list[int] = []
    offsets = []
    for i, (_, _, _, ids) in enumerate(segments):
        if ids is None:
            offsets.append(0)
        else:
            offsets.append(2 * (count - i) + 2 * len(glyph_ids))
            glyph_ids += ids
    body = struct.pack(f">{count}H", *(s[1] for s in segments)) + b"\0\0"
    body += struct.pack(f">{count}H", *(s[0] for s in segments))
    body += struct.pack(f">{count}h", *(s[2] for s in segments))
    body += struct.pack(f">{count}H", *offsets) + struct.pack(f">{len(glyph_ids)}H", *glyph_ids)
    return struct.pack(">7H", 4, 14 + len(body), 0, 2 * count, 0, 0, 0) + body


def _format12(groups: list[tuple[int, int, int]]) -> bytes:
    body = b"".join(struct.pack(">III", *g) for g in groups)
    return struct.pack(">HHIII", 12, 0, 16 + len(body), 0, len(groups)) + body


def _cmap(subtables: list[tuple[int, int, bytes]]) -> bytes:
    records, bodies = b"", b""
    start = 4 + 8 * len(subtables)
    for platform, encoding, body in subtables:
        records += struct.pack(">HHI", platform, encoding, start + len(bodies))
        bodies += body
    return struct.pack(">HH", 0, len(subtables)) + records + bodies


def _font_file(cmap: bytes | None, at: int = 0) -> bytes:
    """A table directory (placed at offset ``at`` of the file) with only a cmap table."""
    if cmap is None:
        return struct.pack(">IHHHH", 0x00010000, 1, 16, 0, 0) + struct.pack(
            ">4sIII", b"head", 0, at + 28, 0
        )
    directory = struct.pack(">IHHHH", 0x00010000, 1, 16, 0, 0)
    directory += struct.pack(">4sIII", b"cmap", 0, at + 28, len(cmap))
    return directory + cmap


def _codes(coverage: Coverage, below: int = 0x110000) -> set[int]:
    return {c for c in range(below) if c in coverage}


def test_a_format_4_map_leaves_out_what_maps_to_notdef(tmp_path: Path) -> None:
    subtable = _format4(
        [
            (0x30, 0x32, -0x31, None),  # "1" lands on glyph 0: missing
            (0x41, 0x43, 1 - 0x41, None),  # A B C -> glyphs 1 2 3
            (0x4E00, 0x4E03, 0, [5, 0, 6, 7]),  # U+4E01 -> glyph 0: missing
        ]
    )
    path = tmp_path / "four.ttf"
    path.write_bytes(_font_file(_cmap([(3, 1, subtable)])))
    coverage = read_coverage(path)
    assert _codes(coverage, 0x10000) == {0x30, 0x32, 0x41, 0x42, 0x43, 0x4E00, 0x4E02, 0x4E03}
    assert coverage.has("A") and not coverage.has("1") and not coverage.has("\uffff")
    assert len(coverage) == 8


def test_a_full_unicode_map_is_preferred_and_a_collection_face_chosen(tmp_path: Path) -> None:
    bmp = _format4([(0x41, 0x41, 1 - 0x41, None)])
    full = _format12([(0x41, 0x42, 1), (0x1F600, 0x1F602, 0)])  # U+1F600 -> glyph 0
    face0 = _cmap([(3, 1, bmp), (3, 10, full)])
    face1 = _cmap([(0, 3, _format4([(0x5B57, 0x5B57, 9 - 0x5B57, None)]))])
    first = _font_file(face0, at=20)
    second = _font_file(face1, at=20 + len(first))
    header = b"ttcf" + struct.pack(">III", 0x00010000, 2, 20) + struct.pack(">I", 20 + len(first))
    path = tmp_path / "pair.ttc"
    path.write_bytes(header + first + second)
    assert _codes(read_coverage(path, 0)) == {0x41, 0x42, 0x1F601, 0x1F602}
    assert _codes(read_coverage(path, 1)) == {0x5B57}
    with pytest.raises(ValueError, match="face 2"):
        read_coverage(path, 2)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a font at all",
        _font_file(None),  # no cmap table
        _font_file(_cmap([(1, 0, struct.pack(">HHH", 6, 10, 0))])),  # a Mac-only map
        _font_file(_cmap([(3, 1, _format4([(0x41, 0x42, 0, None)]))]))[:-20],  # cut short
    ],
)
def test_what_is_not_a_readable_font_is_refused_with_value_error(
    content: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "broken.ttf"
    path.write_bytes(content)
    with pytest.raises(ValueError):
        read_coverage(path)
    with pytest.raises(OSError):
        read_coverage(tmp_path / "absent.ttf")


def test_the_shipped_fonts_maps_agree_with_what_pillow_draws() -> None:
    """A character outside the map draws as the notdef box; one inside draws something else."""
    primary = ImageFont.truetype(str(chart.FONT_PATH), size=20)
    emoji = ImageFont.truetype(str(chart.EMOJI_FONT_PATH), size=20)

    def drawn(font: ImageFont.FreeTypeFont, ch: str) -> bytes:
        image = Image.new("L", (40, 40))
        ImageDraw.Draw(image).text((4, 4), ch, fill=255, font=font)
        return image.tobytes()

    for path, font in ((chart.FONT_PATH, primary), (chart.EMOJI_FONT_PATH, emoji)):
        coverage = read_coverage(path)
        box = drawn(font, "\U0010fffd")
        for ch in "AZg你额度★←©😀🦊🎨✨⭐❤⌚ℹ🀄":
            assert (drawn(font, ch) != box) == coverage.has(ch), (path.name, ch)
    wqy, symbola = read_coverage(chart.FONT_PATH), read_coverage(chart.EMOJI_FONT_PATH)
    assert len(wqy) > 20_000 and all(wqy.has(ch) for ch in "Atelier 你好额度")
    assert not any(wqy.has(ch) for ch in "😀🦊🎨✨")
    assert all(symbola.has(ch) for ch in "😀🦊🎨✨⭐❤") and not symbola.has("A")
