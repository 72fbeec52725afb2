"""The plug-in points the quota and settings work uses: a policy and a charge hook."""

from __future__ import annotations

from bot.jobs.records import Job
from bot.policy import GuildDefaults, RequestContext
from bot.refusal import Refusal
from bot.toapis.models import GenerationRequest
from tests.app.helpers import field, private_answer, result_messages, text_of, wait_settled
from tests.app.plugin import Atelier


class RecordingPolicy:
    def __init__(self) -> None:
        self.seen: list[tuple[RequestContext, GenerationRequest]] = []

    async def check(self, ctx: RequestContext, request: GenerationRequest) -> None:
        self.seen.append((ctx, request))
        if "forbidden" in request.prompt:
            raise Refusal("This server does not allow that prompt. Nothing was charged.")

    async def defaults(self, guild_id: int | None) -> GuildDefaults:
        return GuildDefaults(
            model="gpt-image-1.5-official", size="3:2", resolution="2k", quality="high", max_count=3
        )


class Credits:
    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.committed: list[int] = []
        self.released: list[int] = []

    async def reserve(self, job: Job) -> float | None:
        if self.refuse:
            raise Refusal("You have no credits left today.")
        return 3.0

    async def commit(self, job: Job) -> None:
        self.committed.append(job.id)

    async def release(self, job: Job) -> None:
        self.released.append(job.id)


async def test_policy_sees_every_generation_and_sets_defaults(atelier: Atelier) -> None:
    policy = RecordingPolicy()
    await atelier.restart(policy=policy)
    rec = atelier.slash("imagine", {"prompt": "a boat"}, member=atelier.studio.mod)
    msg = await atelier.result(rec)
    body = atelier.toapis.requests_to("submit")[0].json
    assert (body["size"], body["resolution"], body["quality"]) == ("3:2", "2k", "high")
    ctx, request = policy.seen[0]
    assert ctx.member_id == atelier.studio.mod.id and ctx.guild_id == atelier.studio.guild.id
    assert (
        ctx.channel_id == atelier.studio.art.id
        and ctx.kind == "command"
        and ctx.origin == "imagine"
    )
    assert ctx.can_manage_messages and not ctx.can_manage_guild
    assert ctx.role_ids == (atelier.studio.guild.role("mods").id,)
    assert request.prompt == "a boat"
    atelier.discord.click(msg, "atelier:vary:1:1")
    await atelier.discord.wait_for(
        lambda ev: len(policy.seen) == 2 or ev.kind == "never", timeout=5
    )
    ctx2, _ = policy.seen[1]
    assert ctx2.kind == "button" and ctx2.origin == "vary" and ctx2.reference_count == 1


async def test_policy_refusal_is_ephemeral_and_nothing_happens(atelier: Atelier) -> None:
    await atelier.restart(policy=RecordingPolicy())
    rec = atelier.slash("imagine", {"prompt": "forbidden thing"})
    answer = await private_answer(atelier.discord, rec)
    assert rec.response_type == 4 and "does not allow" in answer.content
    assert atelier.toapis.requests == [] and await atelier.bot.engine.get(1) is None


async def test_charge_hook_refusal_after_deferral_is_ephemeral(atelier: Atelier) -> None:
    credits = Credits(refuse=True)
    await atelier.restart(charge=credits)
    rec = atelier.slash("imagine", {"prompt": "no money"})
    answer = await private_answer(atelier.discord, rec)
    assert "no credits left" in answer.content
    assert rec.original is not None and rec.original.deleted  # the public deferral is gone
    assert atelier.toapis.requests == []
    job = await atelier.job(1)
    assert job.state.value == "failed"


async def test_cost_is_shown_and_committed(atelier: Atelier) -> None:
    credits = Credits()
    await atelier.restart(charge=credits)
    rec = atelier.slash("imagine", {"prompt": "paid"})
    msg = await atelier.result(rec)
    assert field(msg, "Cost") == "3 credits"
    await wait_settled(atelier, 1, "delivered")
    assert credits.committed == [1]


async def test_a_failed_job_releases_and_says_so(atelier: Atelier) -> None:
    credits = Credits()
    await atelier.restart(charge=credits)
    atelier.toapis.script(outcome="failed", queue_s=0.1, run_s=0.1)
    rec = atelier.slash("imagine", {"prompt": "refused"})
    msg = await rec.wait_original(
        lambda m: any("could not be made" in e.get("title", "") for e in m.embeds), timeout=15
    )
    assert "Nothing was charged." in text_of(msg)
    await wait_settled(atelier, 1, "failed")
    assert credits.released == [1] and not credits.committed
    assert not result_messages(atelier.discord)
