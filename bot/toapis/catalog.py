"""What each ToAPIs model accepts, and validation of requests against it before any network call.

The models come from a data file (``bot/toapis/models.toml``, or ``MODELS_FILE``; see
``bot.toapis.catalog_file``); the process runs with one catalog, installed at start-up by
``use_catalog``. ``CATALOG`` is a live view of its models in service.

Every refusal is a ``RequestValidationError`` whose message is written for a Discord member: it
says what to change, not what the API calls the field.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from bot.messages import say
from bot.refusal import Refusal

from .models import GenerationRequest

__all__ = [
    "CATALOG",
    "DEFAULT_MAX_IMAGES",
    "GPT_4O_IMAGE",
    "GPT_IMAGE_15",
    "ImageFacts",
    "ModelCapabilities",
    "ModelCatalog",
    "RequestValidationError",
    "active_catalog",
    "capabilities",
    "output_pixels",
    "use_catalog",
    "validate_mask",
    "validate_reference",
    "validate_request",
]

MB = 1024 * 1024
DEFAULT_MAX_IMAGES = 4

# The shipped catalog's models (tests and docs name them; the code takes models from the file).
GPT_IMAGE_15 = "gpt-image-1.5-official"
GPT_4O_IMAGE = "gpt-4o-image"

# Output pixel sizes from the vendor's size table: size -> (1k, 2k, 4k).
_PIXELS: dict[str, tuple[tuple[int, int], tuple[int, int], tuple[int, int] | None]] = {
    "1:1": ((1024, 1024), (2048, 2048), None),
    "3:2": ((1536, 1024), (2048, 1360), None),
    "2:3": ((1024, 1536), (1360, 2048), None),
    "4:3": ((1024, 768), (2048, 1536), None),
    "3:4": ((768, 1024), (1536, 2048), None),
    "5:4": ((1280, 1024), (2560, 2048), None),
    "4:5": ((1024, 1280), (2048, 2560), None),
    "16:9": ((1536, 864), (2048, 1152), (3840, 2160)),
    "9:16": ((864, 1536), (1152, 2048), (2160, 3840)),
    "2:1": ((2048, 1024), (2688, 1344), (3840, 1920)),
    "1:2": ((1024, 2048), (1344, 2688), (1920, 3840)),
    "21:9": ((2016, 864), (2688, 1152), (3840, 1648)),
    "9:21": ((864, 2016), (1152, 2688), (1648, 3840)),
}


class RequestValidationError(Refusal):
    """A request the service would refuse; ``message`` tells a member what to change."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ModelCapabilities:
    """What one model accepts (one ``[[models]]`` block of the catalog file)."""

    name: str
    label: str
    sizes: tuple[str, ...]
    allows_auto_size: bool
    default_size: str
    # None: the model takes no such parameter, and sending one is refused.
    resolutions: tuple[str, ...] | None
    resolution_4k_sizes: tuple[str, ...]
    qualities: tuple[str, ...] | None
    output_formats: tuple[str, ...] | None
    counts: tuple[int, ...]
    max_prompt_chars: int
    max_references: int
    reference_types: frozenset[str]
    max_reference_bytes: int
    mask_needs_alpha: bool
    max_mask_bytes: int | None
    #: Credits per image: one number, or ``{resolution: {quality: credits}}``.
    credits: int | Mapping[str, Mapping[str, int]] = 1
    #: The display name in other languages (``zh-CN``...); ``label`` is the English.
    labels: Mapping[str, str] = field(default_factory=dict)
    retired: bool = False
    successor: str | None = None
    notes: tuple[str, ...] = field(default=())

    def allowed_counts(self, max_images: int = DEFAULT_MAX_IMAGES) -> tuple[int, ...]:
        """Return the image counts allowed under the operator's ceiling."""
        return tuple(c for c in self.counts if c <= max_images)

    def label_in(self, language: str) -> str:
        """Return the display name in ``language`` (the English one when it has none)."""
        return self.labels.get(language, self.label)


