"""Re-roll, Vary, Upscale and the canvas edits: the options a result button starts from."""

from __future__ import annotations

from dataclasses import replace

from bot.generation.canvas import CanvasEdit, Repaint, canvas_ratio
from bot.generation.plan import Options, nearest_size
from bot.jobs.records import Job
from bot.messages import say
from bot.refusal import Refusal
from bot.toapis.catalog import ModelCapabilities, active_catalog

__all__ = ["canvas_options", "options_of", "remix_options", "upscale_model", "upscale_options"]


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


def upscale_model(model: str) -> ModelCapabilities | None:
    """The model to upscale with: the job's own (or its successor) if it has 2K or 4K, else
    the catalog's first such model; None when no model in service renders larger."""
    catalog = active_catalog()
    own = catalog.get(catalog.current_name(model) or "")
    candidates = [own] if own is not None else []
    candidates += list(catalog.models.values())
    for caps in candidates:
        if caps is not None and {"2k", "4k"} & set(caps.resolutions or ()):
            return caps
    return None


def upscale_options(job: Job, width: int | None, height: int | None) -> Options:
    """Options to render one result again larger: 4K where the ratio allows, else 2K."""
    base = options_of(job)
    found = upscale_model(base.model or "")
    if found is None:
        raise Refusal(say("generation.already_highest", resolution="1K", size=base.size or "1:1"))
    caps = found
    same = active_catalog().current_name(base.model or "") == caps.name
    size = base.size if base.size in caps.sizes else None
    if size is None:
        size = nearest_size(width or 1, height or 1, caps.sizes) if width and height else None
        size = size or caps.default_size
    resolutions = caps.resolutions or ()
    target = "4k" if size in caps.resolution_4k_sizes else "2k"
    if target not in resolutions:
        target = "2k" if "2k" in resolutions else "4k"
    current = base.resolution if same else "1k"
    order = {"1k": 1, "2k": 2, "4k": 3}
    if order.get(current or "1k", 1) >= order[target]:
        raise Refusal(
            say("generation.already_highest", resolution=(current or "1k").upper(), size=size)
        )
    return Options(
        prompt=base.prompt,
        model=caps.name,
        size=size,
        resolution=target,
        quality=base.quality if same else None,
        count=1,
        output_format=base.output_format if same else None,
    )


def remix_options(job: Job, prompt: str) -> Options:
    """Options to run a job again with an edited prompt (everything else the same)."""
    return replace(options_of(job), prompt=prompt)


def canvas_options(job: Job, edit: CanvasEdit, width: int, height: int, prompt: str) -> Options:
    """Options to inpaint one result (``width`` x ``height``) with a canvas edit.

    The size is the image's own ratio (Repaint) or the canvas's (zoom, pan); the job's other
    settings stay, except that 4K falls back to 2K where the new ratio has no 4K.
    """
    base = options_of(job)
    catalog = active_catalog()
    caps = catalog.get(catalog.current_name(base.model or "") or "") or catalog.first
    if isinstance(edit, Repaint):
        size = nearest_size(width, height, caps.sizes)
    else:
        size = canvas_ratio(edit, width, height, caps.sizes)
    resolution = base.resolution
    if resolution == "4k" and size not in caps.resolution_4k_sizes:
        resolution = "2k"
    return replace(base, prompt=prompt, size=size, resolution=resolution)
