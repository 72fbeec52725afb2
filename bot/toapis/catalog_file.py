"""The model catalog as data: the TOML file's schema, and loading it into a ``ModelCatalog``.

The shipped catalog is ``bot/toapis/models.toml``; ``MODELS_FILE`` names a file that replaces it
(whole, not merged: what the file lists is what the bot offers). Every problem is a
``CatalogError`` naming the file and the field, e.g. ``models.toml: models[2].sizes: ...``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .catalog import MB, ModelCapabilities, ModelCatalog

__all__ = ["SHIPPED_CATALOG", "CatalogError", "load_catalog", "parse_catalog"]

#: The catalog shipped inside the package (package data, also in the Docker image).
SHIPPED_CATALOG = Path(__file__).resolve().parent / "models.toml"

#: Discord allows 25 choices per option; the size option adds "auto", /settings adds "default".
MAX_CHOICES = 25
RATIO = re.compile(r"^[1-9][0-9]?:[1-9][0-9]?$")

Resolution = Literal["1k", "2k", "4k"]
Quality = Literal["low", "medium", "high"]
OutputFormat = Literal["png", "jpeg", "webp"]
ImageType = Literal["image/png", "image/jpeg", "image/webp"]
Credits = Annotated[int, Field(ge=0)]


class CatalogError(ValueError):
    """The model catalog file is unreadable or invalid; the message names the file and field."""


def _unique(values: Sequence[Any]) -> Sequence[Any]:
    twice = sorted({str(v) for v in values if list(values).count(v) > 1})
    if twice:
        raise ValueError(f"{twice[0]} is listed twice")
    return values


class ModelEntry(BaseModel):
    """One ``[[models]]`` block."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,79}$")
    display_name: str = Field(min_length=1, max_length=60)
    #: The display name in other languages (Discord locale names such as ``zh-CN``).
    display_names: dict[str, Annotated[str, Field(min_length=1, max_length=60)]] = {}
    sizes: list[str] = Field(min_length=1)
    auto_size: bool = False
    default_size: str | None = None
    #: Absent: the model takes no such parameter (sending one is refused before any call).
    resolutions: list[Resolution] | None = Field(None, min_length=1)
    resolution_4k_sizes: list[str] = []
    qualities: list[Quality] | None = Field(None, min_length=1)
    output_formats: list[OutputFormat] | None = Field(None, min_length=1)
    counts: list[Annotated[int, Field(ge=1, le=10)]] = Field(min_length=1)
    max_prompt_chars: int = Field(gt=0)
    max_references: int = Field(ge=0)
    reference_types: list[ImageType] = Field(min_length=1)
    max_reference_mb: float = Field(gt=0)
    mask_needs_alpha: bool = False
    #: Absent: no limit of the model's own on a mask's size.
    max_mask_mb: float | None = Field(None, gt=0)
    #: Credits per image: one number, or ``{resolution = {quality = credits}}``.
    credits: Credits | dict[Resolution, dict[Quality, Credits]]
    retired: bool = False
    successor: str | None = None
    notes: list[str] = []

    @field_validator("sizes", "resolution_4k_sizes")
    @classmethod
    def _ratios(cls, value: list[str]) -> list[str]:
        for size in value:
            if not RATIO.match(size):
                raise ValueError(f"{size!r} is not an aspect ratio such as 16:9")
        return list(_unique(value))

    @field_validator("resolutions", "qualities", "output_formats", "counts", "reference_types")
    @classmethod
    def _no_repeats(cls, value: list[Any] | None) -> list[Any] | None:
        return None if value is None else list(_unique(value))

    @field_validator("display_names")
    @classmethod
    def _languages(cls, value: dict[str, str]) -> dict[str, str]:
        from bot.i18n import LANGUAGES

        for language in value:
            if language not in LANGUAGES:
                raise ValueError(f"unknown language {language!r}; use {', '.join(LANGUAGES)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ModelEntry:
        if self.default_size is not None and self.default_size not in self.sizes:
            raise ValueError(f"default_size {self.default_size!r} is not one of sizes")
        if self.resolution_4k_sizes:
            if "4k" not in (self.resolutions or ()):
                raise ValueError("resolution_4k_sizes given but 4k is not one of resolutions")
            stray = [s for s in self.resolution_4k_sizes if s not in self.sizes]
            if stray:
                raise ValueError(f"resolution_4k_sizes: {stray[0]} is not one of sizes")
        elif "4k" in (self.resolutions or ()):
            raise ValueError("resolutions has 4k: list the sizes it allows in resolution_4k_sizes")
        if isinstance(self.credits, dict):
            for res, row in self.credits.items():
                if res not in (self.resolutions or ()):
                    raise ValueError(f"credits: {res} is not one of resolutions")
                for quality in row:
                    if quality not in (self.qualities or ()):
                        raise ValueError(f"credits.{res}: {quality} is not one of qualities")
            missing = [r for r in self.resolutions or () if r not in self.credits]
            if missing:
                raise ValueError(f"credits: no price for {missing[0]}")
        if self.retired and not self.successor:
            raise ValueError('a retired model needs a successor = "<model name>"')
        if self.successor is not None and not self.retired:
            raise ValueError("successor is only for a retired model (add retired = true)")
        return self

    def capabilities(self) -> ModelCapabilities:
        """Return the model as the validator and the commands use it."""
        return ModelCapabilities(
            name=self.name,
            label=self.display_name,
            labels=dict(self.display_names),
            sizes=tuple(self.sizes),
            allows_auto_size=self.auto_size,
            default_size=self.default_size or self.sizes[0],
            resolutions=tuple(self.resolutions) if self.resolutions is not None else None,
            resolution_4k_sizes=tuple(self.resolution_4k_sizes),
            qualities=tuple(self.qualities) if self.qualities is not None else None,
            output_formats=tuple(self.output_formats) if self.output_formats is not None else None,
            counts=tuple(sorted(self.counts)),
            max_prompt_chars=self.max_prompt_chars,
            max_references=self.max_references,
            reference_types=frozenset(self.reference_types),
            max_reference_bytes=int(self.max_reference_mb * MB),
            mask_needs_alpha=self.mask_needs_alpha,
            max_mask_bytes=int(self.max_mask_mb * MB) if self.max_mask_mb is not None else None,
            credits=(
                self.credits
                if isinstance(self.credits, int)
                else {
                    str(r): {str(q): c for q, c in row.items()} for r, row in self.credits.items()
                }
            ),
            retired=self.retired,
            successor=self.successor,
            notes=tuple(self.notes),
        )


class CatalogFile(BaseModel):
    """The whole file: ``[[models]]`` blocks, in the order the commands show them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    models: list[ModelEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _links(self) -> CatalogFile:
        names = [m.name for m in self.models]
        for i, model in enumerate(self.models):
            if names.index(model.name) != i:
                raise ValueError(f"models[{i}].name: {model.name!r} is listed twice")
            if model.successor is None:
                continue
            if model.successor not in names:
                raise ValueError(
                    f"models[{i}].successor: {model.successor!r} is not a model of the catalog"
                )
            if self.models[names.index(model.successor)].retired:
                raise ValueError(
                    f"models[{i}].successor: {model.successor!r} is retired too;"
                    " name a model in service"
                )
        active = [m for m in self.models if not m.retired]
        if not active:
            raise ValueError("models: every model is retired; keep at least one in service")
        if len(active) > MAX_CHOICES - 1:
            raise ValueError(f"models: at most {MAX_CHOICES - 1} models in service (Discord)")
        sizes = {s for m in active for s in m.sizes}
        if len(sizes) > MAX_CHOICES - 1:
            raise ValueError(
                f"models: at most {MAX_CHOICES - 1} different sizes in service (Discord),"
                f" not {len(sizes)}"
            )
        return self


def _where(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("int", "dict[...]") or "[" in part or part.startswith("function-"):
            continue  # pydantic's name of a union member, not a field of the file
        else:
            out += f".{part}" if out else part
    return out or "(top level)"


def parse_catalog(data: Any, *, source: str) -> ModelCatalog:
    """Validate parsed TOML; raise ``CatalogError`` naming ``source`` and the first bad field."""
    try:
        parsed = CatalogFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        where = _where(err.get("loc") or ())
        if where == "(top level)":
            raise CatalogError(f"{source}: {msg}") from None
        raise CatalogError(f"{source}: {where}: {msg}") from None
    return ModelCatalog([m.capabilities() for m in parsed.models], source=source)


def load_catalog(path: Path | str | None = None) -> ModelCatalog:
    """Read a catalog file (default: the shipped one); raise ``CatalogError`` if it is invalid."""
    if path is None:
        return _shipped()
    return _read(Path(path))


@cache
def _shipped() -> ModelCatalog:
    return _read(SHIPPED_CATALOG)


def _read(path: Path) -> ModelCatalog:
    source = path.name if path == SHIPPED_CATALOG else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise CatalogError(f"{source}: cannot be read ({reason})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{source}: not valid TOML ({exc})") from None
    return parse_catalog(data, source=source)
