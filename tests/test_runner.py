"""The runner: secrets never reach the logs."""

from __future__ import annotations

import logging

from bot.runner import RedactSecrets


def test_logs_never_show_secrets() -> None:
    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "POST /api/v10/webhooks/123/aW50ZXJhY3Rpb24abcdefghijklmnopqrstuvwxyz/messages with %s",
        ("sk-secret-key",),
        None,
    )
    assert RedactSecrets(["sk-secret-key"]).filter(record)
    text = record.getMessage()
    assert "sk-secret-key" not in text and "aW50ZXJhY3Rpb24abcdef" not in text
    assert "/webhooks/123/<redacted>" in text
