"""Every sentence a member reads, in one place (the future translation catalog).

Templates use named ``{placeholders}``; ``say(key, **params)`` fills one in. Code elsewhere
never writes a member-facing sentence itself: it raises ``bot.refusal.Refusal(say(...))`` or
stores a ``FailureCode`` whose sentence is looked up here. Sections follow the code's layers.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TEXT", "say"]

TEXT: dict[str, str] = {}

# -- generation: plan, references, variants (bot/generation/) ------------------------------
TEXT.update({})

# -- images: inspecting, converting, masks (bot/images.py) -----------------------------------
TEXT.update({})

# -- server policy and blocklist (bot/guild_settings/) ---------------------------------------
TEXT.update({})

# -- quotas (bot/quota/) ---------------------------------------------------------------------
TEXT.update({})

# -- job failures: what happened / what to try, per FailureCode (bot/jobs/, bot/app/) --------
TEXT.update({})

# -- delivery: progress, results, failures, gallery (bot/app/delivery/) ----------------------
TEXT.update({})

# -- commands, buttons and the error handler (bot/app/, cogs/) -------------------------------
TEXT.update({})


def say(key: str, /, **params: Any) -> str:
    """Return the sentence ``key`` with ``params`` filled in; a missing key fails loudly."""
    return TEXT[key].format(**params)
