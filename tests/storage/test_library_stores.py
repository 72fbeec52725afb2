"""The reference tray and the job history on both backends (migration 0010)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from bot.generation.tray_store import TrayImage
from bot.jobs.records import NewJob, decode_request
from bot.storage import Database, open_database
from tests.storage.backends import open_test_database

REQUEST = json.dumps({"model": "gpt-image-1.5-official", "prompt": "x"})
BIG = 1_300_000_000_000_000_000  # Discord snowflakes exceed 32 bits


@pytest_asyncio.fixture
async def db(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    async with open_test_database(backend, tmp_path) as database:
        yield database


def _image(n: int, **kw: object) -> TrayImage:
    return TrayImage(url=f"https://cdn/{n}.png", filename=f"{n}.png", **kw)  # type: ignore[arg-type]


async def test_a_tray_keeps_its_images_in_order_per_member_and_server(db: Database) -> None:
    first = _image(1, content_type="image/png", size=1234, width=64, height=48)
    await db.trays.add(BIG + 1, BIG + 2, [first, _image(2)], now=100.0)
    await db.trays.add(BIG + 1, BIG + 2, [_image(3)], now=200.0)
    await db.trays.add(BIG + 1, BIG + 9, [_image(9)], now=100.0)  # another member
    await db.trays.add(BIG + 5, BIG + 2, [_image(5)], now=100.0)  # another server
    items = await db.trays.items(BIG + 1, BIG + 2)
    assert [i.url for i in items] == ["https://cdn/1.png", "https://cdn/2.png", "https://cdn/3.png"]
    assert [i.added_at for i in items] == [100.0, 100.0, 200.0]
    got = items[0]
    assert (got.filename, got.content_type, got.size, got.width, got.height) == (
        "1.png",
        "image/png",
        1234,
        64,
        48,
    )
    assert items[1].content_type is None and items[1].width is None
    assert len({i.id for i in items}) == 3
    # Removing by id takes only this member's rows.
    other = (await db.trays.items(BIG + 1, BIG + 9))[0]
    assert await db.trays.remove(BIG + 1, BIG + 2, [items[0].id, items[2].id, other.id]) == 2
    assert [i.url for i in await db.trays.items(BIG + 1, BIG + 2)] == ["https://cdn/2.png"]
    assert await db.trays.remove(BIG + 1, BIG + 2, []) == 0
    assert await db.trays.clear(BIG + 1, BIG + 2) == 1
    assert await db.trays.items(BIG + 1, BIG + 2) == []
    assert len(await db.trays.items(BIG + 1, BIG + 9)) == 1
    assert len(await db.trays.items(BIG + 5, BIG + 2)) == 1


async def test_the_history_pages_a_members_jobs_in_one_server_newest_first(db: Database) -> None:
    request = decode_request(REQUEST)
    mine = []
    for n in range(5):
        job = await db.jobs.create(
            NewJob(member_id=BIG + 2, guild_id=BIG + 1, request=request), now=float(n)
        )
        mine.append(job.id)
        await db.jobs.create(NewJob(member_id=BIG + 3, guild_id=BIG + 1, request=request), now=1.0)
        await db.jobs.create(NewJob(member_id=BIG + 2, guild_id=BIG + 7, request=request), now=1.0)
    assert await db.history.count(BIG + 1, BIG + 2) == 5
    first = await db.history.page(BIG + 1, BIG + 2, offset=0, limit=2)
    second = await db.history.page(BIG + 1, BIG + 2, offset=2, limit=2)
    last = await db.history.page(BIG + 1, BIG + 2, offset=4, limit=2)
    assert [j.id for j in first + second + last] == mine[::-1]
    assert await db.history.page(BIG + 1, BIG + 2, offset=5, limit=2) == []
    assert await db.history.count(BIG + 1, BIG + 4) == 0


async def test_a_tray_survives_reopening_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    db = await open_database(url)
    await db.trays.add(1, 2, [_image(1)], now=5.0)
    await db.close()
    db = await open_database(url)
    try:
        assert [i.url for i in await db.trays.items(1, 2)] == ["https://cdn/1.png"]
    finally:
        await db.close()
