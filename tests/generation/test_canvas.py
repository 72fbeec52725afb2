"""Canvas geometry: repaint masks, zoom-out and pan canvases, exact to the pixel."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from bot.generation.canvas import (
    CANVAS_FILL,
    Direction,
    GridCell,
    Pan,
    Repaint,
    ZoomOut,
    build_canvas,
    canvas_ratio,
    limits_for,
    parse_area,
    place,
)
from bot.images import MaskRegion
from bot.refusal import Refusal
from bot.toapis.catalog import CATALOG, GPT_4O_IMAGE, GPT_IMAGE_15
from tests.masks import assert_mask_keeps_exactly, extrema

SIZES_15 = CATALOG[GPT_IMAGE_15].sizes
SIZES_4O = CATALOG[GPT_4O_IMAGE].sizes
BIG = 10**9


def noisy(width: int, height: int, seed: int = 1) -> Image.Image:
    """An image whose every pixel differs from its neighbours (so misplacement shows)."""
    rng = random.Random(seed)
    img = Image.new("RGB", (width, height))
    img.putdata(
        [
            (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            for _ in range(width * height)
        ]
    )
    return img


def encode(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return img.copy()


def alpha(data: bytes) -> Image.Image:
    return decode(data).convert("RGBA").getchannel("A")


def run(edit: ZoomOut | Pan, img: Image.Image, sizes: tuple[str, ...] = SIZES_15, **kw: int):  # type: ignore[no-untyped-def]
    ratio = canvas_ratio(edit, img.width, img.height, sizes)
    built = build_canvas(
        edit,
        encode(img),
        ratio=ratio,
        max_pixels=kw.get("max_pixels", BIG),
        max_bytes=kw.get("max_bytes", BIG),
        max_mask_bytes=kw.get("max_mask_bytes", BIG),
    )
    return ratio, built


# -- zoom out ---------------------------------------------------------------------------------


@pytest.mark.parametrize("factor", [1.5, 2.0])
def test_zoom_out_centres_the_image_on_a_canvas_factor_times_larger(factor: float) -> None:
    img = noisy(60, 40)
    ratio, built = run(ZoomOut(factor), img)
    assert ratio == "3:2"
    assert (built.width, built.height) == (int(60 * factor), int(40 * factor))
    canvas = decode(built.image)
    assert canvas.size == (built.width, built.height)
    left, top = (built.width - 60) // 2, (built.height - 40) // 2
    assert built.box == (left, top, left + 60, top + 40)
    assert canvas.crop(built.box).tobytes() == img.tobytes()  # the original, pixel for pixel
    assert canvas.getpixel((0, 0)) == CANVAS_FILL
    mask = alpha(built.mask)
    assert mask.size == canvas.size
    assert_mask_keeps_exactly(mask, built.box)


def test_zoom_out_snaps_to_the_nearest_supported_ratio_at_least_factor_on_the_binding_axis() -> (
    None
):
    # 100x37 is 2.70:1; the nearest ratio gpt-image takes is 21:9 (2.33), so the height binds
    # less than the width: width 200 needs k=ceil(200/21)=10 -> 210x90 (height 90 >= 74).
    img = noisy(100, 37)
    ratio, built = run(ZoomOut(2.0), img)
    assert ratio == "21:9"
    assert (built.width, built.height) == (210, 90)
    assert built.width >= 200 and built.height >= 74
    assert built.width * 9 == built.height * 21  # exactly the ratio
    left, top, right, bottom = built.box
    assert (right - left, bottom - top) == (100, 37)
    assert (left, top) == ((210 - 100) // 2, (90 - 37) // 2)
    assert decode(built.image).crop(built.box).tobytes() == img.tobytes()
    assert_mask_keeps_exactly(alpha(built.mask), built.box)


def test_zoom_out_for_gpt_4o_uses_its_three_sizes() -> None:
    img = noisy(64, 36)  # 16:9, which gpt-4o-image does not take: 3:2 is nearest
    ratio, built = run(ZoomOut(1.5), img, SIZES_4O)
    assert ratio == "3:2"
    assert built.width * 2 == built.height * 3
    assert built.width >= 96 and built.height >= 54


def test_a_canvas_above_the_pixel_limit_is_scaled_down_with_exact_geometry() -> None:
    img = noisy(90, 60)
    ratio, built = run(ZoomOut(2.0), img, max_pixels=120 * 80)
    assert ratio == "3:2"
    assert built.width * built.height <= 120 * 80
    assert built.width * 2 == built.height * 3
    left, top, right, bottom = built.box
    # The image was scaled by the same factor as the canvas (180x120 -> 120x80: 2/3).
    assert (right - left, bottom - top) == (60, 40)
    canvas = decode(built.image)
    expected = img.resize((60, 40), Image.Resampling.LANCZOS)
    assert canvas.crop(built.box).tobytes() == expected.tobytes()
    assert_mask_keeps_exactly(alpha(built.mask), built.box)


def test_a_canvas_above_the_byte_limit_shrinks_until_it_fits() -> None:
    img = noisy(120, 80)
    full = run(ZoomOut(2.0), img)[1]
    limit = len(full.image) // 2
    _, built = run(ZoomOut(2.0), img, max_bytes=limit)
    assert len(built.image) <= limit
    assert built.width < full.width and built.width * 2 == built.height * 3
    assert_mask_keeps_exactly(alpha(built.mask), built.box)


def test_no_canvas_fits_an_impossible_limit() -> None:
    with pytest.raises(Refusal):
        run(ZoomOut(2.0), noisy(40, 40), max_bytes=10)


# -- pan --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("direction", "ratio", "size", "origin"),
    [
        # 80x80 extended by 40 to the side: 120x80 is 3:2 exactly.
        (Direction.RIGHT, "3:2", (120, 80), (0, 0)),
        (Direction.LEFT, "3:2", (120, 80), (40, 0)),
        (Direction.DOWN, "2:3", (80, 120), (0, 0)),
        (Direction.UP, "2:3", (80, 120), (0, 40)),
    ],
)
def test_pan_extends_one_side_by_half_the_image(
    direction: Direction, ratio: str, size: tuple[int, int], origin: tuple[int, int]
) -> None:
    img = noisy(80, 80)
    got_ratio, built = run(Pan(direction), img)
    assert got_ratio == ratio
    assert (built.width, built.height) == size
    assert built.box == (origin[0], origin[1], origin[0] + 80, origin[1] + 80)
    canvas = decode(built.image)
    assert canvas.crop(built.box).tobytes() == img.tobytes()
    assert_mask_keeps_exactly(alpha(built.mask), built.box)


def test_pan_of_the_widest_ratio_grows_across_too_and_keeps_the_image_against_its_side() -> None:
    # 210x90 (21:9) panned right needs 315x90 (3.5:1); 21:9 is the widest ratio, so the canvas
    # is 21:9 again, wide enough (k=15: 315x135) and the image is centred vertically.
    img = noisy(210, 90)
    ratio, built = run(Pan(Direction.RIGHT), img)
    assert ratio == "21:9"
    assert (built.width, built.height) == (315, 135)
    assert built.box == (0, 22, 210, 112)
    assert decode(built.image).crop(built.box).tobytes() == img.tobytes()
    assert_mask_keeps_exactly(alpha(built.mask), built.box)


def test_place_snaps_pan_to_the_nearest_ratio() -> None:
    # 160x90 panned right wants 240x90 (2.67:1): 21:9 is nearest; 21*k >= 240 -> k=12: 252x108.
    spot = place(
        Pan(Direction.RIGHT), 160, 90, canvas_ratio(Pan(Direction.RIGHT), 160, 90, SIZES_15)
    )
    assert (spot.width, spot.height) == (252, 108)
    assert spot.box == (0, 9, 160, 99)


# -- repaint ----------------------------------------------------------------------------------


def test_repaint_mask_is_transparent_exactly_over_the_chosen_cells() -> None:
    img = noisy(91, 61)
    data = encode(img)
    edit = Repaint((GridCell.TOP_LEFT, GridCell.CENTRE))
    built = build_canvas(edit, data, max_pixels=BIG, max_bytes=BIG, max_mask_bytes=BIG)
    assert built.image == data  # the image itself goes unchanged
    mask = alpha(built.mask)
    assert mask.size == (91, 61)
    holes = [GridCell.TOP_LEFT.box(91, 61), GridCell.CENTRE.box(91, 61)]
    assert holes == [(0, 0, 30, 20), (30, 20, 61, 41)]
    for x in range(91):
        for y in range(61):
            inside = any(x0 <= x < x1 and y0 <= y < y1 for x0, y0, x1, y1 in holes)
            assert mask.getpixel((x, y)) == (0 if inside else 255), (x, y)


def test_grid_cells_tile_the_image() -> None:
    covered = [[0] * 50 for _ in range(31)]
    for cell in GridCell:
        left, top, right, bottom = cell.box(50, 31)
        for y in range(top, bottom):
            for x in range(left, right):
                covered[y][x] += 1
    assert all(v == 1 for row in covered for v in row)


def test_repaint_with_a_preset_and_a_cell_is_their_union() -> None:
    data = encode(noisy(60, 60))
    edit = Repaint((MaskRegion.TOP_HALF, GridCell.BOTTOM_RIGHT))
    mask = alpha(build_canvas(edit, data, max_pixels=BIG, max_bytes=BIG, max_mask_bytes=BIG).mask)
    assert extrema(mask, (0, 0, 60, 30)) == (0, 0)
    assert extrema(mask, (40, 40, 60, 60)) == (0, 0)
    assert extrema(mask, (0, 30, 60, 40)) == (255, 255)
    assert extrema(mask, (0, 40, 40, 60)) == (255, 255)


def test_select_values_name_presets_and_cells() -> None:
    assert parse_area("cell-2-0") is GridCell.BOTTOM_LEFT
    assert parse_area("top half") is MaskRegion.TOP_HALF
    with pytest.raises(ValueError):
        parse_area("cell-3-3")


def test_model_limits_cap_the_canvas_at_the_largest_picture_the_model_paints() -> None:
    limits_15 = limits_for(CATALOG[GPT_IMAGE_15], 10 * 1024 * 1024)
    limits_4o = limits_for(CATALOG[GPT_4O_IMAGE], 10 * 1024 * 1024)
    assert limits_15 == {
        "max_pixels": 3840 * 2160,
        "max_bytes": 10 * 1024 * 1024,
        "max_mask_bytes": 10 * 1024 * 1024,
    }
    assert limits_4o == {
        "max_pixels": 1536 * 1024,
        "max_bytes": 10 * 1024 * 1024,
        "max_mask_bytes": 4 * 1024 * 1024,
    }
    # A 2x zoom of a 1024x1024 gpt-4o result would be 2048x2048: it is scaled to fit.
    img = Image.new("RGB", (1024, 1024), (10, 200, 30))
    ratio = canvas_ratio(ZoomOut(2.0), 1024, 1024, SIZES_4O)
    built = build_canvas(ZoomOut(2.0), encode(img), ratio=ratio, **limits_4o)
    assert ratio == "1:1" and built.width == built.height
    assert built.width * built.height <= 1536 * 1024
    left, top, right, bottom = built.box
    assert right - left == bottom - top == round(1024 * built.width / 2048)
    assert_mask_keeps_exactly(alpha(built.mask), built.box)
