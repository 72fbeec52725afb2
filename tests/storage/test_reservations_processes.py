"""Reservations from several processes against one PostgreSQL budget stay exact."""

from __future__ import annotations

import asyncpg

from bot.clock import ManualClock
from bot.quota.service import QuotaService
from bot.storage import open_database
from tests.storage.backends import fresh_postgres_url
from tests.storage.reserve_worker import GUILD_ID, run_workers


async def test_500_reservations_over_three_processes_against_a_budget_of_100_take_exactly_100() -> (
    None
):
    async with fresh_postgres_url() as url:
        db = await open_database(url)
        try:
            quotas = QuotaService(db.quotas, clock=ManualClock())
            await quotas.configure_server(GUILD_ID, 1, daily=100, member_daily="unlimited")
        finally:
            await db.close()

        tallies = await run_workers(url, total=500, processes=3)

        assert sum(t["accepted"] for t in tallies) == 100, tallies
        assert sum(t["refused"] for t in tallies) == 400, tallies
        conn = await asyncpg.connect(url)
        try:
            held = await conn.fetchval(
                "SELECT sum(credits) FROM quota_usage WHERE guild_id = $1 AND member_id = 0"
                " AND period = 'pool_day'",
                GUILD_ID,
            )
            charges = await conn.fetchval(
                "SELECT count(*) FROM quota_charges WHERE guild_id = $1 AND state = 'reserved'",
                GUILD_ID,
            )
        finally:
            await conn.close()
        assert (held, charges) == (100, 100)  # the pool holds exactly the budget, once per job
