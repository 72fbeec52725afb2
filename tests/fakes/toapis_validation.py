"""Request validation for the fake ToAPIs server, written from the contract alone.

This module deliberately imports nothing from ``bot.toapis``: a property-based test compares
the bot's own validator with this one, so the two must be independent readings of
``/work/shared/toapis-api.md``. The interpretation choices are listed in ``tests.fakes.toapis``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from PIL import Image

MIB = 1024 * 1024

GPT_IMAGE = "gpt-image-1.5-official"
GPT_4O = "gpt-4o-image"
MODELS = (GPT_IMAGE, GPT_4O)

# Output pixel sizes of gpt-image-1.5-official: size -> resolution -> (width, height).
GPT_IMAGE_SIZES: dict[str, dict[str, tuple[int, int]]] = {
    "1:1": {"1k": (1024, 1024), "2k": (2048, 2048)},
    "3:2": {"1k": (1536, 1024), "2k": (2048, 1360)},
    "2:3": {"1k": (1024, 1536), "2k": (1360, 2048)},
    "4:3": {"1k": (1024, 768), "2k": (2048, 1536)},
    "3:4": {"1k": (768, 1024), "2k": (1536, 2048)},
    "5:4": {"1k": (1280, 1024), "2k": (2560, 2048)},
    "4:5": {"1k": (1024, 1280), "2k": (2048, 2560)},
    "16:9": {"1k": (1536, 864), "2k": (2048, 1152), "4k": (3840, 2160)},
    "9:16": {"1k": (864, 1536), "2k": (1152, 2048), "4k": (2160, 3840)},
    "2:1": {"1k": (2048, 1024), "2k": (2688, 1344), "4k": (3840, 1920)},
    "1:2": {"1k": (1024, 2048), "2k": (1344, 2688), "4k": (1920, 3840)},
    "21:9": {"1k": (2016, 864), "2k": (2688, 1152), "4k": (3840, 1648)},
    "9:21": {"1k": (864, 2016), "2k": (1152, 2688), "4k": (1648, 3840)},
}
GPT_IMAGE_SIZE_VALUES = (*GPT_IMAGE_SIZES, "auto")
GPT_IMAGE_RESOLUTIONS = ("1k", "2k", "4k")
GPT_IMAGE_4K_SIZES = ("16:9", "9:16", "2:1", "1:2", "21:9", "9:21")
QUALITIES = ("low", "medium", "high")
OUTPUT_FORMATS = ("png", "jpeg")
GPT_IMAGE_MAX_REFERENCES = 16
GPT_IMAGE_MAX_REFERENCE_BYTES = 50 * MIB
GPT_IMAGE_REFERENCE_FORMATS = ("PNG", "JPEG")

GPT_4O_SIZES: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "2:3": (1024, 1536),
    "3:2": (1536, 1024),
}
GPT_4O_MAX_PROMPT = 1000
GPT_4O_N_VALUES = (1, 2, 4)
GPT_4O_MAX_REFERENCES = 5
GPT_4O_MAX_REFERENCE_BYTES = 10 * MIB
GPT_4O_REFERENCE_FORMATS = ("PNG", "JPEG", "WEBP")
GPT_4O_MAX_MASK_BYTES = 4 * MIB
GPT_4O_FORBIDDEN_FIELDS = ("resolution", "quality", "output_format", "output_compression")

UPLOAD_FORMATS: dict[str, tuple[str, str]] = {  # Pillow format -> (mime type, extension)
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "GIF": ("image/gif", "gif"),
}


class ValidationError(Exception):
    """A request the service refuses with 400."""

    def __init__(self, message: str, *, param: str | None = None, code: str = "invalid_parameter"):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


@dataclass(frozen=True)
class ImageInfo:
    """What the fake knows about an image it holds (an upload)."""

    format: str  # Pillow format name: "PNG", "JPEG", "WEBP", "GIF"
    width: int
    height: int
    bands: tuple[str, ...]
    size: int  # bytes

    @property
    def has_alpha(self) -> bool:
        return "A" in self.bands


def sniff_image(data: bytes) -> ImageInfo | None:
    """Identify an image by its content; ``None`` when Pillow cannot read it."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = im.format or ""
            width, height = im.size
            bands = tuple(im.getbands())
            im.verify()
    except Exception:
        return None
    return ImageInfo(format=fmt, width=width, height=height, bands=bands, size=len(data))


