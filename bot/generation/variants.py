"""Re-roll, Vary and Upscale: the options a result button starts from."""

from __future__ import annotations

from bot.generation.plan import Options, nearest_size
from bot.jobs.records import Job
from bot.messages import say
from bot.refusal import Refusal
from bot.toapis.catalog import CATALOG, GPT_IMAGE_15

__all__ = ["options_of", "upscale_options"]


def options_of(job: Job) -> Options:
    """Return a job's request as explicit options (for Re-roll, Vary and Upscale)."""
    r = job.request
    return Options(
        prompt=r.prompt,
        model=r.model,
        size=r.size,
        resolution=r.resolution,
        quality=r.quality,
        count=r.n,
        output_format=r.output_format,
    )


def upscale_options(job: Job, width: int | None, height: int | None) -> Options:
    """Options to render one result again larger: 4K where the ratio allows, else 2K."""
    base = options_of(job)
    caps = CATALOG[GPT_IMAGE_15]
    size = base.size if base.size in caps.sizes else None
    if size is None:
        size = nearest_size(width or 1, height or 1, caps.sizes) if width and height else "1:1"
    target = "4k" if size in caps.resolution_4k_sizes else "2k"
    current = base.resolution if base.model == GPT_IMAGE_15 else "1k"
    order = {"1k": 1, "2k": 2, "4k": 3}
    if order.get(current or "1k", 1) >= order[target]:
        raise Refusal(
            say("generation.already_highest", resolution=(current or "1k").upper(), size=size)
        )
    return Options(
        prompt=base.prompt,
        model=GPT_IMAGE_15,
        size=size,
        resolution=target,
        quality=base.quality if base.model == GPT_IMAGE_15 else None,
        count=1,
        output_format=base.output_format if base.model == GPT_IMAGE_15 else None,
    )
