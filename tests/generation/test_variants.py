"""Re-roll, Vary and Upscale start from the job's own options."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.generation import (
    canvas_options,
    nearest_size,
    options_of,
    remix_options,
    upscale_options,
)
from bot.generation.canvas import Direction, Pan, Repaint, ZoomOut
from bot.images import MaskRegion
from bot.jobs.records import Job, decode_request
from bot.jobs.states import ChargeState, JobState
from bot.refusal import Refusal


def _job(request_json: str) -> Job:
    return Job(
        id=7,
        state=JobState.DELIVERED,
        charge_state=ChargeState.RELEASED,
        member_id=1,
        request=decode_request(request_json),
        created_at=0.0,
        updated_at=0.0,
    )


WIDE = (
    '{"model": "gpt-image-1.5-official", "prompt": "p", "size": "16:9", "resolution": "1k", "n": 2}'
)


def test_options_of_repeats_the_request_exactly() -> None:
    options = options_of(_job(WIDE))
    assert (options.prompt, options.size, options.resolution, options.count) == (
        "p",
        "16:9",
        "1k",
        2,
    )


def test_upscale_goes_to_4k_where_the_ratio_allows_and_one_image() -> None:
    options = upscale_options(_job(WIDE), 1920, 1080)
    assert options.resolution == "4k" and options.count == 1 and options.size == "16:9"


def test_upscale_of_a_4k_image_is_refused_with_a_reason() -> None:
    top = _job(WIDE.replace('"1k"', '"4k"'))
    with pytest.raises(Refusal, match="already at 4K"):
        upscale_options(top, 3840, 2160)
    assert replace(top, id=8).request.resolution == "4k"


def test_nearest_size_picks_the_closest_ratio_the_model_takes() -> None:
    sizes = ("1:1", "3:2", "2:3", "16:9", "9:16", "21:9")
    assert nearest_size(1920, 1080, sizes) == "16:9"
    assert nearest_size(1000, 1010, sizes) == "1:1"
    assert nearest_size(640, 960, sizes) == "2:3"


def test_upscale_of_a_4o_image_moves_to_a_model_that_takes_resolutions() -> None:
    square = _job('{"model": "gpt-4o-image", "prompt": "p", "size": "1:1", "n": 2}')
    up = upscale_options(square, 1024, 1024)
    assert (up.model, up.size, up.resolution, up.quality, up.count) == (
        "gpt-image-1.5-official",
        "1:1",
        "2k",
        None,
        1,
    )


WIDE_4K = (
    '{"model": "gpt-image-1.5-official", "prompt": "p", "size": "16:9", "resolution": "4k",'
    ' "quality": "high", "n": 1}'
)


def test_zoom_out_keeps_4k_where_the_canvas_ratio_has_it() -> None:
    options = canvas_options(_job(WIDE_4K), ZoomOut(2.0), 3840, 2160, "more sky")
    assert (options.prompt, options.size, options.resolution) == ("more sky", "16:9", "4k")
    assert (options.quality, options.count, options.model) == ("high", 1, "gpt-image-1.5-official")


def test_pan_up_of_a_wide_4k_image_falls_back_to_2k() -> None:
    # 3840x2160 extended up by half: 3840x3240, nearest 5:4, which has no 4K.
    options = canvas_options(_job(WIDE_4K), Pan(Direction.UP), 3840, 2160, "p")
    assert (options.size, options.resolution) == ("5:4", "2k")


def test_repaint_keeps_the_image_ratio() -> None:
    options = canvas_options(_job(WIDE), Repaint((MaskRegion.CENTRE,)), 1536, 864, "hat")
    assert (options.size, options.resolution, options.count) == ("16:9", "1k", 2)


def test_gpt_4o_canvas_uses_its_own_sizes() -> None:
    job = _job('{"model": "gpt-4o-image", "prompt": "p", "size": "1:1", "n": 1}')
    options = canvas_options(job, Pan(Direction.RIGHT), 1024, 1024, "p")
    assert options.size == "3:2" and options.resolution is None


def test_remix_changes_only_the_prompt() -> None:
    assert remix_options(_job(WIDE), "q") == replace(options_of(_job(WIDE)), prompt="q")