@dataclass(frozen=True)
class ValidRequest:
    """A generation request that passed validation, with defaults filled in."""

    model: str
    prompt: str
    size: str
    resolution: str | None
    quality: str | None
    output_format: str
    output_compression: int | None
    n: int
    image_urls: tuple[str, ...]
    mask_url: str | None
    width: int
    height: int


# ``lookup(url)`` answers for the fake's own upload URLs: ``(True, info)`` when the URL is one of
# the fake's uploads (``info`` is ``None`` when no such upload exists), ``(False, None)`` otherwise.
Lookup = Callable[[str], tuple[bool, ImageInfo | None]]


def _no_lookup(url: str) -> tuple[bool, ImageInfo | None]:
    return False, None


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_http_url(value: Any) -> bool:
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def _string(body: Mapping[str, Any], key: str, default: str | None) -> str | None:
    if key not in body:
        return default
    value = body[key]
    if not isinstance(value, str):
        raise ValidationError(f"'{key}' must be a string", param=key)
    return value


def _choice(body: Mapping[str, Any], key: str, default: str, allowed: tuple[str, ...]) -> str:
    value = _string(body, key, default)
    assert value is not None
    if value not in allowed:
        raise ValidationError(
            f"'{key}' must be one of {', '.join(allowed)}; got {value!r}", param=key
        )
    return value


def validate_generation(
    body: Any, *, gpt_image_max_n: int = 10, lookup: Lookup = _no_lookup
) -> ValidRequest:
    """Check a submit body like the service does; raise ``ValidationError`` if it refuses it."""
    if not isinstance(body, dict):
        raise ValidationError("the request body must be a JSON object")
    if "model" not in body:
        raise ValidationError("'model' is required", param="model")
    model = body["model"]
    if not isinstance(model, str) or model not in MODELS:
        raise ValidationError(f"unknown model {model!r}", param="model", code="model_not_found")

    if "prompt" not in body:
        raise ValidationError("'prompt' is required", param="prompt")
    prompt = body["prompt"]
    if not isinstance(prompt, str):
        raise ValidationError("'prompt' must be a string", param="prompt")
    if not prompt.strip():
        raise ValidationError("'prompt' must not be empty", param="prompt")

    if model == GPT_IMAGE:
        return _validate_gpt_image(body, prompt, gpt_image_max_n, lookup)
    return _validate_gpt_4o(body, prompt, lookup)


def _n(body: Mapping[str, Any]) -> int:
    if "n" not in body:
        return 1
    n = body["n"]
    if not is_int(n):
        raise ValidationError("'n' must be a JSON integer", param="n")
    return n


def _urls(body: Mapping[str, Any], max_count: int) -> tuple[tuple[str, ...], str | None]:
    image_urls: tuple[str, ...] = ()
    if "image_urls" in body:
        raw = body["image_urls"]
        if not isinstance(raw, list):
            raise ValidationError("'image_urls' must be an array of URLs", param="image_urls")
        if not raw:
            raise ValidationError("'image_urls' must not be empty", param="image_urls")
        if len(raw) > max_count:
            raise ValidationError(
                f"at most {max_count} reference images are allowed", param="image_urls"
            )
        for url in raw:
            if not is_http_url(url):
                raise ValidationError(
                    "each image_urls entry must be an http(s) URL (base64 is not supported)",
                    param="image_urls",
                )
        image_urls = tuple(raw)
    mask_url = None
    if "mask_url" in body:
        mask = body["mask_url"]
        if not is_http_url(mask):
            raise ValidationError("'mask_url' must be an http(s) URL", param="mask_url")
        if not image_urls:
            raise ValidationError("'mask_url' requires 'image_urls'", param="mask_url")
        mask_url = mask
    return image_urls, mask_url


def _known(url: str, lookup: Lookup, param: str) -> ImageInfo | None:
    ours, info = lookup(url)
    if ours and info is None:
        raise ValidationError(f"{param}: no such uploaded file: {url}", param=param)
    return info


def _check_references(
    image_urls: tuple[str, ...], lookup: Lookup, formats: tuple[str, ...], max_bytes: int
) -> ImageInfo | None:
    first: ImageInfo | None = None
    for i, url in enumerate(image_urls):
        info = _known(url, lookup, "image_urls")
        if info is not None:
            if info.format not in formats:
                raise ValidationError(
                    f"reference image {i} must be {'/'.join(formats)}, not {info.format}",
                    param="image_urls",
                )
            if info.size > max_bytes:
                raise ValidationError(f"reference image {i} is too large", param="image_urls")
        if i == 0:
            first = info
    return first


