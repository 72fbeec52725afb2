"""Is this process able to do its work? The checks behind ``/healthz``.

Healthy means, all three: every gateway shard this process serves has its websocket open (a
job worker, ``SHARD_IDS=none``, serves none), the database answers a cheap query within
``db_timeout`` seconds, and the job engine (its poll scheduler) is running.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import discord

log = logging.getLogger(__name__)

__all__ = ["HealthChecks", "HealthReport", "ShardState", "gateway_shards"]

#: The ``bot_meta`` key the database check reads (it never exists: the query is the point).
PING_KEY = "health.ping"


@dataclass(frozen=True, slots=True)
class ShardState:
    """One gateway shard as this process sees it."""

    shard: int
    connected: bool
    latency: float  # seconds; NaN until a heartbeat was acknowledged


def gateway_shards(client: discord.Client, shard_ids: Sequence[int]) -> list[ShardState]:
    """Return the state of each of ``shard_ids`` (an unsharded client is shard 0)."""
    if isinstance(client, discord.AutoShardedClient):
        states = []
        for shard_id in shard_ids:
            info = client.get_shard(shard_id)
            connected = info is not None and not client.is_closed() and not info.is_closed()
            states.append(
                ShardState(shard_id, connected, info.latency if info is not None else math.nan)
            )
        return states
    ws = client.ws
    connected = ws is not None and ws.open and not client.is_closed()
    return [ShardState(0, connected, client.latency)]


@dataclass
class HealthReport:
    """The outcome of every check; ``ok`` only if all passed."""

    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Tell whether every check passed."""
        return all(c["ok"] for c in self.checks.values())

    @property
    def failed(self) -> list[str]:
        """Return the names of the checks that failed."""
        return [name for name, c in self.checks.items() if not c["ok"]]

    def to_json(self) -> dict[str, Any]:
        """Return the body ``/healthz`` sends."""
        return {
            "status": "ok" if self.ok else "unhealthy",
            "failed": self.failed,
            "checks": self.checks,
        }


class HealthChecks:
    """Run the three checks; each is given as a callable so it reads the live objects."""

    def __init__(
        self,
        *,
        shards: Callable[[], list[ShardState]] | None,
        ping_database: Callable[[], Awaitable[object]],
        engine_running: Callable[[], bool],
        db_timeout: float = 2.0,
    ) -> None:
        self._shards = shards
        self._ping = ping_database
        self._engine_running = engine_running
        self.db_timeout = db_timeout

    async def run(self) -> HealthReport:
        """Run every check and return the report (a check that raises has failed)."""
        report = HealthReport()
        report.checks["gateway"] = self._gateway()
        report.checks["database"] = await self._database()
        running = self._engine_running()
        report.checks["engine"] = {"ok": running, **({} if running else {"error": "not running"})}
        return report

    def _gateway(self) -> dict[str, Any]:
        if self._shards is None:
            return {"ok": True, "shards": {}, "note": "job worker: no gateway connection"}
        shards = self._shards()
        down = [s.shard for s in shards if not s.connected]
        result: dict[str, Any] = {
            "ok": bool(shards) and not down,
            "shards": {str(s.shard): "connected" if s.connected else "down" for s in shards},
        }
        if down:
            result["error"] = "shard " + ", ".join(str(i) for i in down) + " not connected"
        return result

    async def _database(self) -> dict[str, Any]:
        try:
            await asyncio.wait_for(self._ping(), self.db_timeout)
        except TimeoutError:
            return {"ok": False, "error": f"no answer within {self.db_timeout:g} s"}
        except Exception as exc:
            # The type only: a driver's message may carry the database URL.
            log.info("health check: the database query failed (%s)", type(exc).__name__)
            return {"ok": False, "error": type(exc).__name__}
        return {"ok": True}
