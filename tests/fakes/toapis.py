"""A local fake of the ToAPIs image API (``/work/shared/toapis-api.md``), for tests and benchmarks.

``FakeToAPIs`` is an aiohttp server on 127.0.0.1 (port 0). Its clock is a ``bot.clock.ManualClock``:
task state is computed from the clock on every poll, so ``clock.advance()`` or a clock with
``speed > 0`` both drive tasks; nothing runs in the background.

Endpoints: ``POST /v1/images/generations``, ``GET /v1/images/generations/{task_id}``,
``POST /v1/uploads/images`` (all need ``Authorization: Bearer <api_key>``), and public file
serving ``GET /files/uploads/{name}`` and ``GET /files/results/{name}`` (absolute URLs on
``base_url``).

Usage::

    async with FakeToAPIs() as fake:
        fake.script(queue_s=1, run_s=5, outcome="failed")     # the next task
        fake.faults.add("rate_limit", endpoint="submit", retry_after=3)
        ...
        fake.clock.advance(10)
        assert fake.charged_images == 1

Interpretations of the contract (the validation lives in ``toapis_validation``, written
independently of ``bot.toapis``):

- ``model`` and ``prompt`` are required; a prompt that is empty or only whitespace is refused.
  Field values are case-sensitive (``"1K"`` and ``"PNG"`` are refused).
- A field present with JSON ``null`` is a wrong type (400), not "absent". Unknown fields (for
  example ``background``) are ignored.
- ``n`` must be a JSON integer (not a bool, not ``1.0``, not ``"1"``). gpt-image-1.5-official
  accepts 1..``gpt_image_max_n`` (default 10, what the real service accepts); gpt-4o-image accepts
  only 1, 2 or 4.
- gpt-image-1.5-official: ``size: "auto"`` renders as 1:1 at the requested resolution (1k:
  1024x1024); ``auto`` with ``4k`` is refused (4k only for the six wide ratios).
  ``output_compression`` (integer 0..100) is accepted with png too, and ignored there.
- gpt-4o-image: ``resolution``, ``quality``, ``output_format`` and ``output_compression`` are
  refused with 400 when present at all (the page says the model has none of them); results are PNG.
- ``image_urls``, when present, must be a non-empty array (an empty array is refused) of at most
  16 (gpt-image) / 5 (gpt-4o) http(s) URLs; ``data:`` URLs and raw base64 are refused.
  ``mask_url`` must be an http(s) URL and needs ``image_urls``.
- URLs pointing at the fake's own uploads are checked: unknown file -> 400; references must be
  PNG/JPEG (gpt-image) or PNG/JPEG/WebP (gpt-4o); the mask must be a PNG, with an alpha band
  (gpt-image; a palette PNG with only a tRNS chunk does not count) or at most 4 MiB (gpt-4o), and
  have the pixel size of the first reference when that is an upload too. Other URLs are not
  fetched and pass. "MB" limits are read as MiB.
- Uploads: the content is sniffed with Pillow (JPEG, PNG, WebP, GIF), the declared content type
  and filename are ignored; more than ``max_upload_bytes`` (10 MiB) -> 400. ``purpose`` defaults
  to ``generation``.
- Result files exist only once the task is completed and until ``expires_at``; otherwise 404.
  The single-URL result shapes (``url``, ``result.url``) expose only the first image.
- Errors use the shape ``error_shape`` ("a": ``{"error": {"message", "type", "code"}}``, "b":
  ``{"success": false, "message"}``). 402/403 for every API endpoint via ``deny_status``;
  ``balance`` (images left, None = unlimited) answers 402 to a submit that needs more.
- Every accepted submit charges its ``n`` (also when its answer is then lost to a fault).
- ``status_rate_limit`` (requests per clock second, None = no limit) is a server-side limit on
  the status endpoint: a status request arriving when that many were answered in the last clock
  second gets 429 with ``Retry-After`` (whole seconds until a slot frees, at least 1). Refused
  requests do not count against the window. ``rate_limited`` counts them.

Fault kinds (``fake.faults.add(kind, endpoint=..., times=1, ...)``): ``rate_limit`` (429 with
``Retry-After``, default 1 s; ``retry_after=None`` or kind ``rate_limit_no_header`` for none),
``server_error`` (``status`` 500 by default; 502/503 via ``status``), ``malformed_json`` (200 with
a cut-off body), ``slow`` (real ``asyncio.sleep(delay)`` then the normal answer; the work is done
even if the client gave up), ``drop`` (reads the request, closes the connection without an
answer), ``error_shape_a`` / ``error_shape_b`` (an error in that body shape, 400 unless
``status``), ``status`` (any HTTP status with an error body). Endpoints: ``submit``, ``status``,
``upload``, ``file``, ``any``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import hmac
import io
import json
import math
import os
import random
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from aiohttp import BodyPartReader, web
from PIL import Image, ImageDraw

from bot.clock import ManualClock
from tests.fakes.toapis_faults import MALFORMED_BODY, Fault, FaultBook
from tests.fakes.toapis_model import (
    DurationPolicy,
    Endpoint,
    FakeTask,
    FilePart,
    RecordedRequest,
    RedactedHeaders,
    ResultFile,
    TaskScript,
    Upload,
)
from tests.fakes.toapis_validation import (
    MIB,
    UPLOAD_FORMATS,
    ImageInfo,
    ValidationError,
    sniff_image,
    validate_generation,
)

__all__ = [
    "FakeTask",
    "FakeToAPIs",
    "Fault",
    "FaultBook",
    "RecordedRequest",
    "ResultFile",
    "TaskScript",
    "Upload",
]

DEFAULT_API_KEY = "sk-test-fake-key"
ErrorShape = Literal["a", "b"]

_ERROR_TYPES = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("authentication_error", "invalid_api_key"),
    402: ("insufficient_quota", "insufficient_balance"),
    403: ("permission_error", "forbidden"),
    404: ("not_found_error", "not_found"),
    422: ("invalid_request_error", "unprocessable_entity"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class FakeToAPIs:
    """A faithful local fake of the ToAPIs server. See the module docstring."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        clock: ManualClock | None = None,
        error_shape: ErrorShape = "a",
        gpt_image_max_n: int = 10,
        max_upload_bytes: int = 10 * MIB,
        result_scale: float = 1.0,
        default_script: TaskScript | None = None,
        duration_policy: DurationPolicy | None = None,
        balance: int | None = None,
        status_rate_limit: float | None = None,
        seed: int = 0,
        model_aliases: dict[str, str] | None = None,
    ) -> None:
        self.api_key = api_key
        #: Extra model names the service accepts, each with the rules of a known model (a model
        #: the vendor added that a MODELS_FILE catalog offers).
        self.model_aliases = dict(model_aliases or {})
        self.clock = clock if clock is not None else ManualClock()
        self.error_shape: ErrorShape = error_shape
        self.gpt_image_max_n = gpt_image_max_n
        self.max_upload_bytes = max_upload_bytes
        self.result_scale = result_scale
        self.default_script = default_script or TaskScript()
        self.duration_policy = duration_policy
        self.balance = balance
        self.deny_status: int | None = None  # e.g. 402 or 403 for every API endpoint
        if status_rate_limit is not None and status_rate_limit <= 0:
            raise ValueError("status_rate_limit must be positive (or None for no limit)")
        self.status_rate_limit = status_rate_limit
        self.rate_limited = 0  # status requests refused by ``status_rate_limit``
        self._status_window: collections.deque[float] = collections.deque()
        self.faults = FaultBook()
        self.requests: list[RecordedRequest] = []
        self.tasks: dict[str, FakeTask] = {}
        self.uploads: dict[str, Upload] = {}  # by upload id, in upload order
        self.results: dict[str, ResultFile] = {}  # by file name
        self.charged_images = 0
        self.charges: list[tuple[str, int]] = []  # (task id, images charged)
        self._scripted: list[TaskScript] = []
        self._rng = random.Random(seed)
        self._uploads_by_name: dict[str, Upload] = {}
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._port: int | None = None
        self.app = self._make_app()

    # ---------------------------------------------------------------- lifecycle

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_upload_bytes + 64 * MIB)
        r = app.router
        r.add_post("/v1/images/generations", self._wrap("submit", self._submit))
        r.add_get("/v1/images/generations/{task_id}", self._wrap("status", self._status))
        r.add_post("/v1/uploads/images", self._wrap("upload", self._upload))
        r.add_get("/files/uploads/{name}", self._wrap("file", self._upload_file))
        r.add_get("/files/results/{name}", self._wrap("file", self._result_file))
        return app

    async def start(self) -> FakeToAPIs:
        if self._runner is not None:
            return self
        self._closing.clear()
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = runner.addresses[0][1]
        return self

    async def close(self) -> None:
        self._closing.set()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> FakeToAPIs:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the fake is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __repr__(self) -> str:
        state = "started" if self._runner else "stopped"
        return f"<FakeToAPIs {state} port={self._port} tasks={len(self.tasks)}>"

    # ---------------------------------------------------------------- test controls

    def script(self, times: int = 1, **changes: Any) -> TaskScript:
        """Script the next ``times`` accepted tasks: ``default_script`` with ``changes``."""
        script = dataclasses.replace(self.default_script, **changes)
        self._scripted.extend([script] * times)
        return script

    def script_next(self, *scripts: TaskScript) -> None:
        """Queue whole ``TaskScript``s for the next accepted tasks, in order."""
        self._scripted.extend(scripts)

    def advance(self, seconds: float) -> None:
        """Move the fake's clock forward."""
        self.clock.advance(seconds)

    def expire(self, task_id: str) -> None:
        """Make a task's result URLs expire now (they answer 404 from now on)."""
        self.tasks[task_id].expired_at = self.clock.now()

    def forget(self, task_id: str) -> None:
        """Make the status endpoint answer 404 for a task (unknown or expired task)."""
        self.tasks[task_id].forgotten = True

    def add_upload(
        self,
        data: bytes,
        *,
        filename: str | None = "image.png",
        purpose: str = "generation",
        content_type: str | None = None,
    ) -> Upload:
        """Store an upload without HTTP (no validation besides the image sniffing)."""
        info = sniff_image(data)
        if info is None or info.format not in UPLOAD_FORMATS:
            raise ValueError("not a JPEG, PNG, WebP or GIF image")
        return self._store_upload(data, info, filename, content_type, purpose)

    def upload_by_url(self, url: str) -> Upload | None:
        ours, name = self._own_upload_name(url)
        return self._uploads_by_name.get(name) if ours else None

    def requests_to(self, endpoint: Endpoint) -> list[RecordedRequest]:
        """The recorded requests to one endpoint (``submit``, ``status``, ``upload``, ``file``)."""
        return [r for r in self.requests if r.endpoint == endpoint]

    def task_json(self, task_id: str) -> dict[str, Any]:
        """What a poll of this task would answer now (nothing recorded)."""
        return self.tasks[task_id].to_json(self.clock.now())

    def result_urls(self, task_id: str) -> list[str]:
        return self.tasks[task_id].result_urls

    @property
    def charged_tasks(self) -> int:
        return len(self.charges)

    # ---------------------------------------------------------------- plumbing

    def _wrap(
        self,
        endpoint: Endpoint,
        handler: Callable[[web.Request, RecordedRequest], Awaitable[web.StreamResponse]],
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            record = await self._record(request, endpoint)
            fault = self.faults.take(endpoint, record)
            if fault is not None:
                record.fault = fault.kind
                if fault.kind == "slow":
                    if await self._sleep(fault.delay):
                        return self._finish(record, self._error(503, "server shutting down"))
                    fault = None
                elif not fault.processed:
                    return self._finish(record, self._fault_response(request, fault))
            response = await handler(request, record)
            if fault is not None:
                response = self._fault_response(request, fault)
            return self._finish(record, response)

        return wrapped

    def _finish(self, record: RecordedRequest, response: web.StreamResponse | None) -> Any:
        if response is None:  # dropped
            record.status = None
            return web.Response(status=500)  # never reaches the client: the socket is closed
        record.status = response.status
        return response

    async def _sleep(self, seconds: float) -> bool:
        """Sleep in real time; True if the fake is closing meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)
        return self._closing.is_set()

    async def _record(self, request: web.Request, endpoint: Endpoint) -> RecordedRequest:
        record = RecordedRequest(
            index=len(self.requests),
            method=request.method,
            path=request.path,
            query=dict(request.query),
            endpoint=endpoint,
            headers=RedactedHeaders(request.headers.items()),
            body=b"",
            clock_time=self.clock.now(),
            monotonic=time.monotonic(),
        )
        if endpoint == "status":
            record.task_id = request.match_info.get("task_id")
        self.requests.append(record)
        if request.content_type.startswith("multipart/"):
            try:
                reader = await request.multipart()
                while (part := await reader.next()) is not None:
                    if not isinstance(part, BodyPartReader) or part.name is None:
                        continue
                    data = await part.read()
                    if part.filename is not None:
                        ctype = part.headers.get("Content-Type")
                        record.files[part.name] = FilePart(part.filename, ctype, bytes(data))
                    else:
                        record.fields[part.name] = bytes(data).decode("utf-8", "replace")
            except Exception:
                record.multipart_error = True
        else:
            record.body = await request.read()
            if record.body:
                try:
                    record.json = json.loads(record.body)
                except ValueError:
                    record.json_error = True
        return record

    def _error(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        shape: ErrorShape | None = None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        shape = shape or self.error_shape
        etype, default_code = _ERROR_TYPES.get(
            status, ("server_error" if status >= 500 else "error", f"http_{status}")
        )
        if shape == "b":
            body: dict[str, Any] = {"success": False, "message": message}
        else:
            body = {"error": {"message": message, "type": etype, "code": code or default_code}}
        return web.json_response(body, status=status, headers=headers)

    def _fault_response(self, request: web.Request, fault: Fault) -> web.Response | None:
        if fault.kind == "drop":
            if request.transport is not None:
                request.transport.close()
            return None
        if fault.kind == "malformed_json":
            return web.Response(
                status=fault.status or 200, body=MALFORMED_BODY, content_type="application/json"
            )
        status = fault.http_status
        headers = {}
        if fault.retry_after is not None:
            ra = fault.retry_after
            headers["Retry-After"] = str(int(ra)) if float(ra).is_integer() else str(ra)
        message = fault.message or {
            429: "Rate limit exceeded, please retry later",
            402: "Insufficient balance",
            403: "Forbidden",
            404: "Not found",
        }.get(status, "Internal server error" if status >= 500 else f"Injected error {status}")
        return self._error(status, message, shape=fault.shape, headers=headers)

    def _check_auth(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization")
        if not header:
            return self._error(401, "Missing API key: use 'Authorization: Bearer <key>'")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), self.api_key.encode()
        ):
            return self._error(401, "Invalid API key")
        if self.deny_status is not None:
            message = "Insufficient balance" if self.deny_status == 402 else "Forbidden"
            return self._error(self.deny_status, message)
        return None

    # ---------------------------------------------------------------- ids

    def _ulid_tail(self, n: int) -> str:
        return "".join(self._rng.choice(_CROCKFORD) for _ in range(n))

    def _hex(self, n: int) -> str:
        return "".join(self._rng.choice("0123456789abcdef") for _ in range(n))

    def _new_task_id(self, style: str) -> str:
        while True:
            if style == "tsk_img":
                task_id = "tsk_img_01" + self._ulid_tail(24)
            elif style == "task_img":
                task_id = "task_img_" + self._hex(12)
            elif style == "task_01":
                task_id = "task_01" + self._ulid_tail(24)
            else:
                task_id = "img_" + self._hex(24)
            if task_id not in self.tasks:
                return task_id

    # ---------------------------------------------------------------- uploads

    def _own_upload_name(self, url: str) -> tuple[bool, str]:
        prefix = f"{self.base_url}/files/uploads/"
        if not url.startswith(prefix):
            return False, ""
        return True, url[len(prefix) :].split("?", 1)[0].split("#", 1)[0]

    def _lookup(self, url: str) -> tuple[bool, ImageInfo | None]:
        ours, name = self._own_upload_name(url)
        if not ours:
            return False, None
        upload = self._uploads_by_name.get(name)
        return True, (upload.info if upload else None)

    def _store_upload(
        self,
        data: bytes,
        info: ImageInfo,
        filename: str | None,
        content_type: str | None,
        purpose: str,
    ) -> Upload:
        mime, ext = UPLOAD_FORMATS[info.format]
        now = self.clock.now()
        while True:
            tag = self._hex(8)
            upload_id = f"upload_{tag}"
            if upload_id not in self.uploads:
                break
        name = f"{int(now)}_{tag}.{ext}"
        upload = Upload(
            id=upload_id,
            name=name,
            url=f"{self.base_url}/files/uploads/{name}",
            data=data,
            filename=filename,
            content_type=content_type,
            mime_type=mime,
            purpose=purpose,
            info=info,
            created_at=now,
        )
        self.uploads[upload_id] = upload
        self._uploads_by_name[name] = upload
        return upload

    async def _upload(self, request: web.Request, record: RecordedRequest) -> web.Response:
        if (denied := self._check_auth(request)) is not None:
            return denied
        part = record.files.get("file")
        if record.multipart_error or part is None:
            return self._error(400, "multipart/form-data with a 'file' field is required")
        if len(part.data) > self.max_upload_bytes:
            limit = self.max_upload_bytes / MIB
            return self._error(400, f"File too large: at most {limit:g} MB", code="file_too_large")
        info = sniff_image(part.data)
        if info is None or info.format not in UPLOAD_FORMATS:
            return self._error(
                400, "Unsupported file type: JPEG, PNG, WebP or GIF only", code="invalid_file_type"
            )
        purpose = record.fields.get("purpose", "generation")
        upload = self._store_upload(part.data, info, part.filename, part.content_type, purpose)
        return web.json_response(
            {
                "success": True,
                "message": "",
                "data": {
                    "id": upload.id,
                    "url": upload.url,
                    "mime_type": upload.mime_type,
                    "size": upload.size,
                },
            }
        )

    async def _upload_file(self, request: web.Request, record: RecordedRequest) -> web.Response:
        upload = self._uploads_by_name.get(request.match_info["name"])
        if upload is None:
            return self._error(404, "File not found")
        return web.Response(body=upload.data, content_type=upload.mime_type)

    # ---------------------------------------------------------------- generations

    def _next_script(self, body: dict[str, Any]) -> TaskScript:
        if self._scripted:
            return self._scripted.pop(0)
        if self.duration_policy is not None:
            return self.duration_policy(body)
        return self.default_script

    async def _submit(self, request: web.Request, record: RecordedRequest) -> web.Response:
        if (denied := self._check_auth(request)) is not None:
            return denied
        if record.json_error or not record.body:
            return self._error(400, "The request body must be JSON")
        body = record.json
        alias = body.get("model") if isinstance(body, dict) else None
        if isinstance(alias, str) and alias in self.model_aliases:
            body = {**body, "model": self.model_aliases[alias]}
        try:
            valid = validate_generation(
                body, gpt_image_max_n=self.gpt_image_max_n, lookup=self._lookup
            )
            if body is not record.json:
                valid = dataclasses.replace(valid, model=str(alias))
        except ValidationError as exc:
            return self._error(400, exc.message, code=exc.code)
        if self.balance is not None and valid.n > self.balance:
            return self._error(402, "Insufficient balance")
        script = self._next_script(record.json)
        task = FakeTask(
            id=self._new_task_id(script.id_style),
            request=record.json,
            valid=valid,
            script=script,
            created_at=self.clock.now(),
            charged=valid.n,
        )
        scale = script.result_scale if script.result_scale is not None else self.result_scale
        width = max(1, round(valid.width * scale))
        height = max(1, round(valid.height * scale))
        ext = "png" if valid.output_format == "png" else "jpg"
        for i in range(valid.n):
            name = f"{task.id}_{i}.{ext}"
            result = ResultFile(
                name=name,
                task_id=task.id,
                index=i,
                url=f"{self.base_url}/files/results/{name}",
                width=width,
                height=height,
                output_format=valid.output_format,
                noisy=script.noisy,
            )
            task.results.append(result)
            self.results[name] = result
        self.tasks[task.id] = task
        record.task_id = task.id
        self.charged_images += valid.n
        self.charges.append((task.id, valid.n))
        if self.balance is not None:
            self.balance -= valid.n
        body: dict[str, Any] = {
            "id": task.id,
            "object": script.object_name,
            "model": task.model,
            "status": script.status_spelling,
            "progress": 0,
            "created_at": int(task.created_at),
            "metadata": {},
        }
        if script.progress == "missing":
            del body["progress"]
        return web.json_response(body)

    async def _status(self, request: web.Request, record: RecordedRequest) -> web.Response:
        if (denied := self._check_auth(request)) is not None:
            return denied
        if (limited := self._over_status_limit()) is not None:
            return limited
        task = self.tasks.get(request.match_info["task_id"])
        if task is None or task.forgotten:
            return self._error(404, "Task not found", code="task_not_found")
        task.polls += 1
        return web.json_response(task.to_json(self.clock.now()))

    def _over_status_limit(self) -> web.Response | None:
        if self.status_rate_limit is None:
            return None
        now = self.clock.now()
        window = self._status_window
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) < self.status_rate_limit:
            window.append(now)
            return None
        self.rate_limited += 1
        wait = max(1, math.ceil(window[0] + 1.0 - now))
        return self._error(
            429, "Rate limit exceeded, please retry later", headers={"Retry-After": str(wait)}
        )

    async def _result_file(self, request: web.Request, record: RecordedRequest) -> web.Response:
        result = self.results.get(request.match_info["name"])
        if result is None:
            return self._error(404, "File not found")
        task = self.tasks[result.task_id]
        now = self.clock.now()
        if task.phase(now) != "completed":
            return self._error(404, "File not found")
        if now >= task.expires_at:
            return self._error(404, "File expired", code="file_expired")
        async with result.lock:
            if result.data is None:
                result.data = await asyncio.to_thread(render_result, result)
        result.downloads += 1
        return web.Response(body=result.data, content_type=result.content_type)


def render_result(result: ResultFile) -> bytes:
    """Real image bytes for a result: flat colour with a small pattern, or noise when ``noisy``."""
    w, h = result.width, result.height
    if result.noisy:
        image = Image.frombytes("RGB", (w, h), os.urandom(w * h * 3))
    else:
        seed = zlib.crc32(result.name.encode())
        colour = (seed & 0xFF, (seed >> 8) & 0xFF, (seed >> 16) & 0xFF)
        image = Image.new("RGB", (w, h), colour)
        draw = ImageDraw.Draw(image)
        inverse = tuple(255 - c for c in colour)
        draw.rectangle((w // 8, h // 8, w // 4, h // 4), fill=inverse)
        draw.line((0, 0, w - 1, h - 1), fill=inverse, width=max(1, min(w, h) // 64))
    buf = io.BytesIO()
    if result.output_format == "png":
        image.save(buf, "PNG", compress_level=0 if result.noisy else 1)
    else:
        image.save(buf, "JPEG", quality=90)
    return buf.getvalue()
