"""Which characters a TrueType font has, read from its character map (``cmap`` table).

Pillow draws a character a font lacks as the font's notdef box and cannot tell which characters
those are, so the chart reads the fonts' maps itself: Unicode subtables of format 12 (full
Unicode) or 4 (the Basic Multilingual Plane), which every Unicode TrueType font carries; one
face of a collection (``.ttc``) too. Pure Python, read once per font.
"""

from __future__ import annotations

import bisect
import struct
from pathlib import Path

__all__ = ["Coverage", "read_coverage"]

#: Unicode subtables, best first: (platform, encoding, format).
_PREFERRED = ((3, 10, 12), (0, 6, 12), (0, 4, 12), (3, 1, 4), (0, 3, 4), (0, 2, 4), (0, 1, 4))


class Coverage:
    """A set of code points, held as sorted inclusive ranges."""

    def __init__(self, ranges: list[tuple[int, int]]) -> None:
        merged: list[tuple[int, int]] = []
        for start, end in sorted(ranges):
            if merged and start <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        self._starts = [start for start, _ in merged]
        self._ends = [end for _, end in merged]

    def __contains__(self, code: object) -> bool:
        if not isinstance(code, int):
            return False
        i = bisect.bisect_right(self._starts, code) - 1
        return i >= 0 and code <= self._ends[i]

    def __len__(self) -> int:
        return sum(end - start + 1 for start, end in zip(self._starts, self._ends, strict=True))

    def has(self, ch: str) -> bool:
        """Tell whether the font draws ``ch`` (one character) with a glyph of its own."""
        return ord(ch) in self


def read_coverage(path: str | Path, index: int = 0) -> Coverage:
    """Read the characters face ``index`` of the font file at ``path`` maps to a glyph.

    Raises ``OSError`` if the file cannot be read, ``ValueError`` if it is not a font with a
    Unicode character map.
    """
    data = Path(path).read_bytes()
    try:
        return Coverage(_ranges(data, index))
    except (struct.error, IndexError) as exc:
        raise ValueError(f"{path}: a damaged font file") from exc


def _ranges(data: bytes, index: int) -> list[tuple[int, int]]:
    directory = 0
    if data[:4] == b"ttcf":  # a collection: the offsets of its faces' table directories
        (faces,) = struct.unpack_from(">I", data, 8)
        if not 0 <= index < faces:
            raise ValueError(f"the collection has {faces} faces, not face {index}")
        (directory,) = struct.unpack_from(">I", data, 12 + 4 * index)
    (tables,) = struct.unpack_from(">H", data, directory + 4)
    cmap = None
    for i in range(tables):
        tag, _checksum, offset, _length = struct.unpack_from(
            ">4sIII", data, directory + 12 + 16 * i
        )
        if tag == b"cmap":
            cmap = offset
    if cmap is None:
        raise ValueError("the font has no cmap table")
    _version, subtables = struct.unpack_from(">HH", data, cmap)
    found: dict[tuple[int, int, int], int] = {}
    for i in range(subtables):
        platform, encoding, offset = struct.unpack_from(">HHI", data, cmap + 4 + 8 * i)
        (fmt,) = struct.unpack_from(">H", data, cmap + offset)
        found.setdefault((platform, encoding, fmt), cmap + offset)
    for key in _PREFERRED:
        if key in found:
            read = _format12 if key[2] == 12 else _format4
            return read(data, found[key])
    raise ValueError("the font has no Unicode character map")


def _format12(data: bytes, at: int) -> list[tuple[int, int]]:
    (groups,) = struct.unpack_from(">I", data, at + 12)
    ranges = []
    for i in range(groups):
        start, end, glyph = struct.unpack_from(">III", data, at + 16 + 12 * i)
        if glyph == 0:  # the first code point maps to notdef: missing
            start += 1
        if start <= end:
            ranges.append((start, end))
    return ranges


def _format4(data: bytes, at: int) -> list[tuple[int, int]]:
    (seg_x2,) = struct.unpack_from(">H", data, at + 6)
    segments = seg_x2 // 2
    ends_at = at + 14
    starts_at = ends_at + seg_x2 + 2  # after the reserved pad
    deltas_at = starts_at + seg_x2
    range_offsets_at = deltas_at + seg_x2
    ranges: list[tuple[int, int]] = []
    for i in range(segments):
        (end,) = struct.unpack_from(">H", data, ends_at + 2 * i)
        (start,) = struct.unpack_from(">H", data, starts_at + 2 * i)
        (delta,) = struct.unpack_from(">h", data, deltas_at + 2 * i)
        where = range_offsets_at + 2 * i
        (range_offset,) = struct.unpack_from(">H", data, where)
        end = min(end, 0xFFFE)  # 0xFFFF closes the table; it is not a character
        if start > end:
            continue
        if range_offset == 0:
            # Glyph = code + delta (mod 65536); only one code point can land on notdef.
            notdef = (-delta) % 0x10000
            if start <= notdef <= end:
                ranges += [(start, notdef - 1), (notdef + 1, end)]
            else:
                ranges.append((start, end))
            continue
        for code in range(start, end + 1):
            (glyph,) = struct.unpack_from(">H", data, where + range_offset + 2 * (code - start))
            if glyph != 0 and (glyph + delta) % 0x10000 != 0:
                ranges.append((code, code))
    return [(s, e) for s, e in ranges if s <= e]
