"""The health checks and the image's probe, on their own."""

from __future__ import annotations

import asyncio
import math
import subprocess
from pathlib import Path

from bot.ops.health import HealthChecks, ShardState
from tests.cli import run_bot


async def _answers() -> None:
    return None


async def test_a_job_worker_has_no_gateway_to_check() -> None:
    checks = HealthChecks(shards=None, ping_database=_answers, engine_running=lambda: True)
    report = await checks.run()
    assert report.ok and report.to_json()["checks"]["gateway"]["shards"] == {}


async def test_a_shard_down_among_several_is_named() -> None:
    shards = [ShardState(0, True, 0.04), ShardState(1, False, math.nan), ShardState(2, True, 0.05)]
    checks = HealthChecks(
        shards=lambda: shards, ping_database=_answers, engine_running=lambda: True
    )
    body = (await checks.run()).to_json()
    assert body["status"] == "unhealthy" and body["failed"] == ["gateway"]
    assert body["checks"]["gateway"]["shards"] == {"0": "connected", "1": "down", "2": "connected"}
    assert body["checks"]["gateway"]["error"] == "shard 1 not connected"


async def test_a_gateway_not_connected_yet_is_unhealthy() -> None:
    checks = HealthChecks(shards=lambda: [], ping_database=_answers, engine_running=lambda: True)
    assert (await checks.run()).failed == ["gateway"]


async def test_a_database_that_hangs_fails_within_the_timeout() -> None:
    never = asyncio.Event()

    async def hangs() -> None:
        await never.wait()

    checks = HealthChecks(
        shards=None, ping_database=hangs, engine_running=lambda: True, db_timeout=0.05
    )
    report = await checks.run()
    assert report.failed == ["database"]
    assert "no answer within" in report.checks["database"]["error"]


async def test_a_database_error_names_its_type_never_its_message() -> None:
    async def refuses() -> None:
        raise ConnectionRefusedError("postgresql://atelier:hunter2@db:5432/atelier refused")

    checks = HealthChecks(shards=None, ping_database=refuses, engine_running=lambda: False)
    report = await checks.run()
    assert report.failed == ["database", "engine"]
    assert report.checks["database"]["error"] == "ConnectionRefusedError"
    assert "hunter2" not in str(report.to_json())


def test_the_probe_passes_without_an_endpoint_and_fails_when_nothing_listens(
    tmp_path: Path,
) -> None:
    def healthcheck() -> subprocess.CompletedProcess[str]:
        return run_bot(["healthcheck"], {}, tmp_path)

    unset = healthcheck()
    assert unset.returncode == 0 and "METRICS_PORT is not set" in unset.stdout
    # From .env, as the bot reads it, when the environment does not say.
    (tmp_path / ".env").write_text("# the bot's own settings\nMETRICS_PORT=1\n")
    closed = healthcheck()
    assert closed.returncode == 1 and "127.0.0.1:1/healthz: no answer" in closed.stderr
    (tmp_path / ".env").write_text("METRICS_PORT=web\n")
    wrong = healthcheck()
    assert wrong.returncode == 1 and "is not a port" in wrong.stderr
    assert "Traceback" not in wrong.stderr
