"""Data kept by the fake ToAPIs server: task scripts, tasks, uploads, results, faults, records."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from tests.fakes.toapis_validation import ImageInfo, ValidRequest

Outcome = Literal["completed", "failed", "never"]
ResultShape = Literal[
    "url", "result.url", "result.data", "result.images", "result.images_list", "mixed"
]
ProgressStyle = Literal["linear", "missing", "jumpy"]
StatusSpelling = Literal["queued", "submitted"]
IdStyle = Literal["tsk_img", "task_img", "task_01", "img"]
ObjectName = Literal["generation.task", "image.generation"]
Endpoint = Literal["submit", "status", "upload", "file", "other"]

OUTCOMES = ("completed", "failed", "never")
RESULT_SHAPES = ("url", "result.url", "result.data", "result.images", "result.images_list", "mixed")
PROGRESS_STYLES = ("linear", "missing", "jumpy")
STATUS_SPELLINGS = ("queued", "submitted")
ID_STYLES = ("tsk_img", "task_img", "task_01", "img")
OBJECT_NAMES = ("generation.task", "image.generation")

# Progress reported by the "jumpy" style as the run advances: coarse, and once it goes back.
JUMPY_STEPS = (0, 10, 10, 45, 30, 80, 80, 99)


def _check(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


@dataclass(frozen=True)
class TaskScript:
    """How one task behaves over clock time.

    The task waits ``queue_s`` seconds (status ``status_spelling``), then runs ``run_s`` seconds
    (status ``in_progress``, or ``unknown_status`` when set), then ends with ``outcome``:
    ``completed``, ``failed`` or ``never`` (keeps running forever).
    """

    queue_s: float = 2.0
    run_s: float = 10.0
    outcome: Outcome = "completed"
    result_shape: ResultShape = "mixed"
    progress: ProgressStyle = "linear"
    status_spelling: StatusSpelling = "queued"
    id_style: IdStyle = "tsk_img"
    object_name: ObjectName = "generation.task"
    revised_prompt: str | None = None
    unknown_status: str | None = None
    error_message: str = "Image generation failed: the request was rejected by the safety system"
    error_code: str | None = "content_policy_violation"
    expires_after_s: float = 24 * 3600.0
    noisy: bool = False  # incompressible pixels: large files, to exercise re-encoding
    result_scale: float | None = None  # None: the fake's own ``result_scale``

    def __post_init__(self) -> None:
        if self.queue_s < 0 or self.run_s < 0:
            raise ValueError("queue_s and run_s must not be negative")
        _check("outcome", self.outcome, OUTCOMES)
        _check("result_shape", self.result_shape, RESULT_SHAPES)
        _check("progress", self.progress, PROGRESS_STYLES)
        _check("status_spelling", self.status_spelling, STATUS_SPELLINGS)
        _check("id_style", self.id_style, ID_STYLES)
        _check("object_name", self.object_name, OBJECT_NAMES)


DurationPolicy = Callable[[dict[str, Any]], TaskScript]


@dataclass
class ResultFile:
    """One generated image, rendered on its first download and cached."""

    name: str
    task_id: str
    index: int
    url: str
    width: int  # pixel size as served (after ``result_scale``)
    height: int
    output_format: str  # "png" or "jpeg"
    noisy: bool
    data: bytes | None = field(default=None, repr=False)
    downloads: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @property
    def content_type(self) -> str:
        return "image/png" if self.output_format == "png" else "image/jpeg"


@dataclass
class FakeTask:
    """A generation task as the fake holds it."""

    id: str
    request: dict[str, Any]
    valid: ValidRequest
    script: TaskScript
    created_at: float
    charged: int
    results: list[ResultFile] = field(default_factory=list)
    expired_at: float | None = None  # set by ``FakeToAPIs.expire``
    forgotten: bool = False  # status answers 404
    polls: int = 0

    @property
    def model(self) -> str:
        return self.valid.model

    @property
    def starts_at(self) -> float:
        return self.created_at + self.script.queue_s

    @property
    def ends_at(self) -> float:
        return self.starts_at + self.script.run_s

    @property
    def expires_at(self) -> float:
        natural = self.ends_at + self.script.expires_after_s
        return natural if self.expired_at is None else min(natural, self.expired_at)

    @property
    def result_urls(self) -> list[str]:
        return [r.url for r in self.results]

    def phase(self, now: float) -> str:
        """``waiting``, ``running``, ``completed`` or ``failed``."""
        if now < self.starts_at:
            return "waiting"
        if self.script.outcome == "never" or now < self.ends_at:
            return "running"
        return self.script.outcome

    def _running_progress(self, now: float) -> int:
        run = self.script.run_s
        frac = 1.0 if run <= 0 else min(1.0, max(0.0, (now - self.starts_at) / run))
        if self.script.progress == "jumpy":
            return JUMPY_STEPS[min(len(JUMPY_STEPS) - 1, int(frac * len(JUMPY_STEPS)))]
        return min(99, int(frac * 100))

    def to_json(self, now: float) -> dict[str, Any]:
        """The task object as ``GET /v1/images/generations/{id}`` returns it at ``now``."""
        s = self.script
        phase = self.phase(now)
        body: dict[str, Any] = {
            "id": self.id,
            "object": s.object_name,
            "model": self.model,
            "status": "",
            "progress": 0,
            "created_at": int(self.created_at),
            "metadata": {},
        }
        progress = 0
        if phase == "waiting":
            body["status"] = s.status_spelling
        elif phase == "running":
            body["status"] = s.unknown_status or "in_progress"
            progress = self._running_progress(now)
        elif phase == "failed":
            body["status"] = "failed"
            progress = self._running_progress(self.ends_at)
            error: dict[str, Any] = {"message": s.error_message}
            if s.error_code is not None:
                error["code"] = s.error_code
            body["error"] = error
        else:
            body["status"] = "completed"
            progress = 100
            body["completed_at"] = int(self.ends_at)
            body["expires_at"] = int(self.expires_at)
            self._add_results(body)
            if s.revised_prompt is not None:
                body["revised_prompt"] = s.revised_prompt
        body["progress"] = progress
        if s.progress == "missing":
            del body["progress"]
        return body

    def _add_results(self, body: dict[str, Any]) -> None:
        urls = self.result_urls
        expires = int(self.expires_at)
        shape = self.script.result_shape
        result: dict[str, Any] = {"type": "image"}
        if shape in ("url", "mixed"):
            body["url"] = urls[0]
        if shape in ("result.url", "mixed"):
            result["url"] = urls[0]
        if shape in ("result.data", "mixed"):
            result["data"] = [{"url": u} for u in urls]
        if shape == "result.images":
            result["images"] = [{"url": u, "expires_at": expires} for u in urls]
        if shape == "result.images_list":
            result["images"] = [{"url": list(urls), "expires_at": expires}]
        if shape == "mixed":
            result["images"] = [{"url": [u, u], "expires_at": expires} for u in urls]
        body["result"] = result


@dataclass
class Upload:
    """A file accepted by ``POST /v1/uploads/images``."""

    id: str
    name: str
    url: str
    data: bytes = field(repr=False)
    filename: str | None
    content_type: str | None  # as the client declared it
    mime_type: str  # as sniffed from the content
    purpose: str
    info: ImageInfo
    created_at: float

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class FilePart:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes = field(repr=False)


class RedactedHeaders(dict[str, str]):
    """Request headers (case-insensitive lookups); ``repr`` never shows the Authorization value."""

    def _key(self, key: object) -> object:
        if isinstance(key, str) and not dict.__contains__(self, key):
            for k in self:
                if k.lower() == key.lower():
                    return k
        return key

    def __getitem__(self, key: str) -> str:
        return dict.__getitem__(self, self._key(key))  # type: ignore[index]

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, self._key(key))

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return dict.get(self, self._key(key), default)  # type: ignore[call-overload]

    def __repr__(self) -> str:
        shown = {k: ("<redacted>" if k.lower() == "authorization" else v) for k, v in self.items()}
        return repr(shown)

    __str__ = __repr__


@dataclass
class RecordedRequest:
    """One request as the fake saw it."""

    index: int
    method: str
    path: str
    query: dict[str, str]
    endpoint: Endpoint
    headers: RedactedHeaders
    body: bytes = field(repr=False)  # raw body (empty for multipart: see ``files``)
    json: Any = None  # parsed JSON body, when it parsed
    json_error: bool = False  # a body was sent but was not JSON
    fields: dict[str, str] = field(default_factory=dict)  # multipart text fields
    files: dict[str, FilePart] = field(default_factory=dict)  # multipart file parts
    multipart_error: bool = False
    clock_time: float = 0.0  # the fake's clock when the request arrived
    monotonic: float = 0.0  # real ``time.monotonic()`` when it arrived
    task_id: str | None = None  # created (submit) or asked about (status)
    status: int | None = None  # HTTP status answered; None when the connection was dropped
    fault: str | None = None  # the kind of fault injected, if any

    @property
    def authorization(self) -> str | None:
        return self.headers.get("Authorization")
