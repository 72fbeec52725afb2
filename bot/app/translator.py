"""Slash commands' names, descriptions, options and choices in every shipped language.

discord.py asks the tree's ``Translator`` for each string and each Discord locale when it builds
the payload it syncs. The answers come from the ``.po`` catalogs' ``msgctxt "command-…"`` entries,
keyed by the English text; a locale that is not shipped (or a string not yet translated) gets no
localization, so Discord shows the English.
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot import i18n

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


class CatalogTranslator(app_commands.Translator):
    """Answers from ``bot/locales``; ``None`` (keep the English) for anything else."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContext,  # type: ignore[type-arg]
    ) -> str | None:
        context_name = CONTEXTS.get(context.location)
        if context_name is None or locale.value not in i18n.LANGUAGES:
            return None
        return i18n.command_text(locale.value, context_name, string.message)