def _validate_gpt_image(
    body: Mapping[str, Any], prompt: str, max_n: int, lookup: Lookup
) -> ValidRequest:
    size = _choice(body, "size", "1:1", GPT_IMAGE_SIZE_VALUES)
    resolution = _choice(body, "resolution", "1k", GPT_IMAGE_RESOLUTIONS)
    if resolution == "4k" and size not in GPT_IMAGE_4K_SIZES:
        raise ValidationError(
            f"resolution 4k is only available for sizes {', '.join(GPT_IMAGE_4K_SIZES)}",
            param="resolution",
        )
    quality = _choice(body, "quality", "high", QUALITIES)
    output_format = _choice(body, "output_format", "png", OUTPUT_FORMATS)
    compression = None
    if "output_compression" in body:
        compression = body["output_compression"]
        if not is_int(compression) or not 0 <= compression <= 100:
            raise ValidationError(
                "'output_compression' must be an integer from 0 to 100", param="output_compression"
            )
    n = _n(body)
    if not 1 <= n <= max_n:
        raise ValidationError(f"'n' must be between 1 and {max_n}", param="n")
    image_urls, mask_url = _urls(body, GPT_IMAGE_MAX_REFERENCES)
    first = _check_references(
        image_urls, lookup, GPT_IMAGE_REFERENCE_FORMATS, GPT_IMAGE_MAX_REFERENCE_BYTES
    )
    if mask_url is not None:
        mask = _known(mask_url, lookup, "mask_url")
        if mask is not None:
            if mask.format != "PNG":
                raise ValidationError("the mask must be a PNG", param="mask_url")
            if not mask.has_alpha:
                raise ValidationError("the mask must have an alpha channel", param="mask_url")
            if first is not None and (mask.width, mask.height) != (first.width, first.height):
                raise ValidationError(
                    "the mask must have the same dimensions as the first reference image",
                    param="mask_url",
                )
    width, height = GPT_IMAGE_SIZES["1:1" if size == "auto" else size][resolution]
    return ValidRequest(
        model=GPT_IMAGE,
        prompt=prompt,
        size=size,
        resolution=resolution,
        quality=quality,
        output_format=output_format,
        output_compression=compression,
        n=n,
        image_urls=image_urls,
        mask_url=mask_url,
        width=width,
        height=height,
    )


def _validate_gpt_4o(body: Mapping[str, Any], prompt: str, lookup: Lookup) -> ValidRequest:
    if len(prompt) > GPT_4O_MAX_PROMPT:
        raise ValidationError(
            f"'prompt' must be at most {GPT_4O_MAX_PROMPT} characters", param="prompt"
        )
    for key in GPT_4O_FORBIDDEN_FIELDS:
        if key in body:
            raise ValidationError(f"'{key}' is not supported by {GPT_4O}", param=key)
    size = _choice(body, "size", "1:1", tuple(GPT_4O_SIZES))
    n = _n(body)
    if n not in GPT_4O_N_VALUES:
        raise ValidationError("'n' must be 1, 2 or 4", param="n")
    image_urls, mask_url = _urls(body, GPT_4O_MAX_REFERENCES)
    first = _check_references(
        image_urls, lookup, GPT_4O_REFERENCE_FORMATS, GPT_4O_MAX_REFERENCE_BYTES
    )
    if mask_url is not None:
        mask = _known(mask_url, lookup, "mask_url")
        if mask is not None:
            if mask.format != "PNG":
                raise ValidationError("the mask must be a PNG", param="mask_url")
            if mask.size > GPT_4O_MAX_MASK_BYTES:
                raise ValidationError("the mask must be at most 4 MB", param="mask_url")
            if first is not None and (mask.width, mask.height) != (first.width, first.height):
                raise ValidationError(
                    "the mask must have the same size as the reference image", param="mask_url"
                )
    width, height = GPT_4O_SIZES[size]
    return ValidRequest(
        model=GPT_4O,
        prompt=prompt,
        size=size,
        resolution=None,
        quality=None,
        output_format="png",
        output_compression=None,
        n=n,
        image_urls=image_urls,
        mask_url=mask_url,
        width=width,
        height=height,
    )
