"""Planning: defaults, validation and policy before the acknowledgement; refusals are Refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.generation import GenerationService, Options
from bot.generation.plan import DeclaredImage
from bot.guild_settings.blocklist import find_blocked
from bot.images import MaskRegion
from bot.messages import say
from bot.policy import GuildDefaults, PermissivePolicy, RequestContext
from bot.refusal import Refusal
from bot.toapis.models import GenerationRequest

from .conftest import DEFAULTS, FakeExtras, FakeSubmit

CTX = RequestContext(guild_id=1, channel_id=2, member_id=3)


class BlocklistPolicy:
    """Refuse prompts containing a blocked term, as the server policy does."""

    def __init__(self, terms: list[str]) -> None:
        self.terms = terms

    async def check(self, ctx: RequestContext, request: GenerationRequest) -> None:
        term = find_blocked(request.prompt, self.terms)
        if term is not None:
            raise Refusal(say("policy.blocked_term", term=term))

    async def defaults(self, guild_id: int | None) -> GuildDefaults:
        return DEFAULTS


def _service(tmp_path: Path, terms: list[str]) -> tuple[GenerationService, FakeSubmit]:
    submit = FakeSubmit()
    return GenerationService(
        submit, FakeExtras(), BlocklistPolicy(terms), data_dir=tmp_path
    ), submit  # type: ignore[arg-type]


async def test_a_chinese_prompt_with_a_non_matching_term_reaches_the_service_unchanged(
    tmp_path: Path,
) -> None:
    service, submit = _service(tmp_path, ["gore", "血腥"])
    prompt = "一只在雪地里的小熊猫，水彩画风格"
    plan = await service.plan(CTX, Options(prompt=prompt))
    await service.start(plan)
    assert submit.submitted[0].request.prompt == prompt


async def test_a_disguised_blocked_term_is_refused_naming_the_term(tmp_path: Path) -> None:
    service, submit = _service(tmp_path, ["Gore"])
    with pytest.raises(Refusal) as info:
        await service.plan(CTX, Options(prompt="lots of g\u200bore"))
    assert "“gore”" in info.value.message and "nothing was charged" in info.value.message
    assert submit.submitted == []


async def test_an_allowed_prompt_with_hidden_characters_is_sent_as_written(tmp_path: Path) -> None:
    service, submit = _service(tmp_path, ["café"])
    plan = await service.plan(CTX, Options(prompt="a cafeteria\u200b at noon"))
    await service.start(plan)
    assert submit.submitted[0].request.prompt == "a cafeteria\u200b at noon"


async def test_mask_and_region_together_are_refused_before_anything_runs(tmp_path: Path) -> None:
    service, _ = _service(tmp_path, [])
    mask = DeclaredImage("The mask", "m.png", "image/png", 10, "https://cdn/m")
    with pytest.raises(Refusal, match="not both"):
        await service.plan(CTX, Options(prompt="x"), mask=mask, region=MaskRegion.CENTRE)


async def test_a_declared_non_image_is_refused_by_label_and_type(tmp_path: Path) -> None:
    service, _ = _service(tmp_path, [])
    pdf = DeclaredImage("Image 1", "doc.pdf", "application/pdf", 10, "https://cdn/d")
    with pytest.raises(Refusal, match=r"Image 1 \(`doc.pdf`\) is not an image"):
        await service.plan(CTX, Options(prompt="x"), images=[pdf])


async def test_a_mask_of_another_size_is_refused_with_both_sizes(tmp_path: Path) -> None:
    service, _ = _service(tmp_path, [])
    image = DeclaredImage("The image", "a.png", "image/png", 10, "https://cdn/a", 100, 100)
    mask = DeclaredImage("The mask", "m.png", "image/png", 10, "https://cdn/m", 50, 50)
    with pytest.raises(Refusal, match="The mask is 50x50 but the image is 100x100"):
        await service.plan(CTX, Options(prompt="x"), images=[image], mask=mask)


async def test_an_invalid_request_is_a_refusal_from_the_catalog(tmp_path: Path) -> None:
    service, _ = _service(tmp_path, [])
    with pytest.raises(Refusal, match="you asked for 5"):
        await service.plan(CTX, Options(prompt="x", count=5))


class _LowDefaults:
    """A server whose defaults are 4K, low quality, at most two images; refuses 'forbidden'."""

    async def check(self, ctx: RequestContext, request: GenerationRequest) -> None:
        if "forbidden" in request.prompt:
            raise Refusal("Not here.")

    async def defaults(self, guild_id: int | None) -> GuildDefaults:
        return GuildDefaults(
            model="gpt-image-1.5-official", size="1:1", resolution="4k", quality="low", max_count=2
        )


async def test_plan_applies_the_server_defaults_and_asks_the_policy(tmp_path: Path) -> None:
    service = GenerationService(FakeSubmit(), FakeExtras(), _LowDefaults(), data_dir=tmp_path)  # type: ignore[arg-type]
    plan = await service.plan(CTX, Options(prompt="  a cat  "))
    # A 4K default that the default size cannot take is lowered to 2K quietly.
    assert plan.request.resolution == "2k" and plan.request.quality == "low"
    assert plan.request.prompt == "a cat" and plan.request.image_urls is None
    wide = await service.plan(CTX, Options(prompt="a cat", size="16:9"))
    assert wide.request.resolution == "4k"
    with pytest.raises(Refusal, match="you asked for 3"):
        await service.plan(CTX, Options(prompt="a cat", count=3))
    with pytest.raises(Refusal, match="Not here"):
        await service.plan(CTX, Options(prompt="forbidden fruit"))
    four_o = await service.plan(CTX, Options(prompt="a cat", model="gpt-4o-image"))
    assert four_o.request.resolution is None and four_o.request.quality is None


async def test_the_permissive_policy_allows_everything_with_the_operator_defaults() -> None:
    defaults = GuildDefaults("gpt-image-1.5-official", "1:1", "1k", "medium", 4)
    policy = PermissivePolicy(defaults)
    await policy.check(RequestContext(None, None, 1), GenerationRequest(model="m", prompt="p"))
    assert await policy.defaults(123) is defaults
