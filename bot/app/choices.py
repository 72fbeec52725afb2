"""Slash-command choices built from the model catalog when the cogs load (not at import).

A model's choice shows its display name and its API name; its zh-CN name comes from the
catalog file's ``display_names`` (see ``CatalogTranslator``). Sizes are ratios and formats are
upper-case names, which read the same in every language. Resolutions and qualities are a fixed
set the file may pick from (``bot.toapis.catalog_file``), each translated in the ``.po`` files.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from discord import app_commands

from bot.toapis.catalog import ModelCapabilities, ModelCatalog, active_catalog

__all__ = [
    "AUTO_SIZE",
    "CommandChoices",
    "catalog_of",
    "model_choice_name",
    "set_choices",
    "set_max_value",
]

Choice = app_commands.Choice
#: The English name of the "auto" size choice (translated in the ``.po`` files).
AUTO_SIZE = "auto (the model decides)"
_RESOLUTION_ORDER = ("1k", "2k", "4k")
_QUALITY_ORDER = ("low", "medium", "high")


def catalog_of(bot: Any) -> ModelCatalog:
    """The catalog of ``bot``'s settings (``MODELS_FILE``); the active one for a bare bot."""
    settings = getattr(bot, "settings", None)
    return settings.models if settings is not None else active_catalog()


def model_choice_name(caps: ModelCapabilities, language: str | None = None) -> str:
    """The choice name of a model: display name (in ``language``) and API name, ≤ 100 chars."""
    label = caps.label if language is None else caps.label_in(language)
    return f"{label} ({caps.name})"[:100]


def _choice(name: str, value: str) -> Choice[str]:
    # A locale_str: the tree asks the translator for the choice's name in every locale.
    return Choice(name=app_commands.locale_str(name), value=value)


@dataclasses.dataclass(frozen=True)
class CommandChoices:
    """The choices of every option that depends on what the models in service accept."""

    catalog: ModelCatalog

    def models(self) -> list[Choice[str]]:
        """Every model in service, by display name."""
        return [_choice(model_choice_name(c), n) for n, c in self.catalog.models.items()]

    def model_names(self) -> list[Choice[str]]:
        """Every model in service, by API name (``/settings defaults``)."""
        return [_choice(name, name) for name in self.catalog.models]

    def sizes(self) -> list[Choice[str]]:
        """Every ratio of a model in service, and "auto" when one of them takes it."""
        out = [_choice(s, s) for s in self.catalog.sizes()]
        if any(c.allows_auto_size for c in self.catalog.models.values()):
            out.append(_choice(AUTO_SIZE, "auto"))
        return out

    # When no model in service takes a setting, the option keeps every value (Discord refuses
    # an empty list) and the validator refuses any, naming the model.

    def resolutions(self) -> list[Choice[str]]:
        offered = set(self.catalog.option_values("resolutions")) or set(_RESOLUTION_ORDER)
        return [_choice(r.upper(), r) for r in _RESOLUTION_ORDER if r in offered]

    def qualities(self) -> list[Choice[str]]:
        offered = set(self.catalog.option_values("qualities")) or set(_QUALITY_ORDER)
        return [_choice(q, q) for q in _QUALITY_ORDER if q in offered]

    def formats(self) -> list[Choice[str]]:
        offered = self.catalog.option_values("output_formats") or ("png", "jpeg")
        return [_choice(f.upper(), f) for f in offered]

    def most_images(self) -> int:
        """The largest image count of any model in service."""
        return max(max(c.counts) for c in self.catalog.models.values())


def set_choices(command: Any, **choices: list[Choice[str]]) -> None:
    """Give this cog's copy of ``command`` these choices per option.

    discord.py copies a cog's commands per instance (parameters dict included), so replacing a
    parameter here changes only this bot's command.
    """
    params = command._params
    for name, values in choices.items():
        params[name] = dataclasses.replace(params[name], choices=list(values))


def set_max_value(command: Any, name: str, value: int) -> None:
    """Cap a number option (the image count) at ``value``."""
    params = command._params
    params[name] = dataclasses.replace(params[name], max_value=value)
