"""Languages over the loopback Discord: localized command metadata, replies in the member's
language, public posts in the server's, and Chinese prompts passed through untouched."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import discord

from bot.app.client import create_bot
from bot.app.languages import DISCORD_LOCALE_TTL, FETCH_RETRY_SECONDS, ServerLanguages
from bot.app.services import build_services
from bot.clock import ManualClock
from tests.app.helpers import mentions_nothing, private_answer, text_of
from tests.app.plugin import Atelier
from tests.fakes.discord import Member, Message, wait_until

MANAGE_GUILD = 1 << 5

#: Discord's rule for command and option names (the localized ones too).
NAME = re.compile(r"^[-_\w]{1,32}$")
#: Context menus (message and user commands): mixed case and spaces, 1-32 characters.
MENU_NAME = re.compile(r"^[-_' \w]{1,32}$")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _manager(atelier: Atelier) -> Member:
    """A member with Manage Server (the /settings commands)."""
    guild = atelier.studio.guild
    return guild.add_member("carol", roles=[guild.add_role("managers", permissions=MANAGE_GUILD)])


def _labels(msg: Message) -> list[str]:
    found: list[str] = []

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            if item.get("label"):
                found.append(str(item["label"]))
            walk(item.get("components", []))

    walk(msg.components)
    return found


def _check_localized(
    node: dict[str, Any], where: str, problems: list[str], *, menu: bool = False
) -> None:
    names = node.get("name_localizations") or {}
    descriptions = node.get("description_localizations") or {}
    zh = names.get("zh-CN")
    if not zh:
        problems.append(f"{where}: no zh-CN name")
    elif menu:
        if not MENU_NAME.match(zh) or zh.strip() != zh:
            problems.append(f"{where}: zh-CN menu name {zh!r} breaks Discord's rules")
    elif not NAME.match(zh) or zh != zh.lower():
        problems.append(f"{where}: zh-CN name {zh!r} breaks Discord's rules")
    if node.get("description") and not descriptions.get("zh-CN"):
        problems.append(f"{where}: no zh-CN description")
    siblings = [o.get("name_localizations", {}).get("zh-CN") for o in node.get("options", [])]
    if len(set(siblings)) != len(siblings):
        problems.append(f"{where}: two options share a zh-CN name: {siblings}")
    for option in node.get("options", []):
        _check_localized(option, f"{where} {option['name']}", problems)
    for choice in node.get("choices", []):
        if not (choice.get("name_localizations") or {}).get("zh-CN"):
            problems.append(f"{where} choice {choice['name']!r}: no zh-CN name")


async def test_synced_commands_carry_zh_cn_for_every_name_description_and_choice(
    atelier: Atelier,
) -> None:
    synced = atelier.discord.commands[None]
    assert {name for name, _ in synced} >= {"imagine", "edit", "jobs", "quota", "settings"}
    menus = {name: c for (name, kind), c in synced.items() if kind == 3}
    assert menus["Edit with Atelier"]["name_localizations"]["zh-CN"] == "用 Atelier 编辑"
    assert menus["Add to references"]["name_localizations"]["zh-CN"] == "加入参考图"
    problems: list[str] = []
    for (name, kind), command in synced.items():
        _check_localized(command, f"/{name}", problems, menu=kind in (2, 3))
    assert not problems, "\n".join(problems)
    imagine = next(c for (n, _), c in synced.items() if n == "imagine")
    assert imagine["name_localizations"]["zh-CN"] == "绘图"
    assert imagine["description_localizations"]["zh-CN"].startswith("根据提示词")
    # Locales not shipped get no localization (Discord shows the English).
    assert "fr" not in imagine["name_localizations"]


async def test_the_check_sees_a_missing_localization() -> None:
    problems: list[str] = []
    _check_localized(
        {"name": "x", "description": "d", "name_localizations": {"zh-CN": "甲"}}, "/x", problems
    )
    assert problems == ["/x: no zh-CN description"]


async def test_a_member_gets_replies_in_their_own_language(atelier: Atelier) -> None:
    zh = atelier.slash("jobs list", locale="zh-CN")
    assert "你没有未完成的任务。" in text_of(await private_answer(atelier.discord, zh))
    en = atelier.slash("jobs list", locale="en-US")
    assert "You have no unfinished jobs." in text_of(await private_answer(atelier.discord, en))
    other = atelier.slash("jobs list", locale="fr")  # not shipped: English
    assert "You have no unfinished jobs." in text_of(await private_answer(atelier.discord, other))

    quota = atelier.slash("quota me", locale="zh-CN")
    text = text_of(await private_answer(atelier.discord, quota))
    assert "你的图片额度" in text and "额度" in text and "credits" not in text

    # A refusal raised deep in the domain (the prompt is empty) speaks the member's language.
    refused = atelier.slash("imagine", {"prompt": "   "}, locale="zh-CN")
    answer = await private_answer(atelier.discord, refused)
    assert "提示词为空" in text_of(answer)
    assert mentions_nothing(answer.allowed_mentions)
    refused_en = atelier.slash("imagine", {"prompt": "   "}, locale="en-GB")
    assert "The prompt is empty" in text_of(await private_answer(atelier.discord, refused_en))

    # The error handler: a member without Manage Server is refused in their language.
    mod = atelier.studio.mod  # Manage Messages only
    refused = atelier.slash("settings audit", member=mod, locale="zh-CN")
    assert "只有拥有 管理服务器 权限" in text_of(await private_answer(atelier.discord, refused))
    refused_en = atelier.slash("settings audit", member=mod)
    assert "Manage Server" in text_of(await private_answer(atelier.discord, refused_en))

    # A moderator's reply echoing what they typed: Chinese around it, mentions disabled.
    manager = _manager(atelier)
    added = atelier.slash(
        "settings blocklist add", {"term": "血腥 @everyone"}, member=manager, locale="zh-CN"
    )
    answer = await private_answer(atelier.discord, added)
    assert answer.content == "已屏蔽“血腥 @everyone”。"
    assert mentions_nothing(answer.allowed_mentions)
    audit = atelier.slash("settings audit", member=manager, locale="zh-CN")
    text = text_of(await private_answer(atelier.discord, audit))
    assert "管理员更改" in text and "屏蔽列表" in text


async def test_a_server_set_to_chinese_gets_its_public_posts_in_chinese(atelier: Atelier) -> None:
    owner = _manager(atelier)
    set_it = atelier.slash("settings language", {"language": "zh-CN"}, member=owner)
    assert "简体中文" in text_of(await private_answer(atelier.discord, set_it))
    assert await atelier.bot.moderation.settings.language(atelier.studio.guild.id) == "zh-CN"

    prompt = "月光下的一只狐狸，水彩画风格 🦊"
    rec = atelier.slash("imagine", {"prompt": prompt}, locale="en-US")
    msg = await atelier.result(rec)
    text = text_of(msg)
    assert "这是你的图片" in text and "模型" in text and "任务 #1" in text
    assert "Here is your image" not in text
    assert "重新生成" in _labels(msg) and "删除" in _labels(msg)
    assert mentions_nothing(msg.allowed_mentions)
    # The prompt reaches ToAPIs exactly as typed.
    assert atelier.toapis.requests_to("submit")[0].json["prompt"] == prompt
    assert prompt in text

    # Back to the server's Discord language (English here): public posts in English again.
    back = atelier.slash("settings language", {"language": "discord"}, member=owner)
    assert "English" in text_of(await private_answer(atelier.discord, back))
    rec2 = atelier.slash("imagine", {"prompt": "a fox"}, locale="zh-CN")
    msg2 = await atelier.result(rec2)
    assert "Here is your image" in text_of(msg2)
    assert "Re-roll" in _labels(msg2)


async def test_a_server_whose_discord_language_is_chinese_posts_in_chinese(
    atelier: Atelier,
) -> None:
    guild = atelier.studio.guild
    guild.set_locale("zh-CN")  # the server's Community language (GUILD_UPDATE)
    await wait_until(lambda: atelier.bot.get_guild(guild.id).preferred_locale.value == "zh-CN")  # type: ignore[union-attr]
    rec = atelier.slash("imagine", {"prompt": "a fox"}, locale="en-US")
    msg = await atelier.result(rec)
    assert "这是你的图片" in text_of(msg)


def _fetches(atelier: Atelier, since: int = 0) -> int:
    """How many times the bot asked Discord for a server (GET /guilds/{id})."""
    return sum(1 for ev in atelier.discord.events[since:] if ev.kind == "guild.get")


async def test_a_server_that_changes_its_discord_language_gets_its_next_post_in_it(
    atelier: Atelier,
) -> None:
    guild = atelier.studio.guild
    atelier.toapis.script(queue_s=3600, run_s=1)  # waits at the image service until told
    rec = atelier.slash("imagine", {"prompt": "a fox"}, locale="en-US")  # the server: en-US
    first = await rec.wait_original(lambda m: bool(text_of(m)))
    assert not CJK.search(text_of(first))  # progress in English

    since = atelier.discord.mark()
    guild.set_locale("zh-CN")  # the Community language changes: GUILD_UPDATE, no interaction
    cached = atelier.bot.get_guild(guild.id)
    assert cached is not None
    await wait_until(lambda: cached.preferred_locale is discord.Locale.chinese)
    atelier.toapis.advance(3600)
    msg = await atelier.result(rec)
    assert "这是你的图片" in text_of(msg) and "Here is your image" not in text_of(msg)
    assert "重新生成" in _labels(msg)
    assert _fetches(atelier, since) == 0  # the gateway's cache, not a REST call

    # A moderator's choice still wins over the server's Discord language.
    owner = _manager(atelier)
    chosen = atelier.slash("settings language", {"language": "en"}, member=owner)
    assert "English" in text_of(await private_answer(atelier.discord, chosen))
    rec2 = atelier.slash("imagine", {"prompt": "a cat"}, locale="zh-CN")
    msg2 = await atelier.result(rec2)
    assert "Here is your image" in text_of(msg2) and not CJK.search(text_of(msg2))


async def test_a_job_worker_hears_a_changed_discord_language_after_the_ttl(
    atelier: Atelier,
) -> None:
    """A worker (SHARD_IDS=none) has no guild cache: it fetches, trusts that for the TTL."""
    guild, studio = atelier.studio.guild, atelier.studio
    recs = []
    for job_id, member in enumerate((studio.alice, studio.bob, studio.mod), start=1):
        # Ready after 1, 2 and 3 hours of the image service's clock, one at a time.
        atelier.toapis.script(queue_s=3600 * job_id, run_s=1)
        recs.append(atelier.slash("imagine", {"prompt": f"fox {job_id}"}, member=member))
        await atelier.wait_job(job_id, "submitted", "running")
    await atelier.runner.stop(atelier.bot)  # the gateway process goes away
    await atelier.stack.aclose()

    clock = ManualClock(time.time(), speed=1.0)  # real time, plus what the test adds
    worker_settings = atelier.settings.model_copy(update={"shard_ids": []})
    since = atelier.discord.mark()
    async with build_services(worker_settings, clock=clock) as services:
        worker = create_bot(worker_settings, services)
        assert worker.worker and worker.get_guild(guild.id) is None
        stop = asyncio.Event()
        serving = asyncio.create_task(
            worker.serve_without_gateway(worker_settings.discord_token.get_secret_value(), stop)
        )
        try:
            atelier.toapis.advance(3600)
            assert "Here is your image" in text_of(await atelier.result(recs[0]))
            assert _fetches(atelier, since) == 1  # asked once, for every post of the server

            guild.set_locale("zh-CN")  # the worker has no gateway: nobody tells it
            atelier.toapis.advance(3600)
            assert "Here is your image" in text_of(await atelier.result(recs[1]))  # trusted
            assert _fetches(atelier, since) == 1

            clock.advance(DISCORD_LOCALE_TTL + 1)  # no restart: the language is fetched again
            atelier.toapis.advance(3600)
            third = await atelier.result(recs[2])
            assert "这是你的图片" in text_of(third) and "Here is your image" not in text_of(third)
            assert _fetches(atelier, since) == 2
        finally:
            stop.set()
            await asyncio.wait_for(serving, 10)
            await worker.close()


async def test_a_failed_language_fetch_keeps_what_was_known_and_waits_before_asking_again(
    atelier: Atelier,
) -> None:
    guild = atelier.studio.guild
    clock = ManualClock()
    # Over REST only, like a job worker: the services' client has no guild cache.
    languages = ServerLanguages(
        atelier.bot.services.rest, atelier.bot.moderation.settings, clock=clock, fetch_timeout=0.2
    )
    since = atelier.discord.mark()
    assert await asyncio.gather(*(languages.of(guild.id) for _ in range(5))) == ["en"] * 5
    assert _fetches(atelier, since) == 1  # five posts at once: one fetch

    guild.set_locale("zh-CN")
    clock.advance(DISCORD_LOCALE_TTL + 1)
    hung = atelier.discord.withhold_response("guild.get", mode="hang")  # Discord never answers
    assert await languages.of(guild.id) == "en"  # the last known language; nothing raised
    assert len(hung.hits) == 1
    assert _fetches(atelier, since) == 2
    clock.advance(FETCH_RETRY_SECONDS / 2)
    assert await languages.of(guild.id) == "en"  # not asked again yet
    assert _fetches(atelier, since) == 2
    clock.advance(FETCH_RETRY_SECONDS / 2 + 1)
    assert await languages.of(guild.id) == "zh-CN"
    assert _fetches(atelier, since) == 3

    # A server Discord does not know (404): English, and no fetch per post.
    assert await languages.of(guild.id + 1) == "en"
    assert await languages.of(guild.id + 1) == "en"
    assert _fetches(atelier, since) == 4

    # A moderator's choice wins without asking Discord.
    await atelier.bot.moderation.settings.set_language(guild.id, guild.owner_id, "en")
    clock.advance(DISCORD_LOCALE_TTL + 1)
    assert await languages.of(guild.id) == "en"
    assert _fetches(atelier, since) == 4
