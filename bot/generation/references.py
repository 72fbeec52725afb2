"""Step 2 of a generation, after the download: verify the bytes, convert, masks, keep the files.

The Pillow work of one reference (decode, convert, re-encode to fit, validate) is one
synchronous step, ``prepare_reference`` / ``prepare_mask`` / ``draw_mask``; the service runs
each in a worker thread (``asyncio.to_thread``) so the event loop keeps answering commands.
Files are kept content-addressed under ``<data_dir>/references`` so identical files share one
path; ``prune_references`` removes the ones unused for a while.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from bot.images import (
    MaskRegion,
    draw_region_mask,
    extension_for,
    fit_reference,
    inspect_image,
    to_accepted_format,
)
from bot.jobs.records import ReferenceImage
from bot.messages import say
from bot.toapis.catalog import ImageFacts, capabilities, validate_mask, validate_reference

__all__ = [
    "REFERENCE_KEEP_SECONDS",
    "Checked",
    "draw_mask",
    "inspect_stored",
    "keep",
    "prepare_mask",
    "prepare_reference",
    "prune_references",
]

#: Reference files older than this (and not used meanwhile) are removed at start-up.
REFERENCE_KEEP_SECONDS = 3 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Checked:
    """Bytes ready to upload and what they are."""

    data: bytes
    facts: ImageFacts


def prepare_reference(model: str, data: bytes, *, label: str, limit: int) -> Checked:
    """Verify, convert and fit one reference for ``model``; raise a ``Refusal`` if it cannot."""
    caps = capabilities(model)
    facts = inspect_image(data, label=label)
    data, facts = to_accepted_format(data, facts, caps.reference_types)
    data, facts = fit_reference(
        data, facts, caps.reference_types, min(limit, caps.max_reference_bytes), label=label
    )
    validate_reference(model, facts, label=label)
    return Checked(data, facts)


def prepare_mask(model: str, data: bytes, first: ImageFacts) -> Checked:
    """Verify an attached mask against the image it edits."""
    facts = inspect_image(data, label=say("app.label_mask"))
    validate_mask(model, facts, first)
    return Checked(data, facts)


def draw_mask(region: MaskRegion, first: ImageFacts) -> Checked:
    """Draw the mask for ``region`` of the first image."""
    data = draw_region_mask(region, first.width, first.height)
    return Checked(data, inspect_image(data))


def inspect_stored(path: str) -> ImageFacts:
    """Read and inspect a reference kept from an earlier job."""
    return inspect_image(Path(path).read_bytes())


def keep(directory: Path, checked: Checked, role: str, label: str) -> ReferenceImage:
    """Store the bytes under their SHA-256 (so identical files share one path); blocking."""
    digest = hashlib.sha256(checked.data).hexdigest()
    ext = extension_for(checked.facts.content_type)
    path = directory / f"{digest}.{ext}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file():
        os.utime(path)  # used again: keep it longer
    else:
        part = path.with_name(path.name + ".part")
        part.write_bytes(checked.data)
        os.replace(part, path)
    name = "mask" if role == "mask" else label.lower().replace(" ", "-")
    return ReferenceImage(
        filename=f"{name}.{ext}",
        content_type=checked.facts.content_type,
        path=str(path),
        role="mask" if role == "mask" else "image",
    )


def prune_references(directory: Path, *, older_than: float = REFERENCE_KEEP_SECONDS) -> int:
    """Remove kept reference files unused for ``older_than`` seconds; return how many."""
    if not directory.is_dir():
        return 0
    cutoff = time.time() - older_than
    removed = 0
    for entry in directory.iterdir():
        try:
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                entry.unlink()
                removed += 1
        except OSError:
            continue
    return removed
