"""A retired model in a server's stored defaults becomes its successor, audited once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.audit.records import SYSTEM_ACTOR
from bot.guild_settings.service import GuildSettingsService
from bot.storage import Database
from bot.toapis.catalog import GPT_4O_IMAGE, GPT_IMAGE_15, use_catalog
from bot.toapis.catalog_file import load_catalog
from tests.catalogs import retiring, shipped_catalog_after, write_catalog

__all__ = ["shipped_catalog_after"]

MOD = 900
G = 1


async def test_a_retired_default_becomes_its_successor_and_is_audited_once(
    settings: GuildSettingsService, sdb: Database, tmp_path: Path, shipped_catalog_after: None
) -> None:
    await settings.set_defaults(G, MOD, model=GPT_4O_IMAGE)
    await settings.set_defaults(G + 1, MOD, model=GPT_IMAGE_15)
    assert (await settings.defaults(G)).model == GPT_4O_IMAGE

    # The operator retires gpt-4o-image (a new MODELS_FILE, a restart).
    use_catalog(load_catalog(write_catalog(tmp_path, retiring(GPT_4O_IMAGE, GPT_IMAGE_15))))
    # Many reads at once (members' commands): one change, one audit entry.
    found = await asyncio.gather(*(settings.defaults(G) for _ in range(8)))
    assert {d.model for d in found} == {GPT_IMAGE_15}
    # The successor's own settings apply (gpt-4o-image had no resolution or quality).
    assert found[0].resolution == "1k" and found[0].quality == "medium"
    assert (await settings.get(G)).default_model == GPT_IMAGE_15
    assert (await sdb.guild_settings.get(G)).default_model == GPT_IMAGE_15  # stored, not patched

    entries = await sdb.audit.recent(G)
    retired = [e for e in entries if e.actor_id == SYSTEM_ACTOR]
    assert [(e.action, e.before, e.after) for e in retired] == [
        ("settings.default_model", GPT_4O_IMAGE, GPT_IMAGE_15)
    ]
    # Later reads change nothing more.
    await settings.defaults(G)
    await settings.get(G)
    assert len(await sdb.audit.recent(G)) == len(entries)
    # A server whose default is in service is left alone.
    assert (await settings.defaults(G + 1)).model == GPT_IMAGE_15
    assert all(e.actor_id == MOD for e in await sdb.audit.recent(G + 1))