class ModelCatalog:
    """Every model of a catalog file, retired ones too, in the file's order."""

    def __init__(self, models: Sequence[ModelCapabilities], *, source: str = "") -> None:
        self.source = source
        self._all: dict[str, ModelCapabilities] = {m.name: m for m in models}
        #: The models in service: what the commands offer and requests may use.
        self.models: dict[str, ModelCapabilities] = {m.name: m for m in models if not m.retired}

    def __repr__(self) -> str:
        return f"ModelCatalog({self.source!r}, {list(self._all)})"

    def get(self, name: str) -> ModelCapabilities | None:
        """Return a model in service, or None (unknown or retired)."""
        return self.models.get(name)

    def known(self, name: str) -> ModelCapabilities | None:
        """Return any model of the file, retired or not."""
        return self._all.get(name)

    def current_name(self, name: str) -> str | None:
        """Return the model in service a name stands for (a retired one: its successor)."""
        caps = self._all.get(name)
        if caps is None:
            return None
        return caps.successor if caps.retired else caps.name

    def retired_to(self, name: str) -> str | None:
        """Return the successor when ``name`` is a retired model, else None."""
        caps = self._all.get(name)
        return caps.successor if caps is not None and caps.retired else None

    @property
    def first(self) -> ModelCapabilities:
        """The first model in service (the default when nothing else is configured)."""
        return next(iter(self.models.values()))

    def offering(self, setting: str) -> ModelCapabilities | None:
        """Return the first model in service that takes ``setting`` (resolution, quality...)."""
        attr = {"resolution": "resolutions", "quality": "qualities", "format": "output_formats"}
        for caps in self.models.values():
            if getattr(caps, attr.get(setting, setting), None):
                return caps
        return None

    def sizes(self) -> tuple[str, ...]:
        """Every size of the models in service, in first-seen order."""
        return tuple(dict.fromkeys(s for c in self.models.values() for s in c.sizes))

    def option_values(self, attr: str) -> tuple[str, ...]:
        """Every value of ``attr`` (``resolutions``, ``qualities``...) among models in service."""
        return tuple(
            dict.fromkeys(v for c in self.models.values() for v in (getattr(c, attr) or ()))
        )


_active: list[ModelCatalog] = []


def active_catalog() -> ModelCatalog:
    """The catalog this process runs with (the shipped one until ``use_catalog``)."""
    if not _active:
        from .catalog_file import load_catalog

        _active.append(load_catalog())
    return _active[-1]


def use_catalog(catalog: ModelCatalog) -> None:
    """Make ``catalog`` the process's catalog (at start-up, from ``MODELS_FILE``)."""
    _active[:] = [catalog]


class _ActiveModels(Mapping[str, ModelCapabilities]):
    """``CATALOG``: the models in service of the active catalog, by name."""

    def __getitem__(self, name: str) -> ModelCapabilities:
        return active_catalog().models[name]

    def __iter__(self) -> Iterator[str]:
        return iter(active_catalog().models)

    def __len__(self) -> int:
        return len(active_catalog().models)


#: The models in service, by name; follows ``use_catalog``.
CATALOG: Mapping[str, ModelCapabilities] = _ActiveModels()


def capabilities(model: str) -> ModelCapabilities:
    """Return a model's capabilities, or refuse a model the bot does not know."""
    try:
        return CATALOG[model]
    except KeyError:
        known = " or ".join(CATALOG)
        raise RequestValidationError(
            "model", say("generation.request.unknown_model", model=model, known=known)
        ) from None


def output_pixels(size: str, resolution: str | None) -> tuple[int, int] | None:
    """Return the output pixel size for a ratio and tier, or None when the server decides."""
    row = _PIXELS.get(size)
    if row is None:
        return None
    tier = {"1k": 0, "2k": 1, "4k": 2}.get(resolution or "1k", 0)
    return row[tier]


def _one_of(values: Sequence[object]) -> str:
    items = [str(v) for v in values]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def _other_model(field: str) -> str:
    offering = active_catalog().offering(field.replace("output_", ""))
    return offering.name if offering is not None else active_catalog().first.name


def _check_option(
    caps: ModelCapabilities,
    field: str,
    label: str,
    value: str | None,
    allowed: tuple[str, ...] | None,
) -> None:
    """Refuse a value outside ``allowed``, or any value for a model without that setting."""
    if value is None:
        return
    if allowed is None:
        raise RequestValidationError(
            field,
            say(
                "generation.request.no_setting",
                model=caps.name,
                setting=label.lower(),
                other=_other_model(field),
            ),
        )
    if value not in allowed:
        raise RequestValidationError(
            field,
            say(
                "generation.request.option_unavailable",
                setting=label,
                value=value,
                allowed=_one_of(allowed),
            ),
        )


