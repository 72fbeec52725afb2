"""Slash commands' names, descriptions, options and choices in every shipped language.

discord.py asks the tree's ``Translator`` for each string and each Discord locale when it builds
the payload it syncs. The answers come from the ``.po`` catalogs' ``msgctxt "command-…"`` entries,
keyed by the English text; a locale that is not shipped (or a string not yet translated) gets no
localization, so Discord shows the English.

Model choices come from the model catalog, so their names do too: a model's choice in zh-CN is
its ``display_names."zh-CN"`` (else its English display name). Ratios, tiers and format names
(``16:9``, ``2K``, ``PNG``) read the same in every language and are given back unchanged.
"""

from __future__ import annotations

import re

import discord
from discord import app_commands

from bot import i18n
from bot.app.choices import model_choice_name
from bot.toapis.catalog import ModelCatalog

__all__ = ["CONTEXTS", "CatalogTranslator"]

Where = app_commands.TranslationContextLocation
#: The catalog context of each kind of string (a name and a description never share a context:
#: names follow Discord's rules, lowercase and at most 32 characters, without spaces).
CONTEXTS: dict[Where, str] = {
    Where.command_name: "command-name",
    Where.group_name: "command-name",
    Where.command_description: "command-description",
    Where.group_description: "command-description",
    Where.parameter_name: "option-name",
    Where.parameter_description: "option-description",
    Where.choice_name: "choice-name",
}


#: Choice names that need no translation: ratios (16:9), tiers (2K), formats (PNG).
SAME_IN_EVERY_LANGUAGE = re.compile(r"^(?:\d{1,2}:\d{1,2}|[1-9]K|[A-Z]{3,4})$")


class CatalogTranslator(app_commands.Translator):
    """Answers from ``bot/locales`` and the model catalog; ``None`` (keep the English) otherwise."""

    def __init__(self, models: ModelCatalog | None = None) -> None:
        super().__init__()
        self.models = models

    def model_choice(self, language: str, message: str) -> str | None:
        """A model choice's name in ``language`` (from the catalog file), or None."""
        if self.models is None:
            return None
        for caps in self.models.models.values():
            if message == model_choice_name(caps):
                return model_choice_name(caps, language)
            if message == caps.name:
                return caps.name  # /settings defaults lists models by their API name
        return None

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContext,  # type: ignore[type-arg]
    ) -> str | None:
        context_name = CONTEXTS.get(context.location)
        if context_name is None or locale.value not in i18n.LANGUAGES:
            return None
        if context_name == "choice-name" and locale.value != i18n.SOURCE:
            found = self.model_choice(locale.value, string.message)
            if found is not None:
                return found
        text = i18n.command_text(locale.value, context_name, string.message)
        if text is None and context_name == "choice-name" and locale.value != i18n.SOURCE:
            if SAME_IN_EVERY_LANGUAGE.match(string.message):
                return string.message
        return text
