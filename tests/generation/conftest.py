"""Fakes for the generation service's collaborators: a submit callable and the extras store."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image

from bot.generation import GenerationService
from bot.generation.store import JobDiscordInfo
from bot.jobs.records import Job, NewJob
from bot.jobs.states import ChargeState, JobState
from bot.policy import GuildDefaults, PermissivePolicy

DEFAULTS = GuildDefaults(
    model="gpt-image-1.5-official", size="1:1", resolution="1k", quality=None, max_count=4
)


@dataclass
class FakeSubmit:
    """Record every submitted job and hand back a stored-looking ``Job``."""

    submitted: list[NewJob] = field(default_factory=list)

    async def __call__(self, new: NewJob) -> Job:
        self.submitted.append(new)
        return Job(
            id=len(self.submitted),
            state=JobState.PENDING,
            charge_state=ChargeState.RELEASED,
            member_id=new.member_id,
            request=new.request,
            references=new.references,
            created_at=0.0,
            updated_at=0.0,
        )


@dataclass
class FakeExtras:
    """Keep the Discord-side rows in memory."""

    rows: dict[int, JobDiscordInfo] = field(default_factory=dict)

    async def put(self, info: JobDiscordInfo, *, now: float) -> None:
        self.rows[info.job_id] = info

    async def get(self, job_id: int) -> JobDiscordInfo | None:
        return self.rows.get(job_id)


@pytest.fixture
def submit() -> FakeSubmit:
    return FakeSubmit()


@pytest.fixture
def extras() -> FakeExtras:
    return FakeExtras()


@pytest.fixture
def service(submit: FakeSubmit, extras: FakeExtras, tmp_path: Path) -> GenerationService:
    return GenerationService(submit, extras, PermissivePolicy(DEFAULTS), data_dir=tmp_path)  # type: ignore[arg-type]


def noisy_webp(width: int = 3000, height: int = 3000) -> bytes:
    """Return a WebP of random noise: small as WebP, far larger once converted to PNG."""
    img = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    img.save(out, format="WEBP", quality=80, method=0)
    return out.getvalue()


def png(width: int, height: int, *, mode: str = "RGB") -> bytes:
    """Return a small solid PNG."""
    out = io.BytesIO()
    Image.new(mode, (width, height), (200, 30, 30, 255)[: len(mode)]).save(out, format="PNG")
    return out.getvalue()
