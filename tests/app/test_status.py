"""``/status`` over the loopback Discord and the fake ToAPIs: real numbers after real jobs,
localized, moderators only."""

from __future__ import annotations

import re

from bot import __version__, i18n
from tests.app.helpers import mentions_nothing, private_answer, text_of, wait_settled
from tests.app.plugin import Atelier
from tests.fakes.discord import Member, wait_until
from tests.fakes.toapis_model import TaskScript

MANAGE_GUILD = 1 << 5


def _manager(atelier: Atelier) -> Member:
    guild = atelier.studio.guild
    return guild.add_member("carol", roles=[guild.add_role("managers", permissions=MANAGE_GUILD)])


def _api_calls(atelier: Atelier) -> int:
    return sum(1 for r in atelier.toapis.requests if r.path.startswith("/v1/"))


async def test_status_shows_the_service_health_queue_and_version(atelier: Atelier) -> None:
    # One submit is refused with 429 first (the client waits and sends it again).
    atelier.toapis.faults.add("rate_limit", endpoint="submit", retry_after=0)
    rec = atelier.slash("imagine", {"prompt": "a lighthouse"})
    await atelier.result(rec)
    delivered = await wait_settled(atelier, 1, "delivered")
    # The engine tells its listeners (the health recorder among them) after the delivered write.
    await wait_until(lambda: atelier.bot.services.health.snapshot().jobs_done == 1, timeout=10)
    assert delivered.submitted_at is not None and delivered.completed_at is not None
    median = i18n.format_number(round(delivered.completed_at - delivered.submitted_at, 1), "en")

    # A second job stays queued at the service while /status is asked.
    atelier.toapis.script_next(TaskScript(queue_s=600, run_s=1, result_shape="result.images"))
    atelier.slash("imagine", {"prompt": "a slow lighthouse"})
    await atelier.wait_job(2, "submitted", "running")

    manager = _manager(atelier)
    calls = _api_calls(atelier)
    answer = await private_answer(atelier.discord, atelier.slash("status", member=manager))
    text = text_of(answer)
    assert answer.ephemeral and mentions_nothing(answer.allowed_mentions)
    assert f"Atelier {__version__}" in text
    assert f"{calls} API calls" in text and "1 rate-limited (429)" in text
    failed = re.search(r"([\d.]+)% failed", text)
    assert failed is not None and float(failed.group(1)) == round(100 / calls, 1)
    assert "1 delivered, 0 failed" in text and f"median task time {median}s" in text
    assert "1 waiting, 0 running" in text or "0 waiting, 1 running" in text
    assert "This server: 1 in flight" in text

    zh = atelier.slash("status", member=manager, locale="zh-CN")
    zh_text = text_of(await private_answer(atelier.discord, zh))
    assert "图像服务" in zh_text and "1 个已交付" in zh_text and "本服务器：1 个" in zh_text
    assert f"任务耗时中位数 {i18n.format_number(float(median), 'zh-CN')} 秒" in zh_text


async def test_status_is_refused_for_members_without_manage_server(atelier: Atelier) -> None:
    for member in (atelier.studio.alice, atelier.studio.mod):  # mod: Manage Messages only
        rec = atelier.slash("status", member=member)
        text = text_of(await private_answer(atelier.discord, rec))
        assert "Manage Server" in text and "API calls" not in text
    zh = atelier.slash("status", member=atelier.studio.alice, locale="zh-CN")
    assert "管理服务器" in text_of(await private_answer(atelier.discord, zh))
    # Discord hides it from members too.
    synced = atelier.discord.commands[None]
    status = next(c for (n, _), c in synced.items() if n == "status")
    assert int(status["default_member_permissions"]) == MANAGE_GUILD
    assert status["name_localizations"]["zh-CN"] == "状态"