def validate_request(
    req: GenerationRequest, *, max_images: int = DEFAULT_MAX_IMAGES
) -> GenerationRequest:
    """Refuse what the model cannot do; return the request unchanged when it is valid."""
    caps = capabilities(req.model)
    prompt = req.prompt.strip()
    if not prompt:
        raise RequestValidationError("prompt", say("generation.request.empty_prompt"))
    if len(req.prompt) > caps.max_prompt_chars:
        raise RequestValidationError(
            "prompt",
            say(
                "generation.request.prompt_too_long",
                length=len(req.prompt),
                model=caps.name,
                limit=caps.max_prompt_chars,
            ),
        )

    size = req.size
    if size is not None:
        if size == "auto":
            if not caps.allows_auto_size:
                raise RequestValidationError(
                    "size",
                    say(
                        "generation.request.no_auto_size",
                        model=caps.name,
                        sizes=_one_of(caps.sizes),
                    ),
                )
        elif size not in caps.sizes:
            raise RequestValidationError(
                "size",
                say(
                    "generation.request.size_unavailable",
                    size=size,
                    model=caps.name,
                    sizes=_one_of(caps.sizes),
                ),
            )

    _check_option(caps, "resolution", "Resolution", req.resolution, caps.resolutions)
    if req.resolution == "4k" and (size or caps.default_size) not in caps.resolution_4k_sizes:
        raise RequestValidationError(
            "resolution",
            say("generation.request.4k_sizes", sizes=_one_of(caps.resolution_4k_sizes)),
        )
    _check_option(caps, "quality", "Quality", req.quality, caps.qualities)
    _check_option(caps, "output_format", "Format", req.output_format, caps.output_formats)
    if req.output_compression is not None:
        if caps.output_formats is None:
            raise RequestValidationError(
                "output_compression", say("generation.request.no_compression", model=caps.name)
            )
        # The service takes it with png too and ignores it there, so it is not refused.
        if not 0 <= req.output_compression <= 100:
            raise RequestValidationError(
                "output_compression", say("generation.request.compression_range")
            )

    allowed = caps.allowed_counts(max_images)
    if req.n not in allowed:
        if not allowed:
            raise RequestValidationError(
                "n", say("generation.request.no_count_allowed", model=caps.name)
            )
        raise RequestValidationError(
            "n",
            say(
                "generation.request.count_unavailable",
                model=caps.name,
                allowed=_one_of(allowed),
                asked=req.n,
            ),
        )

    urls = req.image_urls or []
    if len(urls) > caps.max_references:
        raise RequestValidationError(
            "image_urls",
            say(
                "generation.request.too_many_references",
                model=caps.name,
                limit=caps.max_references,
                given=len(urls),
            ),
        )
    for url in [*urls, *([req.mask_url] if req.mask_url else [])]:
        if not url.startswith(("http://", "https://")):
            raise RequestValidationError(
                "image_urls", say("generation.request.references_not_uploaded")
            )
    if req.mask_url is not None and not urls:
        raise RequestValidationError("mask_url", say("generation.mask_needs_image"))
    return req


@dataclass(frozen=True)
class ImageFacts:
    """What the bot learned from an image's real bytes."""

    content_type: str
    size_bytes: int
    width: int
    height: int
    has_alpha: bool


def _mb(n: int) -> str:
    return f"{n / MB:.1f} MB" if n % MB else f"{n // MB} MB"


def validate_reference(model: str, image: ImageFacts, *, label: str = "The image") -> None:
    """Refuse a reference image the model cannot take."""
    caps = capabilities(model)
    if image.content_type not in caps.reference_types:
        kinds = _one_of(sorted(t.split("/")[1].upper() for t in caps.reference_types))
        raise RequestValidationError(
            "image_urls",
            say("generation.request.reference_type", label=label, kinds=kinds, model=caps.name),
        )
    if image.size_bytes > caps.max_reference_bytes:
        raise RequestValidationError(
            "image_urls",
            say(
                "generation.request.reference_too_large",
                label=label,
                size=_mb(image.size_bytes),
                model=caps.name,
                limit=_mb(caps.max_reference_bytes),
            ),
        )


def validate_mask(model: str, mask: ImageFacts, first_reference: ImageFacts) -> None:
    """Refuse a mask that does not fit the model's rules or the image it edits."""
    caps = capabilities(model)
    if mask.content_type != "image/png":
        raise RequestValidationError("mask_url", say("generation.request.mask_not_png"))
    if caps.mask_needs_alpha and not mask.has_alpha:
        raise RequestValidationError(
            "mask_url",
            say("generation.request.mask_no_alpha"),
        )
    if caps.max_mask_bytes is not None and mask.size_bytes > caps.max_mask_bytes:
        raise RequestValidationError(
            "mask_url",
            say(
                "generation.request.mask_too_large",
                size=_mb(mask.size_bytes),
                model=caps.name,
                limit=_mb(caps.max_mask_bytes),
            ),
        )
    if (mask.width, mask.height) != (first_reference.width, first_reference.height):
        raise RequestValidationError(
            "mask_url",
            say(
                "generation.request.mask_size_mismatch",
                mask_width=mask.width,
                mask_height=mask.height,
                width=first_reference.width,
                height=first_reference.height,
            ),
        )
