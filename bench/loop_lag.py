"""Event-loop lag while big references go through ``GenerationService.start``.

Workload: one job with four 3000x3000 noisy WebP references (each converts to a PNG over the
10 MB upload limit, so it is re-encoded as JPEG) and one job editing a 3840x2160 image with a
region mask drawn at 4K. Meanwhile "other members" keep arriving: a probe coroutine every 10 ms
measures how late it was scheduled, and a command every 50 ms runs ``plan`` (the work before
Discord's 3-second acknowledgement) and times how long until it could acknowledge.

The same workload runs twice: as shipped (the Pillow steps in worker threads) and inline on
the loop (the old behaviour, by making ``asyncio.to_thread`` call the function directly), so
the ratio shows in one run. The submit callable is faked; nothing touches the network.

    python bench/loop_lag.py
"""

from __future__ import annotations

import asyncio
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.generation import DeclaredImage, GenerationService, Options
from bot.generation.store import JobDiscordInfo
from bot.images import MaskRegion
from bot.jobs.records import Job, NewJob
from bot.jobs.states import ChargeState, JobState
from bot.policy import GuildDefaults, PermissivePolicy, RequestContext

T = TypeVar("T")
PROBE_INTERVAL = 0.010
COMMAND_INTERVAL = 0.050
TARGET_P99_MS = 50.0
DEFAULTS = GuildDefaults(
    model="gpt-image-1.5-official", size="1:1", resolution="1k", quality=None, max_count=4
)


async def fake_submit(new: NewJob) -> Job:
    """Accept the job as the engine would, without a database or the network."""
    return Job(
        id=1,
        state=JobState.PENDING,
        charge_state=ChargeState.RELEASED,
        member_id=new.member_id,
        request=new.request,
        references=new.references,
        created_at=0.0,
        updated_at=0.0,
    )


class MemoryExtras:
    """Keep the Discord-side rows in memory."""

    async def put(self, info: JobDiscordInfo, *, now: float) -> None:
        """Forget it: the bench only needs the call."""

    async def get(self, job_id: int) -> JobDiscordInfo | None:
        """Return nothing."""
        return None


def noisy_webp(width: int, height: int) -> bytes:
    """Return a WebP of random noise (about 6 MB at 3000x3000; a 27 MB PNG)."""
    img = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    img.save(out, format="WEBP", quality=80, method=0)
    return out.getvalue()


def flat_png(width: int, height: int) -> bytes:
    """Return an opaque PNG of one colour."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 90, 160)).save(out, format="PNG")
    return out.getvalue()


def declared(label: str, data: bytes, ctype: str, size: tuple[int, int]) -> DeclaredImage:
    """Describe ``data`` as Discord would."""
    return DeclaredImage(label, f"{label}.bin", ctype, len(data), "https://cdn.invalid/x", *size)


async def run(service: GenerationService, webps: list[bytes], frame: bytes) -> dict[str, Any]:
    """Run the workload once; return the probe lags and acknowledgement times (seconds)."""
    ctx = RequestContext(guild_id=1, channel_id=2, member_id=3, origin="edit")
    refs = [declared(f"Image {i + 1}", w, "image/webp", (3000, 3000)) for i, w in enumerate(webps)]
    four = await service.plan(ctx, Options(prompt="a collage"), images=refs)
    masked = await service.plan(
        ctx,
        Options(prompt="a new sky"),
        images=[declared("The image", frame, "image/png", (3840, 2160))],
        region=MaskRegion.TOP_HALF,
    )
    lags: list[float] = []
    acks: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(PROBE_INTERVAL)
            lags.append(time.perf_counter() - before - PROBE_INTERVAL)

    async def command() -> None:
        before = time.perf_counter()
        await service.plan(ctx, Options(prompt="another member's cat"))
        acks.append(time.perf_counter() - before)

    async def commands() -> None:
        pending: list[asyncio.Task[None]] = []
        while not done.is_set():
            pending.append(asyncio.create_task(command()))
            await asyncio.sleep(COMMAND_INTERVAL)
        await asyncio.gather(*pending)

    watchers = [asyncio.create_task(probe()), asyncio.create_task(commands())]
    await asyncio.sleep(0.1)  # let the probes start before the work does
    started = time.perf_counter()
    await asyncio.gather(
        service.start(four, images=webps),
        service.start(masked, images=[frame]),
    )
    elapsed = time.perf_counter() - started
    done.set()
    await asyncio.gather(*watchers)
    return {"lags": lags, "acks": acks, "elapsed": elapsed}


def percentile(values: list[float], q: float) -> float:
    """Return the ``q`` quantile (0..1) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(name: str, result: dict[str, Any]) -> float:
    """Print one line per measurement; return the probe p99 in ms."""
    lags = [v * 1000 for v in result["lags"]]
    acks = [v * 1000 for v in result["acks"]]
    p99 = percentile(lags, 0.99)
    print(
        f"{name:<8} work {result['elapsed']:5.2f} s | loop lag ms: "
        f"p50 {statistics.median(lags):7.1f}  p99 {p99:7.1f}  max {max(lags):7.1f} "
        f"(n={len(lags)}) | command ack ms: p50 {statistics.median(acks):7.1f}  "
        f"max {max(acks):7.1f} (n={len(acks)})"
    )
    return p99


async def main() -> int:
    """Run shipped, then inline; print both and whether the target holds."""
    print("preparing four 3000x3000 noisy WebP references and a 3840x2160 image…", flush=True)
    webps = [noisy_webp(3000, 3000) for _ in range(4)]
    frame = flat_png(3840, 2160)
    print(f"WebP sizes: {', '.join(f'{len(w) / 1e6:.1f} MB' for w in webps)}")
    results: dict[str, dict[str, Any]] = {}
    real_to_thread = asyncio.to_thread

    async def inline(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        return fn(*args, **kwargs)

    for name in ("shipped", "inline"):
        with tempfile.TemporaryDirectory() as tmp:
            service = GenerationService(
                fake_submit,
                MemoryExtras(),
                PermissivePolicy(DEFAULTS),
                data_dir=Path(tmp),
            )
            if name == "inline":
                asyncio.to_thread = inline  # type: ignore[assignment]
            try:
                results[name] = await run(service, webps, frame)
            finally:
                asyncio.to_thread = real_to_thread
    shipped = report("shipped", results["shipped"])
    inline_p99 = report("inline", results["inline"])
    print(
        f"p99 ratio inline/shipped: {inline_p99 / max(shipped, 0.001):.0f}x; "
        f"target p99 <= {TARGET_P99_MS:.0f} ms: {'met' if shipped <= TARGET_P99_MS else 'MISSED'}"
    )
    return 0 if shipped <= TARGET_P99_MS else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
