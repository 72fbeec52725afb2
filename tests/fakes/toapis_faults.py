"""Fault injection for the fake ToAPIs server."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from tests.fakes.toapis_model import RecordedRequest

FaultKind = Literal[
    "rate_limit",
    "rate_limit_no_header",
    "server_error",
    "malformed_json",
    "slow",
    "drop",
    "error_shape_a",
    "error_shape_b",
    "status",
]
FaultEndpoint = Literal["submit", "status", "upload", "file", "any"]

FAULT_KINDS = (
    "rate_limit",
    "rate_limit_no_header",
    "server_error",
    "malformed_json",
    "slow",
    "drop",
    "error_shape_a",
    "error_shape_b",
    "status",
)
FAULT_ENDPOINTS = ("submit", "status", "upload", "file", "any")

_DEFAULT_STATUS = {
    "rate_limit": 429,
    "rate_limit_no_header": 429,
    "server_error": 500,
    "error_shape_a": 400,
    "error_shape_b": 400,
}

# A 200 answer whose body is cut off mid-JSON.
MALFORMED_BODY = b'{"id": "tsk_img_01TRUNCATED", "object": "generation.task", "status": "que'


class _Unset:
    def __repr__(self) -> str:
        return "<default>"


UNSET = _Unset()


@dataclass
class Fault:
    """One injected fault; it fires on the next ``times`` matching requests (None: forever).

    ``processed``: whether the request is handled normally (task created and charged, upload
    stored) before the faulty answer replaces the real one. Defaults: True for ``drop`` and
    ``malformed_json`` (the answer is lost after the work was done), False otherwise. ``slow``
    always processes the request normally after ``delay`` seconds of real time.
    """

    kind: FaultKind
    endpoint: FaultEndpoint = "any"
    times: int | None = 1
    status: int | None = None
    retry_after: float | None = 1
    delay: float = 5.0
    shape: Literal["a", "b"] | None = None
    message: str | None = None
    processed: bool = False
    match: Callable[[RecordedRequest], bool] | None = None
    fired: int = 0

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    @property
    def http_status(self) -> int:
        if self.status is not None:
            return self.status
        return _DEFAULT_STATUS.get(self.kind, 500)

    def matches(self, endpoint: str, record: RecordedRequest) -> bool:
        if self.exhausted:
            return False
        if self.endpoint != "any" and self.endpoint != endpoint:
            return False
        return self.match is None or bool(self.match(record))


class FaultBook:
    """The faults waiting to fire, in the order they were added."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(
        self,
        kind: FaultKind,
        *,
        endpoint: FaultEndpoint = "any",
        times: int | None = 1,
        status: int | None = None,
        retry_after: float | _Unset | None = UNSET,
        delay: float = 5.0,
        shape: Literal["a", "b"] | None = None,
        message: str | None = None,
        processed: bool | None = None,
        match: Callable[[RecordedRequest], bool] | None = None,
    ) -> Fault:
        """Add a fault. See ``Fault`` and the module docstring of ``tests.fakes.toapis``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {FAULT_KINDS}")
        if endpoint not in FAULT_ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; known: {FAULT_ENDPOINTS}")
        if kind == "status" and status is None:
            raise ValueError("a 'status' fault needs status=<HTTP status>")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for forever)")
        if kind == "error_shape_a":
            shape = "a"
        elif kind == "error_shape_b":
            shape = "b"
        if isinstance(retry_after, _Unset):
            retry_after = (
                None if kind == "rate_limit_no_header" else (1 if kind == "rate_limit" else None)
            )
        if processed is None:
            processed = kind in ("drop", "malformed_json")
        fault = Fault(
            kind=kind,
            endpoint=endpoint,
            times=times,
            status=status,
            retry_after=retry_after,
            delay=delay,
            shape=shape,
            message=message,
            processed=processed,
            match=match,
        )
        self._faults.append(fault)
        return fault

    def take(self, endpoint: str, record: RecordedRequest) -> Fault | None:
        """The first fault that matches this request, counted as fired."""
        for fault in self._faults:
            if fault.matches(endpoint, record):
                fault.fired += 1
                return fault
        return None

    def clear(self) -> None:
        self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        return [f for f in self._faults if not f.exhausted]

    @property
    def all(self) -> list[Fault]:
        return list(self._faults)

    def __len__(self) -> int:
        return len(self.pending)
