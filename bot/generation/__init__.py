"""Generation: plan a request before the acknowledgement, then verify, keep and submit it.

``plan`` (validation, policy), ``references`` (bytes, conversion, masks, kept files),
``variants`` (Re-roll, Vary, Upscale) and ``service`` (``GenerationService``, tying them).
This package does not import discord.
"""

from __future__ import annotations

from bot.generation.plan import (
    UPLOAD_MAX_BYTES,
    DeclaredImage,
    DiscordTarget,
    Options,
    Plan,
    nearest_size,
)
from bot.generation.references import REFERENCE_KEEP_SECONDS
from bot.generation.service import GenerationService, Submit
from bot.generation.variants import canvas_options, options_of, remix_options, upscale_options

__all__ = [
    "REFERENCE_KEEP_SECONDS",
    "UPLOAD_MAX_BYTES",
    "DeclaredImage",
    "DiscordTarget",
    "GenerationService",
    "Options",
    "Plan",
    "Submit",
    "canvas_options",
    "nearest_size",
    "options_of",
    "remix_options",
    "upscale_options",
]
