"""HTTP answers map to the typed errors the bot acts on."""

import random

import pytest

from bot.toapis.errors import (
    AuthenticationError,
    InsufficientBalanceError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    TransientError,
    backoff_delay,
    error_from_response,
    message_from_body,
    parse_retry_after,
)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, InvalidRequestError),
        (422, InvalidRequestError),
        (401, AuthenticationError),
        (402, InsufficientBalanceError),
        (403, InsufficientBalanceError),
        (404, NotFoundError),
        (429, RateLimitedError),
        (500, TransientError),
        (502, TransientError),
        (503, TransientError),
    ],
)
def test_status_maps_to_typed_error(status: int, kind: type) -> None:
    err = error_from_response(status, {}, b"")
    assert type(err) is kind
    assert err.status == status
    assert err.message  # a readable default even with an empty body


def test_message_read_from_openai_style_body() -> None:
    body = b'{"error": {"message": "size must be one of 1:1", "type": "invalid_request", "code": "bad_size"}}'
    err = error_from_response(400, {}, body)
    assert err.message == "size must be one of 1:1"
    assert err.code == "bad_size"


def test_message_read_from_success_false_body() -> None:
    err = error_from_response(400, {}, b'{"success": false, "message": "file too large"}')
    assert err.message == "file too large"


def test_non_json_body_is_clipped_and_flattened() -> None:
    message, _ = message_from_body(b"<html>\n<body>" + b"x" * 5000 + b"</body></html>")
    assert message is not None and len(message) <= 300 and "\n" not in message


def test_rate_limit_carries_retry_after() -> None:
    err = error_from_response(429, {"Retry-After": "7"}, b"{}")
    assert isinstance(err, RateLimitedError) and err.retry_after == 7.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3.0), ("0.5", 0.5), ("-2", 0.0), (None, None), ("soon", None), ("nan", None)],
)
def test_parse_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:10 GMT", now=1_767_225_600.0) == pytest.approx(
        10.0
    )


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(1)
    ceilings = [
        max(backoff_delay(a, base=1, cap=8, rand=rng) for _ in range(200)) for a in (1, 2, 3, 4, 6)
    ]
    assert ceilings[0] <= 1 and 1 < ceilings[1] <= 2 and 2 < ceilings[2] <= 4
    assert all(c <= 8 for c in ceilings)
