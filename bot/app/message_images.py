"""The images a Discord message shows: image attachments, then embed images and thumbnails.

Used by the message context menus ("Edit with Atelier", "Add to references"). Each image is
described as the generation path sees an attachment (``DeclaredImage``); its bytes are fetched
later by the same size-capped download and checked like any upload. An embed's image is read
through Discord's media proxy (``proxy_url``) only, so the bot fetches from Discord rather
than from whatever host another bot's embed names; an embed image without one is left out.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import urlsplit

import discord

from bot.generation import DeclaredImage
from bot.generation.plan import IMAGE_TYPES
from bot.messages import say

__all__ = ["MAX_MESSAGE_IMAGES", "images_in"]

#: A message shows at most 10 attachments and 10 embeds; more is never read.
MAX_MESSAGE_IMAGES = 20
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif"}


def _looks_like_image(content_type: str | None, filename: str) -> bool:
    if content_type:
        return content_type.split(";")[0].strip().lower() in IMAGE_TYPES
    return PurePosixPath(filename).suffix.lower() in _IMAGE_SUFFIXES


def _filename(url: str) -> str:
    name = PurePosixPath(urlsplit(url).path).name
    return name or "image"


def images_in(message: discord.Message) -> list[DeclaredImage]:
    """Return the message's images in the order a member sees them, labelled Image 1, 2..."""
    found: list[tuple[str, str, str | None, int, int | None, int | None]] = []
    seen: set[str] = set()
    for att in message.attachments:
        if _looks_like_image(att.content_type, att.filename) and att.url not in seen:
            seen.add(att.url)
            found.append((att.url, att.filename, att.content_type, att.size, att.width, att.height))
    for embed in message.embeds:
        for media in (embed.image, embed.thumbnail):
            # Only through Discord's proxy: an embed may name any host.
            url = media.proxy_url
            if not url or url in seen or not url.startswith(("https://", "http://")):
                continue
            seen.add(url)
            found.append((url, _filename(media.url or url), None, 0, media.width, media.height))
    return [
        DeclaredImage(
            label=say("app.label_image_n", n=n),
            filename=filename,
            content_type=ctype,
            size=size,
            url=url,
            width=width,
            height=height,
        )
        for n, (url, filename, ctype, size, width, height) in enumerate(
            found[:MAX_MESSAGE_IMAGES], start=1
        )
    ]
