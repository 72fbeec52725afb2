"""The one generation path: every command and button plans a request, then starts it.

``plan`` runs before the interaction is acknowledged (see ``bot.generation.plan``); ``start``
runs after the deferral and the download (see ``bot.generation.references``) and submits the
job through the ``submit`` callable (the engine's, which reserves the cost and uploads).
This module does not import discord.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path

from bot.clock import Clock, SystemClock
from bot.generation import canvas as canvases
from bot.generation import references
from bot.generation.canvas import CanvasEdit
from bot.generation.plan import (
    UPLOAD_MAX_BYTES,
    DeclaredImage,
    DiscordTarget,
    Options,
    Plan,
    check_declared_mask,
    check_declared_reference,
    placeholder_urls,
    resolve_request,
)
from bot.generation.references import REFERENCE_KEEP_SECONDS, Checked
from bot.generation.store import JobDiscordInfo, JobDiscordStore
from bot.images import MaskRegion, inspect_image
from bot.jobs.records import Job, NewJob, ReferenceImage
from bot.messages import say
from bot.policy import GenerationPolicy, PricedPolicy, RequestContext
from bot.refusal import Refusal
from bot.toapis.catalog import ImageFacts, capabilities, validate_request

log = logging.getLogger(__name__)

__all__ = ["GenerationService", "Submit"]

#: Submits a job (the engine's ``submit``): reserves its cost, stores and queues it.
Submit = Callable[[NewJob], Awaitable[Job]]


class GenerationService:
    """Validate, check policy and submit generations for every command and button."""

    def __init__(
        self,
        submit: Submit,
        extras: JobDiscordStore,
        policy: GenerationPolicy,
        *,
        data_dir: Path,
        clock: Clock | None = None,
    ) -> None:
        self.submit = submit
        self.extras = extras
        self.policy = policy
        self.references_dir = data_dir / "references"
        self.clock = clock or SystemClock()

    # -- step 1: before acknowledging ----------------------------------------------------------

    async def plan(
        self,
        ctx: RequestContext,
        options: Options,
        *,
        images: Sequence[DeclaredImage] = (),
        mask: DeclaredImage | None = None,
        region: MaskRegion | None = None,
        stored: Sequence[ReferenceImage] = (),
        parent_job_id: int | None = None,
        canvas: CanvasEdit | None = None,
    ) -> Plan:
        """Validate everything knowable before downloading, then ask the policy."""
        if mask is not None and region is not None:
            raise Refusal(say("generation.mask_and_region"))
        if canvas is not None and (len(images) != 1 or mask or region or stored):
            raise ValueError("a canvas edit works on exactly one image and draws its own mask")
        defaults = await self.policy.defaults(ctx.guild_id)
        first = images[0] if images else None
        request = resolve_request(options, defaults, first, ctx.origin)
        stored_images = [r for r in stored if r.role == "image"]
        stored_mask = any(r.role == "mask" for r in stored)
        refs = len(images) + len(stored_images)
        has_mask = mask is not None or region is not None or stored_mask or canvas is not None
        checked = validate_request(
            request.model_copy(
                update={
                    "image_urls": placeholder_urls(refs) or None,
                    "mask_url": "https://pending.invalid/mask" if has_mask else None,
                }
            ),
            max_images=defaults.max_count,
        )
        request = checked.model_copy(update={"image_urls": None, "mask_url": None})
        caps = capabilities(request.model)
        for image in images:
            check_declared_reference(image, caps.max_reference_bytes)
        if mask is not None:
            check_declared_mask(mask, first, caps.max_mask_bytes)
        for ref in stored:
            if ref.path is None or not await asyncio.to_thread(Path(ref.path).is_file):
                raise Refusal(say("generation.stored_gone"))
        ctx = replace(ctx, reference_count=refs, has_mask=has_mask)
        await self.policy.check(ctx, request)
        return Plan(
            ctx=ctx,
            request=request,
            images=tuple(images),
            mask=mask,
            region=region,
            stored=tuple(stored),
            parent_job_id=parent_job_id,
            canvas=canvas,
        )

    def price(self, plan: Plan) -> int | None:
        """Return what the planned request will cost, when the policy counts credits."""
        if isinstance(self.policy, PricedPolicy):
            return self.policy.price(plan.request)
        return None

    # -- step 2: after deferring and downloading -----------------------------------------------

    async def start(
        self,
        plan: Plan,
        *,
        images: Sequence[bytes] = (),
        mask: bytes | None = None,
        target: DiscordTarget | None = None,
    ) -> Job:
        """Verify the downloaded bytes, keep them, and submit the job; returns the stored job."""
        target = target or DiscordTarget()
        if plan.canvas is not None:
            images, mask = await self._build_canvas(plan, images)
        refs, first = await self._prepare_images(plan, images)
        mask_ref = await self._prepare_mask(plan, mask, first)
        if mask_ref is not None:
            refs.append(mask_ref)
        new = NewJob(
            member_id=plan.ctx.member_id,
            request=plan.request,
            role_ids=tuple(plan.ctx.role_ids),
            moderator=plan.ctx.can_manage_guild,
            guild_id=plan.ctx.guild_id,
            channel_id=plan.ctx.channel_id,
            interaction_token=target.interaction_token,
            interaction_expires_at=target.interaction_expires_at,
            response_message_id=target.response_message_id,
            references=(*plan.stored, *refs),
        )
        job = await self.submit(new)
        await self.extras.put(
            JobDiscordInfo(
                job_id=job.id,
                command=plan.ctx.origin,
                requester_name=target.requester_name,
                filesize_limit=target.filesize_limit,
                parent_job_id=plan.parent_job_id,
            ),
            now=self.clock.now(),
        )
        log.info("job %d started by %s (%s)", job.id, plan.ctx.origin, plan.request.model)
        return job

    async def _prepare_images(
        self, plan: Plan, images: Sequence[bytes]
    ) -> tuple[list[ReferenceImage], ImageFacts | None]:
        if len(images) != len(plan.images):
            raise ValueError("one downloaded file per declared image is needed")
        model = plan.request.model
        refs: list[ReferenceImage] = []
        first: ImageFacts | None = None
        for declared, data in zip(plan.images, images, strict=True):
            # The whole Pillow step of one image, off the event loop.
            checked = await asyncio.to_thread(
                references.prepare_reference,
                model,
                data,
                label=declared.label,
                limit=UPLOAD_MAX_BYTES,
            )
            first = first or checked.facts
            refs.append(await self._keep(checked, "image", declared.label))
        if first is None and plan.stored:
            image = next((r for r in plan.stored if r.role == "image" and r.path), None)
            if image is not None and image.path is not None:
                first = await asyncio.to_thread(references.inspect_stored, image.path)
        return refs, first

    async def _build_canvas(self, plan: Plan, images: Sequence[bytes]) -> tuple[list[bytes], bytes]:
        """Turn the one image into the canvas edit's reference and mask (Pillow, off the loop)."""
        assert plan.canvas is not None
        if len(images) != 1:
            raise ValueError("a canvas edit needs its one downloaded image")
        label = plan.images[0].label
        # Decode it the usual way first: a file that is not an image is refused by name.
        await asyncio.to_thread(inspect_image, images[0], label=label)
        ratio = plan.request.size if plan.request.size not in (None, "auto") else None
        built = await asyncio.to_thread(
            canvases.build_canvas,
            plan.canvas,
            images[0],
            ratio=ratio,
            **canvases.limits_for(capabilities(plan.request.model), UPLOAD_MAX_BYTES),
        )
        return [built.image], built.mask

    async def _prepare_mask(
        self, plan: Plan, mask: bytes | None, first: ImageFacts | None
    ) -> ReferenceImage | None:
        if plan.mask is None and plan.region is None and plan.canvas is None:
            return None
        if first is None:
            raise Refusal(say("generation.mask_needs_image"))
        if plan.canvas is not None:
            if mask is None:
                raise ValueError("the canvas edit drew no mask")
            checked = await asyncio.to_thread(
                references.prepare_mask, plan.request.model, mask, first
            )
        elif plan.region is not None:
            checked = await asyncio.to_thread(references.draw_mask, plan.region, first)
        elif mask is None:
            raise ValueError("the declared mask was not downloaded")
        else:
            checked = await asyncio.to_thread(
                references.prepare_mask, plan.request.model, mask, first
            )
        return await self._keep(checked, "mask", "mask")

    async def _keep(self, checked: Checked, role: str, label: str) -> ReferenceImage:
        return await asyncio.to_thread(references.keep, self.references_dir, checked, role, label)

    def prune_references(self, *, older_than: float = REFERENCE_KEEP_SECONDS) -> int:
        """Remove kept reference files unused for ``older_than`` seconds; return how many."""
        return references.prune_references(self.references_dir, older_than=older_than)
