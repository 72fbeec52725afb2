"""Downloaded references: verified, converted, fitted under the upload limit, kept, off the loop."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from PIL import Image

from bot.generation import UPLOAD_MAX_BYTES, GenerationService, Options, references
from bot.generation.plan import DeclaredImage
from bot.images import ImageProblem, MaskRegion
from bot.policy import RequestContext
from bot.refusal import Refusal

from .conftest import FakeSubmit, noisy_webp, png

CTX = RequestContext(guild_id=1, channel_id=2, member_id=3, origin="edit")
MODEL = "gpt-image-1.5-official"  # takes PNG and JPEG references, not WebP


def _declared(data: bytes, ctype: str, label: str = "Image 1") -> DeclaredImage:
    return DeclaredImage(label, "ref." + ctype.split("/")[1], ctype, len(data), "https://cdn/x")


async def test_a_webp_too_large_once_converted_is_reencoded_as_jpeg_under_the_limit(
    service: GenerationService, submit: FakeSubmit
) -> None:
    webp = noisy_webp()
    assert len(webp) < UPLOAD_MAX_BYTES
    plan = await service.plan(CTX, Options(prompt="a cat"), images=[_declared(webp, "image/webp")])
    await service.start(plan, images=[webp])
    (ref,) = submit.submitted[0].references
    kept = Path(ref.path or "").read_bytes()
    assert ref.content_type == "image/jpeg" and ref.filename == "image-1.jpg"
    assert len(kept) <= UPLOAD_MAX_BYTES
    with Image.open(io.BytesIO(kept)) as img:
        assert img.format == "JPEG" and img.size == (3000, 3000)


def _transparent_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (600, 600), (0, 0, 0, 0)).save(out, format="PNG")
    return out.getvalue()


def test_a_transparent_reference_too_large_is_refused_with_what_to_do() -> None:
    with pytest.raises(ImageProblem) as info:
        references.prepare_reference(MODEL, _transparent_png(), label="Image 1", limit=100)
    assert isinstance(info.value, Refusal)
    assert "Image 1" in info.value.message and "attach a JPEG" in info.value.message


def test_a_small_reference_is_kept_as_is() -> None:
    data = png(64, 64)
    checked = references.prepare_reference(MODEL, data, label="Image 1", limit=UPLOAD_MAX_BYTES)
    assert checked.data == data and checked.facts.content_type == "image/png"


def test_a_file_that_is_not_an_image_is_refused_by_name() -> None:
    with pytest.raises(Refusal, match="Image 2 is not a readable image"):
        references.prepare_reference(
            MODEL, b"not an image", label="Image 2", limit=UPLOAD_MAX_BYTES
        )


async def test_pillow_work_runs_in_a_worker_thread_not_on_the_loop(
    service: GenerationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    for name in ("prepare_reference", "draw_mask", "keep"):
        real = getattr(references, name)

        def spy(*args: object, _real: object = real, **kwargs: object) -> object:
            threads.append(threading.get_ident())
            return _real(*args, **kwargs)  # type: ignore[operator]

        monkeypatch.setattr(references, name, spy)
    data = png(256, 256)
    plan = await service.plan(
        CTX,
        Options(prompt="repaint"),
        images=[_declared(data, "image/png")],
        region=MaskRegion.TOP_HALF,
    )
    await service.start(plan, images=[data])
    assert len(threads) == 4  # prepare, keep, draw the mask, keep the mask
    assert threading.get_ident() not in threads


async def test_identical_files_share_one_kept_path_and_prune_removes_old_ones(
    service: GenerationService, submit: FakeSubmit
) -> None:
    data = png(32, 32)
    for _ in range(2):
        plan = await service.plan(CTX, Options(prompt="x"), images=[_declared(data, "image/png")])
        await service.start(plan, images=[data])
    paths = {r.path for job in submit.submitted for r in job.references}
    assert len(paths) == 1
    assert service.prune_references(older_than=3600) == 0
    assert service.prune_references(older_than=-1) == 1


async def test_a_region_mask_is_drawn_at_the_size_of_the_image(
    service: GenerationService, submit: FakeSubmit
) -> None:
    data = png(300, 200)
    plan = await service.plan(
        CTX,
        Options(prompt="sky"),
        images=[_declared(data, "image/png")],
        region=MaskRegion.TOP_HALF,
    )
    await service.start(plan, images=[data])
    mask = next(r for r in submit.submitted[0].references if r.role == "mask")
    with Image.open(mask.path or "") as img:
        assert img.size == (300, 200)
        assert img.getpixel((10, 10))[3] == 0 and img.getpixel((10, 150))[3] == 255
