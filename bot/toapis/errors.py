"""Typed errors of the ToAPIs client, and the pure functions that map HTTP answers to them."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

__all__ = [
    "AuthenticationError",
    "InsufficientBalanceError",
    "InvalidRequestError",
    "NotFoundError",
    "RateLimitedError",
    "ResultTooLargeError",
    "SubmissionUncertainError",
    "ToAPIsError",
    "TransientError",
    "backoff_delay",
    "error_from_response",
    "message_from_body",
    "parse_retry_after",
]

# Longest server message kept on an error: bodies can be HTML pages from a proxy.
_MAX_MESSAGE = 300


class ToAPIsError(Exception):
    """Base of every error the ToAPIs client raises."""

    retryable: bool = False

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, message={self.message!r})"


class InvalidRequestError(ToAPIsError):
    """The service refused the request as invalid (400/422): do not retry, tell the member."""


class AuthenticationError(ToAPIsError):
    """The API key is missing or wrong (401): do not retry, alert the operator."""


class InsufficientBalanceError(ToAPIsError):
    """The account cannot pay or is forbidden (402/403): the service is unavailable for now."""


class NotFoundError(ToAPIsError):
    """The task or result is unknown or expired (404): final for that task."""


class RateLimitedError(ToAPIsError):
    """The service asked us to slow down (429); ``retry_after`` is in seconds when given."""

    retryable = True

    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = 429
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class TransientError(ToAPIsError):
    """A 5xx, a timeout or a connection failure: worth trying again later."""

    retryable = True


class SubmissionUncertainError(TransientError):
    """A generation was sent but its answer was lost: a task may exist and may be charged.

    Resubmitting blindly could charge twice, so callers must not retry it automatically.
    """

    retryable = False


class ResultTooLargeError(ToAPIsError):
    """A download was larger than the cap it was allowed."""


def message_from_body(
    body: bytes | str | Mapping[str, Any] | None,
) -> tuple[str | None, str | None]:
    """Return (message, code) from either error body shape the service uses."""
    data: Any = body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            data = json.loads(body)
        except ValueError:
            text = " ".join(body.split())
            return (text[:_MAX_MESSAGE] or None), None
    if not isinstance(data, Mapping):
        return None, None
    err = data.get("error")
    if isinstance(err, Mapping):
        message = err.get("message")
        code = err.get("code") or err.get("type")
        return _clip(message), (str(code) if code is not None else None)
    if isinstance(err, str) and err:
        return _clip(err), None
    message = data.get("message") or data.get("msg") or data.get("detail")
    code = data.get("code")
    return _clip(message), (str(code) if code is not None else None)


def _clip(value: object) -> str | None:
    if value is None or value == "":
        return None
    text = " ".join(str(value).split())
    return text[:_MAX_MESSAGE]


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Read a Retry-After header given as seconds or as an HTTP date; None when absent or bad."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        import time

        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(0.0, seconds)


_DEFAULT_MESSAGES = {
    400: "The image service refused the request as invalid.",
    401: "The image service refused the API key.",
    402: "The image service account has no balance left.",
    403: "The image service refused access for this account.",
    404: "The image service does not know this task or file (it may have expired).",
    422: "The image service refused the request as invalid.",
    429: "The image service is rate limiting us.",
}


def error_from_response(
    status: int, headers: Mapping[str, str], body: bytes | str | Mapping[str, Any] | None
) -> ToAPIsError:
    """Map an unsuccessful HTTP answer to the typed error it means."""
    message, code = message_from_body(body)
    if status >= 500:
        text = message or f"The image service had a server error (HTTP {status})."
        return TransientError(text, status=status, code=code)
    text = message or _DEFAULT_MESSAGES.get(status, f"The image service answered HTTP {status}.")
    if status in (400, 422):
        return InvalidRequestError(text, status=status, code=code)
    if status == 401:
        return AuthenticationError(text, status=status, code=code)
    if status in (402, 403):
        return InsufficientBalanceError(text, status=status, code=code)
    if status == 404:
        return NotFoundError(text, status=status, code=code)
    if status == 429:
        return RateLimitedError(text, retry_after=parse_retry_after(headers.get("Retry-After")))
    if status == 408:
        return TransientError(text, status=status, code=code)
    return InvalidRequestError(text, status=status, code=code)


def backoff_delay(
    attempt: int, *, base: float = 0.5, cap: float = 30.0, rand: random.Random | None = None
) -> float:
    """Return the "full jitter" delay before retry number ``attempt`` (1-based)."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    r = (rand or random).random()
    return ceiling * r
