"""The credit table: what one image costs by model, resolution and quality.

Defaults come from each model's ``credits`` in the model catalog (``bot/toapis/models.toml``:
``gpt-image-1.5-official`` at 1K costs 1 (low), 2 (medium) or 4 (high) credits per image, twice
that at 2K and four times at 4K; ``gpt-4o-image`` costs 2 per image).
The operator may override any entry with ``QUOTA_CREDITS`` (JSON), e.g.::

    {"gpt-image-1.5-official": {"1k": {"low": 1, "medium": 2, "high": 4}, "4k": {"high": 20}},
     "gpt-4o-image": 3}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.messages import say
from bot.toapis.catalog import CATALOG, ModelCapabilities
from bot.toapis.models import GenerationRequest

__all__ = ["CreditTable", "CreditTableError"]

# What the service does when a request leaves these out (the vendor's defaults).
SERVICE_DEFAULT_RESOLUTION = "1k"
SERVICE_DEFAULT_QUALITY = "high"


class CreditTableError(ValueError):
    """The operator's credit table is not valid; the message says what to fix."""


def _default_prices(models: Mapping[str, ModelCapabilities] | None = None) -> dict[str, Any]:
    """The catalog's prices (its models in service), as a fresh table to merge overrides into."""
    return {
        name: caps.credits
        if isinstance(caps.credits, int)
        else {res: dict(row) for res, row in caps.credits.items()}
        for name, caps in (CATALOG if models is None else models).items()
    }


@dataclass(frozen=True)
class CreditTable:
    """Credits per image: ``prices[model]`` is an int, or ``{resolution: {quality: int}}``."""

    prices: Mapping[str, Any] = field(default_factory=_default_prices)

    @classmethod
    def from_json(
        cls, text: str | None, models: Mapping[str, ModelCapabilities] | None = None
    ) -> CreditTable:
        """Return the catalog's table (``models``, default the active one) with JSON overrides."""
        if text is None or not text.strip():
            return cls(_default_prices(models))
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CreditTableError(f"not valid JSON ({exc.msg})") from None
        return cls.with_overrides(data, models)

    @classmethod
    def with_overrides(
        cls, data: Any, models: Mapping[str, ModelCapabilities] | None = None
    ) -> CreditTable:
        """Return the catalog's table with ``data`` (same shape as ``prices``) merged in."""
        if not isinstance(data, dict):
            raise CreditTableError('expected an object such as {"gpt-4o-image": 2}')
        catalog = CATALOG if models is None else models
        prices = _default_prices(catalog)
        for model, value in data.items():
            caps = catalog.get(model)
            if caps is None:
                raise CreditTableError(f"unknown model {model!r}; known: {', '.join(catalog)}")
            if caps.resolutions is None:
                prices[model] = _credits(value, model)
                continue
            if not isinstance(value, dict):
                # One number for every resolution and quality of the model.
                n = _credits(value, model)
                prices[model] = {
                    r: dict.fromkeys(caps.qualities or (), n) for r in caps.resolutions
                }
                continue
            for res, qualities in value.items():
                if res not in caps.resolutions:
                    raise CreditTableError(
                        f"{model}: unknown resolution {res!r}; use {', '.join(caps.resolutions)}"
                    )
                if not isinstance(qualities, dict):
                    n = _credits(qualities, f"{model} {res}")
                    prices[model][res] = dict.fromkeys(caps.qualities or (), n)
                    continue
                for quality, credits in qualities.items():
                    if quality not in (caps.qualities or ()):
                        raise CreditTableError(
                            f"{model} {res}: unknown quality {quality!r}; "
                            f"use {', '.join(caps.qualities or ())}"
                        )
                    prices[model][res][quality] = _credits(credits, f"{model} {res} {quality}")
        return cls(prices)

    def per_image(self, model: str, resolution: str | None, quality: str | None) -> int:
        """Return the credits one image of this kind costs (unknown kinds cost the model's most)."""
        entry = self.prices.get(model)
        if entry is None:
            # A model the table does not know: charge the dearest known image, never nothing.
            return max(self._dearest(e) for e in self.prices.values())
        if isinstance(entry, int):
            return entry
        row = entry.get(resolution or SERVICE_DEFAULT_RESOLUTION)
        if row is None:
            return max(max(r.values()) for r in entry.values())
        value = row.get(quality or SERVICE_DEFAULT_QUALITY)
        return int(value) if value is not None else max(row.values())

    @staticmethod
    def _dearest(entry: Any) -> int:
        if isinstance(entry, int):
            return entry
        return max((max(row.values()) for row in entry.values() if row), default=0)

    def cost(self, model: str, resolution: str | None, quality: str | None, n: int = 1) -> int:
        """Return the credits a request for ``n`` images costs."""
        return self.per_image(model, resolution, quality) * max(1, n)

    def cost_of_request(self, request: GenerationRequest) -> tuple[str, int]:
        """Return (model, credits) for a request."""
        return request.model, self.cost(
            request.model, request.resolution, request.quality, request.n
        )

    def lines(self) -> list[str]:
        """Return the table as short lines for members (``/quota me``)."""
        out: list[str] = []
        for model, entry in self.prices.items():
            if isinstance(entry, int):
                out.append(say("quota.price.flat", model=model, credits=entry))
                continue
            for res, row in entry.items():
                parts = say("policy.list_separator").join(
                    say("quota.price.part", quality=say(f"quality.{q}"), credits=c)
                    for q, c in row.items()
                )
                out.append(
                    say("quota.price.tiered", model=model, resolution=res.upper(), parts=parts)
                )
        return out


def _credits(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CreditTableError(f"{where}: credits must be a whole number ≥ 0, not {value!r}")
    return value
