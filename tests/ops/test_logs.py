"""Log output: JSON lines for shippers, ids from the log context, secrets redacted in both."""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot import logcontext
from bot.config import load_settings
from bot.ops.logs import make_handler
from bot.runner import RedactSecrets

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.not-a-real-token-but-long-enough"
KEY = "sk-toapis-0123456789abcdef"


@pytest.fixture
def capture(request: pytest.FixtureRequest) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing through the real handler (format from the test's param) + redaction."""
    stream = io.StringIO()
    handler = make_handler(request.param, stream)
    handler.addFilter(RedactSecrets([TOKEN, KEY]))
    logger = logging.getLogger(f"tests.ops.logs.{request.param}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)


@pytest.mark.parametrize("capture", ["text", "json"], indirect=True)
def test_secrets_are_redacted_in_both_formats(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    logger.info("logging in with %s", TOKEN)
    logger.warning(f"key {KEY} refused")
    try:
        raise RuntimeError(f"Authorization: Bearer {KEY}")
    except RuntimeError:
        logger.exception("the call failed")
    logger.info(
        "webhook https://discord.com/api/v10/webhooks/123/aW50ZXJhY3Rpb246dG9rZW4xMjM0NTY3ODk"
    )
    out = stream.getvalue()
    assert TOKEN not in out and KEY not in out
    assert "aW50ZXJhY3Rpb246dG9rZW4xMjM0NTY3ODk" not in out
    assert out.count("<redacted>") >= 4
    assert "RuntimeError" in out  # the traceback is kept, cleaned


@pytest.mark.parametrize("capture", ["json"], indirect=True)
def test_json_lines_parse_and_carry_the_context_ids(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture

    async def handle_job() -> None:
        logcontext.bind(job_id=7, guild_id=1234567890123)
        logger.info("job %d submitted", 7)
        logcontext.bind(interaction_id=555)
        logger.error("job %d failed", 7)

    async def elsewhere() -> None:
        logger.info("nothing in particular")

    async def main() -> None:
        await asyncio.create_task(handle_job())
        await asyncio.create_task(elsewhere())  # another task: the ids do not leak into it

    contextvars.Context().run(asyncio.run, main())  # a fresh context: no ids from elsewhere
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 3
    first, second, third = lines
    assert first["message"] == "job 7 submitted" and first["level"] == "INFO"
    assert first["logger"] == "tests.ops.logs.json" and first["time"].endswith("+00:00")
    assert first["job_id"] == 7 and first["guild_id"] == 1234567890123
    assert "interaction_id" not in first
    assert second["level"] == "ERROR" and second["interaction_id"] == 555
    assert {"job_id", "guild_id", "interaction_id"}.isdisjoint(third)


@pytest.mark.parametrize("capture", ["text"], indirect=True)
def test_text_lines_keep_their_usual_shape(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture

    def log_about_job() -> None:
        logcontext.bind(job_id=3)
        logger.info("job %d delivered", 3)

    contextvars.Context().run(log_about_job)  # the binding stays inside that context
    assert stream.getvalue().rstrip().endswith("INFO tests.ops.logs.text: job 3 delivered")


def test_an_extra_given_by_the_caller_wins_over_the_context() -> None:
    stream = io.StringIO()
    handler = make_handler("json", stream)
    logger = logging.getLogger("tests.ops.logs.extra")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    def log_about_another() -> None:
        logcontext.bind(job_id=1)
        logger.info("about another job", extra={"job_id": 2})

    try:
        contextvars.Context().run(log_about_another)
    finally:
        logger.removeHandler(handler)
    assert json.loads(stream.getvalue())["job_id"] == 2


def test_unknown_context_fields_are_refused() -> None:
    with pytest.raises(ValueError):
        logcontext.bind(member_token=1)


def test_log_format_setting() -> None:
    base = {"discord_token": TOKEN, "toapis_api_key": KEY}
    assert load_settings(**base).log_format == "text"
    assert load_settings(**base, log_format="JSON").log_format == "json"
    from bot.config import ConfigError

    with pytest.raises(ConfigError) as info:
        load_settings(**base, log_format="xml")
    assert any(line.startswith("LOG_FORMAT=") for line in info.value.lines)
    with pytest.raises(ConfigError) as info:
        load_settings(**base, metrics_port="70000")
    assert any(line.startswith("METRICS_PORT=") for line in info.value.lines)
    assert load_settings(**base, metrics_port="").metrics_port is None
    assert load_settings(**base, metrics_port="9108").metrics_port == 9108
